"""`movie-rag similar TITLE` and `movie-rag search TEXT` — the catalog's nearest movies."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from chatbot.cli import EXIT_OK, UserError, positive_int, print_json
from retrieval.profiles import ProfileError
from retrieval.types import (
    METRICS,
    SEARCH_MODES,
    AmbiguousTitle,
    MovieHit,
    SearchFilters,
    UnknownTitle,
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("similar", help="movies nearest to a catalog title")
    p.add_argument("title", metavar="TITLE", help="a title in the catalog (case does not matter)")
    p.add_argument("--year", type=int, help="pick one of several films with this title")
    p.add_argument("--metric", choices=METRICS, default="cosine", help="distance (default cosine)")
    p.add_argument("-k", type=positive_int, default=10, help="how many (default 10)")
    p.add_argument("--json", action="store_true", help="print only a JSON list of {id, title, year, score, distance}")
    _profile_option(p)
    p.add_argument("--blend", action="store_true",
                   help="rank by the blend of content, genre overlap and co-liking (retrieval/profiles_blend.py)")
    p.set_defaults(handler=run_similar)

    p = sub.add_parser("search", help="movies matching free text or a pasted plot")
    p.add_argument("text", metavar="TEXT", help="words, a question or a whole plot")
    p.add_argument("--mode", choices=SEARCH_MODES, default="hybrid",
                   help="hybrid (default: meaning + words), dense (meaning) or keyword (words)")
    p.add_argument("-k", type=positive_int, default=10, help="how many (default 10)")
    p.add_argument("--year-min", type=int, help="released in or after this year")
    p.add_argument("--year-max", type=int, help="released in or before this year")
    p.add_argument("--genre", nargs="+", action="extend", default=[], metavar="G",
                   help="must have every listed genre")
    p.add_argument("--json", action="store_true", help="print only a JSON list of {id, title, year, score, distance}")
    _profile_option(p)
    p.set_defaults(handler=run_search)


def _profile_option(p: argparse.ArgumentParser) -> None:
    from retrieval.profiles import DEFAULT_PROFILE, PROFILES

    p.add_argument("--profile", choices=tuple(PROFILES), default=DEFAULT_PROFILE,
                   help=f"embedding profile whose vectors to compare (default {DEFAULT_PROFILE}; "
                        "see `movie-rag profiles list`)")


class _LazyEmbedder:
    """Loads the model on first use, so `similar` (pure SQL) never pays for it."""

    def __init__(self, settings: Any):
        self._settings = settings
        self._real: Any = None

    def _get(self) -> Any:
        if self._real is None:
            from chatbot import wiring

            self._real = wiring.embedder(self._settings)
        return self._real

    def embed_query(self, text: str) -> list[float]:
        return self._get().embed_query(text)  # type: ignore[no-any-return]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self._get().embed_documents(texts)  # type: ignore[no-any-return]


def _catalog() -> Any:
    from chatbot import wiring
    from chatbot.settings import Settings
    from retrieval.profiles import EmbedderCache
    from retrieval.search import PgCatalog

    settings = Settings.from_env()
    default = _LazyEmbedder(settings)
    return PgCatalog(wiring.read_router(settings).engine, default, embedders=EmbedderCache(settings.home, default))


def run_similar(args: argparse.Namespace) -> int:
    catalog = _catalog()
    try:
        if args.blend:
            from retrieval.profiles_blend import blended_similar

            anchor, _, _ = catalog.resolve(args.title, args.year)
            hits = blended_similar(catalog.engine, anchor, k=args.k)
        else:
            hits = catalog.similar(args.title, year=args.year, metric=args.metric, k=args.k,
                                   profile=_ready(catalog, args.profile))
    except AmbiguousTitle as exc:
        listed = "\n".join(f"  --year {y}  {t} ({y})" for _, t, y in exc.candidates)
        raise UserError(f"{exc}\n{listed}") from None
    except UnknownTitle as exc:
        raise UserError(str(exc)) from None
    _show(hits, args.json, empty="No other embedded movies in the catalog.")
    return EXIT_OK


def run_search(args: argparse.Namespace) -> int:
    if not args.text.strip():
        raise UserError("The search text is empty; give some words, a question or a plot.")
    if args.year_min is not None and args.year_max is not None and args.year_min > args.year_max:
        raise UserError(f"--year-min {args.year_min} is after --year-max {args.year_max}; swap them.")
    filters = SearchFilters(year_min=args.year_min, year_max=args.year_max, genres=tuple(args.genre))
    catalog = _catalog()
    try:
        hits = catalog.search(args.text, mode=args.mode, k=args.k, filters=filters,
                              profile=_ready(catalog, args.profile))
    except ProfileError as exc:
        raise UserError(str(exc)) from None
    _show(hits, args.json, empty="No movies match.")
    return EXIT_OK


def _ready(catalog: Any, name: str) -> str:
    """The profile name, once its vectors exist; a sentence saying how to make them otherwise."""
    from retrieval import profiles, profiles_store

    profile = profiles.get_profile(name)
    done, total = profiles_store.counts(catalog.engine, profile)
    if total and not done:
        raise UserError(f"No movie has {profile.name} vectors yet; run `movie-rag profiles embed {profile.name}`.")
    return profile.name


def _show(hits: Sequence[MovieHit], as_json: bool, *, empty: str) -> None:
    if as_json:
        print_json([h.brief() for h in hits])
        return
    if not hits:
        print(empty, file=sys.stderr)
        return
    print(format_table(hits))


def format_table(hits: Sequence[MovieHit]) -> str:
    """A small aligned table: rank, title, year, score, distance."""
    rows = [
        (str(i), h.title, str(h.year or ""), f"{h.score:.4f}",
         "" if h.distance is None else f"{h.distance:.4f}")
        for i, h in enumerate(hits, 1)
    ]
    header = ("#", "title", "year", "score", "distance")
    widths = [max(len(r[c]) for r in [header, *rows]) for c in range(len(header))]
    right = (True, False, True, True, True)

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) if r else c.ljust(w) for c, w, r in zip(cells, widths, right, strict=True)).rstrip()

    return "\n".join([line(header), *(line(r) for r in rows)])
