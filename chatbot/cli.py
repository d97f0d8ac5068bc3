"""`movie-rag` console script: a thin shell over retrieval and the chatbot API.

Each subcommand group lives in `chatbot/commands/<name>.py` with `register(subparsers)`; a
handler returns an exit code. Exit codes (DESIGN.md): 0 ok, 2 bad input / unknown or ambiguous
title / rejected SQL, 1 anything else.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
from collections.abc import Sequence
from typing import Any

EXIT_OK, EXIT_ERROR, EXIT_BAD_INPUT = 0, 1, 2

# Subcommand modules, in the order `--help` lists them.
COMMAND_MODULES = ("ingest", "search", "ask", "sql", "chat", "eval", "bench", "db", "profiles", "compare")


class UserError(Exception):
    """Something the user can fix; printed as one sentence on stderr, exit 2."""


def positive_int(raw: str) -> int:
    """argparse type for counts such as -k: a whole number of at least 1."""
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{raw!r} must be at least 1")
    return value


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, ensure_ascii=False, indent=2, default=str)
    sys.stdout.write("\n")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="movie-rag", description="A grounded chatbot over your movie catalog."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details to stderr")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"chatbot.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"chatbot.commands.{name}":
                raise
            continue  # a command group not written yet
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    from chatbot.settings import SettingsError
    from retrieval.database import DatabaseError

    try:
        return int(args.handler(args) or EXIT_OK)
    except (UserError, SettingsError) as exc:
        print(f"movie-rag: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except DatabaseError as exc:
        print(f"movie-rag: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("movie-rag: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
