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
COMMAND_MODULES = ("ingest", "search", "ask", "sql", "chat", "eval", "bench", "db", "profiles", "compare", "recommend")


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


# Examples shown under each subcommand's --help (a command module's own epilog wins).
EXAMPLES: dict[str, tuple[str, ...]] = {
    "ingest": (
        "movie-rag ingest movies ../shared/data/course-movies/movies.json",
        "movie-rag ingest movielens ../shared/data/ml-latest-small",
        "movie-rag ingest demo --json",
    ),
    "similar": (
        'movie-rag similar "The Matrix"',
        'movie-rag similar "King Kong" --year 1933 -k 5',
        'movie-rag similar Alien --metric l2 --json',
    ),
    "search": (
        'movie-rag search "a giant shark terrorizes a beach town"',
        'movie-rag search "space opera" --mode dense -k 5',
        'movie-rag search heist --genre Crime --year-min 1990 --json',
    ),
    "ask": (
        'movie-rag ask "Who directed Pulp Fiction?"',
        'movie-rag ask "List every Steven Spielberg movie" --thread t1 && '
        'movie-rag ask "which of those came out in the 80s?" --thread t1',
        'movie-rag ask "comedies shorter than 90 minutes" --no-llm --json',
    ),
    "sql": (
        "movie-rag sql check \"SELECT id, title FROM movies WHERE year < 1950\"",
        "movie-rag sql run \"SELECT title, duration_min FROM movies ORDER BY duration_min DESC LIMIT 3\"",
        "movie-rag sql run \"SELECT id, title FROM movies ORDER BY embedding <=> embed('heist') LIMIT 5\" --json",
        "movie-rag sql examples --promote 3",
    ),
    "chat": ("movie-rag chat", "movie-rag chat --port 8001", "movie-rag chat --host 0.0.0.0 --port 8000"),
    "eval": (
        "movie-rag eval",
        "movie-rag eval --only fact,superlative --no-baseline --out /tmp/eval",
        "movie-rag eval --llm ollama --update-baseline",
    ),
    "bench": ("movie-rag bench", "movie-rag bench --section graph", "movie-rag bench --section catalog --json"),
    "db": ("movie-rag db start", "movie-rag db status --json", "movie-rag db stop"),
    "profiles": ("movie-rag profiles list", "movie-rag profiles install mpnet", "movie-rag profiles embed wordllama"),
    "compare": ('movie-rag compare "Toy Story"', 'movie-rag compare Up --profiles minilm,wordllama --json'),
    "recommend": (
        "movie-rag recommend --user 1",
        'movie-rag recommend --likes "The Matrix,Alien" -k 5',
        'movie-rag recommend --likes "Toy Story" --dislikes "Shrek" --json',
    ),
}


def _with_examples(name: str, p: argparse.ArgumentParser, summary: str | None) -> None:
    """Give a subcommand a description (its one-line help) and an examples epilog when its
    module set neither."""
    if not p.description and summary:
        p.description = summary[0].upper() + summary[1:] + "."
    if not p.epilog and name in EXAMPLES:
        p.epilog = "examples:\n" + "\n".join(f"  {e}" for e in EXAMPLES[name])
        p.formatter_class = argparse.RawDescriptionHelpFormatter


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="movie-rag", description="A grounded chatbot over your movie catalog.",
        epilog="Run 'movie-rag COMMAND --help' for a command's options and examples.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details to stderr")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        # No try/except: a command module that fails to import (a typo, a missing dependency)
        # must stop the CLI with its traceback, not make the subcommand silently vanish.
        importlib.import_module(f"chatbot.commands.{name}").register(sub)
    helps = {a.dest: a.help for a in sub._choices_actions}
    for name, p in sub.choices.items():
        _with_examples(name, p, helps.get(name))
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
