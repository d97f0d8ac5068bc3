"""`movie-rag compare TITLE` — embedding profiles side by side for one title (the course's view)."""

from __future__ import annotations

import argparse
from pathlib import Path

from chatbot.cli import EXIT_OK, UserError, positive_int, print_json
from chatbot.settings import Settings
from retrieval.types import METRICS


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "compare", help="most / median / least similar film per embedding profile and metric, with charts",
        epilog="examples:\n  movie-rag compare \"The Incredibles\"\n"
               "  movie-rag compare \"Toy Story\" --profiles minilm,wordllama --metrics cosine,hamming\n"
               "  movie-rag compare Up --out compare/up --json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("title", metavar="TITLE")
    p.add_argument("--year", type=int, help="pick one of several films with this title")
    p.add_argument("--profiles", default="", metavar="A,B",
                   help="comma list (default: every profile whose vectors are stored)")
    p.add_argument("--metrics", default="cosine,l2,inner,hamming,jaccard", metavar="M,N",
                   help=f"comma list of {', '.join(METRICS)} (default: all but l1)")
    p.add_argument("-k", type=positive_int, default=10, help="top matches per profile (default 10)")
    p.add_argument("--out", type=Path, default=Path("compare"), metavar="DIR",
                   help="where compare.json, compare.md and the PNGs go (default compare/)")
    p.add_argument("--json", action="store_true", help="print {profile: {metric: {most, median, least, top}}} only")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from chatbot import wiring
    from retrieval import profiles, profiles_store
    from retrieval.profiles_compare import compare, markdown, public, write_report
    from retrieval.search import PgCatalog
    from retrieval.types import AmbiguousTitle, UnknownTitle

    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()]
    if bad := [m for m in metrics if m not in METRICS]:
        raise UserError(f"Unknown metric {bad[0]!r}; use a comma list of {', '.join(METRICS)}.")
    settings = Settings.from_env()
    engine = wiring.engine(settings)
    names = [n.strip() for n in args.profiles.split(",") if n.strip()]
    try:
        chosen = [profiles.get_profile(n) for n in names]
    except profiles.ProfileError as exc:
        raise UserError(str(exc)) from None
    if not chosen:
        chosen = [p for p in profiles.PROFILES.values() if profiles_store.counts(engine, p)[0]]
    for p in chosen:
        if not profiles_store.counts(engine, p)[0]:
            raise UserError(f"No movie has {p.name} vectors yet; run `movie-rag profiles embed {p.name}`.")
    catalog = PgCatalog(engine, embedder=None)  # type: ignore[arg-type]  # pure SQL: no model
    try:
        anchor, title, year = catalog.resolve(args.title, args.year)
    except (AmbiguousTitle, UnknownTitle) as exc:
        raise UserError(str(exc)) from None
    label = f"{title} ({year})" if year else title
    result = compare(engine, anchor, chosen, metrics, k=args.k)  # type: ignore[arg-type]
    paths = write_report(label, result, args.out)
    if args.json:
        print_json(public(result))
        return EXIT_OK
    print(markdown(label, result))
    print("wrote " + ", ".join(str(p) for p in paths))
    return EXIT_OK
