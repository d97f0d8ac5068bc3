"""`movie-rag ingest movies PATH | movielens DIR | demo` — load a catalog into the database."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from chatbot.cli import EXIT_OK, UserError, print_json
from chatbot.settings import Settings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ingest", help="load movies (and MovieLens ratings) into the catalog")
    kinds = p.add_subparsers(dest="kind", required=True, metavar="KIND")
    movies = kinds.add_parser(
        "movies", help="a movies JSON file: the course movies.json, a plot list or the native format"
    )
    movies.add_argument("path", metavar="PATH", help="the JSON file")
    movielens = kinds.add_parser(
        "movielens", help="an ml-latest-small-style folder (movies.csv, links.csv, ratings.csv)"
    )
    movielens.add_argument("path", metavar="DIR", help="the MovieLens folder")
    demo = kinds.add_parser("demo", help="the small demo catalog shipped with movie-rag")
    for q in (movies, movielens, demo):
        q.add_argument("--json", action="store_true", help="print the ingest report as JSON only")
        q.add_argument("--profile", action="append", default=[], metavar="NAME",
                       help="also embed the catalog for this embedding profile afterwards (repeatable)")
        q.set_defaults(handler=run)


class _LazyEmbedder:
    """Loads the model on the first text to embed, so a re-ingest that embeds nothing (and a file
    rejected by validation) never pays for loading it."""

    def __init__(self, settings: Settings):
        self._settings = settings

    def _real(self):  # type: ignore[no-untyped-def]
        from chatbot import wiring

        return wiring.embedder(self._settings)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self._real().embed_documents(texts)  # type: ignore[no-any-return]

    def embed_query(self, text: str) -> list[float]:
        return self._real().embed_query(text)  # type: ignore[no-any-return]


def run(args: argparse.Namespace) -> int:
    from chatbot import wiring
    from retrieval.ingest import IngestError, ingest_demo, ingest_movielens, ingest_movies

    path = Path(args.path) if args.kind != "demo" else None
    if path is not None and not path.exists():
        what = "movies JSON file" if args.kind == "movies" else "MovieLens folder"
        raise UserError(f"{path} does not exist; give the path of a {what}.")
    settings = Settings.from_env()
    engine = wiring.engine(settings)
    embedder = _LazyEmbedder(settings)
    progress = sys.stderr.isatty()  # the bar goes to stderr, so --json output stays clean
    try:
        if args.kind == "movies":
            assert path is not None
            report = ingest_movies(engine, path, embedder, progress=progress)
        elif args.kind == "movielens":
            assert path is not None
            report = ingest_movielens(engine, path, embedder, progress=progress)
        else:
            report = ingest_demo(engine, embedder, progress=progress)
    except IngestError as exc:
        raise UserError(str(exc)) from None
    extra = _embed_profiles(engine, settings, args.profile, progress)
    if args.json:
        print_json({**report.to_json(), "profiles": extra} if extra else report.to_json())
        return EXIT_OK
    for warning in report.warnings:
        print(f"movie-rag: warning: {warning}", file=sys.stderr)
    if report.format == "movielens":
        print(f"ratings loaded: {report.ratings}")
    print(report.summary())
    for line in extra:
        print(f"profile {line['profile']}: {line['embedded']} embedded, {line['unchanged']} already current")
    return EXIT_OK


def _embed_profiles(engine, settings: Settings, names: list[str], progress: bool) -> list[dict]:  # type: ignore[no-untyped-def]
    """`--profile NAME`: embed the catalog for each named profile (the default is done by ingest)."""
    from retrieval.profiles import ProfileError, get_profile, load_profile_embedder
    from retrieval.profiles_store import embed_profile

    out = []
    for name in dict.fromkeys(names):
        try:
            profile = get_profile(name)
            if profile.default:
                continue
            embedder = load_profile_embedder(profile, settings.home)
        except ProfileError as exc:
            raise UserError(str(exc)) from None
        out.append(embed_profile(engine, profile, embedder, progress=progress).to_json())
    return out
