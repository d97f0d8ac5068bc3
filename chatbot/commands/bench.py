"""`movie-rag bench [--out DIR]` — speed figures on a throw-away database (see eval/bench.py)."""

from __future__ import annotations

import argparse
from pathlib import Path

from chatbot.cli import EXIT_OK, positive_int, print_json
from eval.bench import OPTIONAL_SECTIONS, SECTIONS

SHARED_DATA = Path("..") / "shared" / "data"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="measure ingest and search speed (writes DIR/results.json)")
    p.add_argument("--out", type=Path, default=Path("bench"), help="output folder (default bench/)")
    p.add_argument("--section", action="append", choices=SECTIONS + OPTIONAL_SECTIONS,
                   help="run only this section (repeatable; `scale` runs only when named)")
    p.add_argument("--rows", type=positive_int, default=None,
                   help="section scale: catalog rows (default 100000; e.g. 1000000)")
    p.add_argument("--users", type=positive_int, default=None,
                   help="section recs: synthetic MovieLens-like users (default 100000)")
    p.add_argument("--json", action="store_true", help="print the results as JSON only")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from eval.bench import Figure, table
    from eval.bench import run as run_bench

    movies = SHARED_DATA / "course-movies" / "movies.json"
    movielens = SHARED_DATA / "ml-latest-small"
    result = run_bench(
        args.out,
        movies_path=movies if movies.is_file() else None,
        movielens_dir=movielens if (movielens / "movies.csv").is_file() else None,
        sections=tuple(args.section or SECTIONS), rows=args.rows, users=args.users,
    )
    if args.json:
        print_json(result)
        return EXIT_OK
    print(table([Figure(**f) for f in result["figures"]]))
    print(f"\nwritten to {args.out / 'results.json'} and {args.out / 'results.md'}")
    if "scale" in (args.section or ()):
        print(f"section scale: {args.out / 'scale.json'}, {args.out / 'scale.md'} and {args.out}/scale_*.png")
    return EXIT_OK
