"""`movie-rag eval` on the catalog the shipped baseline's gate profile is for: the course
movies.json plus the MovieLens ratings of its films, loaded into a throw-away embedded server
(never the user's catalog). What `make eval-course` runs; arguments pass through to `eval`.

    python -m eval.course_run [--update-baseline] [--only IDS] [--out DIR] ...
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from eval.build_expected import COURSE_MOVIES, MOVIELENS_DIR, load_course, movielens_subset

HASH_SEED = "0"
"""The eval runs with this PYTHONHASHSEED (here and in tests/test_eval_run.py): today's rule
reader orders some name candidates by set iteration, so a few answers differ between seeds."""


def main(argv: list[str] | None = None) -> int:
    from chatbot import cli
    from retrieval.database import embedded_server, make_engine
    from retrieval.embeddings import load_embedder
    from retrieval.ingest import ingest_movielens, ingest_movies
    from retrieval.schema import create_schema

    if os.environ.get("PYTHONHASHSEED") != HASH_SEED:  # the seed is read at start-up: run again with it
        env = {**os.environ, "PYTHONHASHSEED": HASH_SEED}
        args = sys.argv[1:] if argv is None else argv
        return subprocess.run([sys.executable, "-m", "eval.course_run", *args], env=env).returncode
    if not COURSE_MOVIES.is_file() or not (MOVIELENS_DIR / "ratings.csv").is_file():
        print(f"eval.course_run: needs {COURSE_MOVIES} and {MOVIELENS_DIR} (../shared/data beside the checkout).", file=sys.stderr)
        return cli.EXIT_BAD_INPUT
    with tempfile.TemporaryDirectory(prefix="movie-rag-eval-") as tmp, embedded_server() as url:
        engine = make_engine(url)
        try:
            embedder = load_embedder()
            create_schema(engine)
            ingest_movies(engine, COURSE_MOVIES, embedder)
            ingest_movielens(engine, movielens_subset(load_course(), Path(tmp) / "ml"), embedder)
        finally:
            engine.dispose()
        os.environ["DATABASE_URL"] = url  # settings read it; this process only
        return cli.main(["eval", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
