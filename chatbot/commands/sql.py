"""`movie-rag sql check SQL` and `movie-rag sql run SQL` — the guard LLM-drafted SQL goes through."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from chatbot.cli import EXIT_BAD_INPUT, EXIT_OK, UserError, positive_int, print_json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sql", help="check or run SQL as the chatbot's guarded read-only path does")
    actions = p.add_subparsers(dest="sql_action", required=True, metavar="ACTION")

    c = actions.add_parser("check", help="print the SQL that would run (and its phrases), or why not")
    c.add_argument("sql", metavar="SQL", help="one SELECT over movies; write embed('phrase') for a query vector")
    c.add_argument("--json", action="store_true", help="print only {sql, phrases}")
    c.set_defaults(handler=run_check)

    r = actions.add_parser("run", help="check, embed the phrases, run read-only and print the rows")
    r.add_argument("sql", metavar="SQL", help="one SELECT over movies; write embed('phrase') for a query vector")
    r.add_argument("--json", action="store_true", help="print only a JSON list of row objects")
    r.add_argument("-k", "--limit", type=positive_int, default=None,
                   help="row cap (default MOVIE_RAG_SQL_ROW_CAP, and never above it)")
    r.set_defaults(handler=run_run)

    e = actions.add_parser(
        "examples", help="list the verified SQL examples thumbs-ups kept (per person), or promote one to everyone"
    )
    which = e.add_mutually_exclusive_group()
    which.add_argument("--promote", type=positive_int, metavar="ID", help="show example ID in every person's prompt")
    which.add_argument("--unpromote", type=positive_int, metavar="ID", help="show example ID to its owner only again")
    e.add_argument("--json", action="store_true", help="print only a JSON list of examples")
    e.set_defaults(handler=run_examples)


def _check(sql: str, row_cap: int) -> Any:
    from retrieval.sqlguard import UnsafeSQL, check_sql

    try:
        return check_sql(sql, row_cap=row_cap)
    except UnsafeSQL as exc:
        raise UserError(f"rejected SQL: {exc}") from None


def run_check(args: argparse.Namespace) -> int:
    from chatbot.settings import Settings

    settings = Settings.from_env()
    guarded = _check(args.sql, settings.sql_row_cap)
    if args.json:
        print_json({"sql": guarded.readable, "phrases": guarded.phrases})
        return EXIT_OK
    print(guarded.readable)
    for name, phrase in guarded.phrases.items():
        print(f"-- {name} = embed({phrase!r})")
    return EXIT_OK


def run_run(args: argparse.Namespace) -> int:
    from chatbot import wiring
    from chatbot.settings import Settings
    from retrieval.sqlguard import SQLRunError, run_readonly, vector_literal

    settings = Settings.from_env()
    cap = min(args.limit or settings.sql_row_cap, settings.sql_row_cap)
    guarded = _check(args.sql, cap)
    url = wiring.database_url(settings)
    wiring.engine(settings)  # creates the schema, the llm view and the reader role once
    params: dict[str, str] = {}
    if guarded.phrases:
        embedder = wiring.embedder(settings)
        params = {name: vector_literal(embedder.embed_query(p)) for name, p in guarded.phrases.items()}
    try:
        rows = run_readonly(
            guarded.sql, params, db=url, timeout_ms=settings.sql_timeout_ms, row_cap=cap,
            reader_url=settings.sql_reader_url,
        )
    except SQLRunError as exc:
        print(f"movie-rag: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.json:
        print_json(rows)
    else:
        print(format_table(rows))
    return EXIT_OK


def run_examples(args: argparse.Namespace) -> int:
    """An admin's view of the shared few-shot channel: what each person's thumbs-up kept, and
    which examples (promoted) every person's drafting prompt shows."""
    from chatbot import examples, wiring
    from chatbot.settings import Settings

    engine = wiring.engine(Settings.from_env())
    examples.ensure_examples_schema(engine)
    example_id = args.promote or args.unpromote
    if example_id is not None:
        if not examples.promote(engine, example_id, promoted=args.promote is not None):
            raise UserError(f"there is no verified example {example_id}; run 'movie-rag sql examples' to list them")
        print(f"example {example_id} {'promoted: every person' if args.promote else 'unpromoted: its owner only'} sees it")
        return EXIT_OK
    rows = examples.list_examples(engine)
    if args.json:
        print_json(rows)
    else:
        print(format_table([{k: r[k] for k in ("id", "owner", "promoted", "question", "sql")} for r in rows]))
    return EXIT_OK


def _cell(value: Any, width: int = 60) -> str:
    if value is None:
        text = ""
    elif isinstance(value, (list, tuple)):
        text = ", ".join(str(v) for v in value)
    elif isinstance(value, float):
        text = f"{value:.4g}"
    else:
        text = str(value)
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def format_table(rows: Sequence[dict]) -> str:
    """Rows as an aligned text table with a row count."""
    if not rows:
        return "(no rows)"
    names = list(rows[0])
    cells = [[_cell(r.get(n)) for n in names] for r in rows]
    widths = [max(len(n), *(len(c[i]) for c in cells)) for i, n in enumerate(names)]
    lines = ["  ".join(n.ljust(w) for n, w in zip(names, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    lines.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(lines)
