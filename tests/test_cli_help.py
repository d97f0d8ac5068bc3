"""`movie-rag --help` and each subcommand's: a description and examples that really parse; a
command module that fails to import stops the CLI loudly instead of vanishing from it."""

from __future__ import annotations

import argparse
import shlex
import sys
import types

import pytest

from chatbot import cli


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_every_subcommand_has_a_description_and_examples_that_parse() -> None:
    parser = cli.build_parser()
    subs = _subcommands(parser)
    assert set(subs) >= {"ingest", "similar", "search", "ask", "sql", "chat", "eval", "bench", "db"}
    top = parser.format_help()
    for name in subs:
        assert f"    {name} " in top, f"{name} is listed with its one line at the top level"
        p = subs[name]
        assert p.description, name
        epilog = p.epilog or ""
        examples = [ln.strip() for ln in epilog.splitlines() if ln.strip().startswith("movie-rag ")]
        assert len(examples) >= 2, f"{name}: --help shows at least two examples"
        assert "examples:" in p.format_help()
        for example in examples:
            for command in example.split(" && "):
                argv = shlex.split(command)[1:]
                assert argv[0] == name, example
                args = parser.parse_args(argv)  # SystemExit here means the example is wrong
                assert callable(args.handler), example


def test_a_missing_command_module_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "COMMAND_MODULES", (*cli.COMMAND_MODULES, "no_such_command"))
    with pytest.raises(ModuleNotFoundError, match="chatbot.commands.no_such_command"):
        cli.build_parser()


def test_a_broken_command_module_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    broken = types.ModuleType("chatbot.commands.broken")

    def register(sub: argparse._SubParsersAction) -> None:
        raise NameError("name 'add_parsr' is not defined")

    broken.register = register  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "chatbot.commands.broken", broken)
    monkeypatch.setattr(cli, "COMMAND_MODULES", ("eval", "broken"))
    with pytest.raises(NameError, match="add_parsr"):
        cli.build_parser()
