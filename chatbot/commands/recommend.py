"""`movie-rag recommend --user ID | --likes "Heat,Alien" [--dislikes ...] [--method ...] [-k N]`
— "users like you" over the MovieLens ratings, with a reason per film."""

from __future__ import annotations

import argparse
import re
import sys
from typing import Any

from chatbot.cli import EXIT_OK, UserError, positive_int, print_json
from retrieval.recommend import DEFAULT_METHOD, METHODS, MIN_SUPPORT


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "recommend", help="films for a MovieLens user or for films you name (users like you)",
        epilog='examples:\n  movie-rag recommend --user 414 -k 5\n'
               '  movie-rag recommend --likes "Heat,Alien" --dislikes "Titanic" --method blend --json',
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--user", type=int, metavar="ID", help="a MovieLens userId of the loaded ratings")
    who.add_argument("--likes", metavar="TITLES", help='comma list of catalog titles you liked ("Heat (1995),Alien")')
    p.add_argument("--dislikes", default="", metavar="TITLES", help="comma list of titles you disliked")
    p.add_argument("--method", choices=METHODS, default=DEFAULT_METHOD,
                   help="sparse: nearest users by rating vector (default); dense: by taste profile; "
                        "items: co-liked films; blend: all three fused; popular: most liked")
    p.add_argument("-k", type=positive_int, default=10, help="how many (default 10)")
    p.add_argument("--min-support", type=positive_int, default=MIN_SUPPORT, metavar="N",
                   help=f"sparse/dense: neighbours who must have rated a film (default {MIN_SUPPORT})")
    p.add_argument("--json", action="store_true", help="print only a JSON list of {id, title, year, score, reason}")
    p.set_defaults(handler=run)


_YEAR = re.compile(r"^(?P<title>.+?)\s*\((?P<year>\d{4})\)\s*$")


def _resolve(catalog: Any, titles: str) -> list[int]:
    from retrieval.types import AmbiguousTitle, UnknownTitle

    ids = []
    for raw in (t.strip() for t in titles.split(",")):
        if not raw:
            continue
        m = _YEAR.match(raw)
        title, year = (m["title"], int(m["year"])) if m else (raw, None)
        try:
            ids.append(catalog.resolve(title, year)[0])
        except AmbiguousTitle as exc:
            listed = "; ".join(f"{t} ({y})" for _, t, y in exc.candidates)
            raise UserError(f"{len(exc.candidates)} movies are titled {title!r}; write it with its year, "
                            f"as one of: {listed}.") from None
        except UnknownTitle as exc:
            raise UserError(str(exc)) from None
    return ids


def run(args: argparse.Namespace) -> int:
    from chatbot import wiring
    from chatbot.settings import Settings
    from retrieval.recommend import recommend_for
    from retrieval.search import PgCatalog
    from retrieval.users import taste_from_likes, taste_of_user

    engine = wiring.engine(Settings.from_env())
    if args.user is not None:
        with engine.connect() as conn:
            taste = taste_of_user(conn, args.user)
        if taste is None:
            raise UserError(f"User {args.user} has no ratings in the catalog; give a userId of the loaded "
                            "MovieLens ratings (movie-rag ingest movielens DIR loads them).")
    else:
        catalog = PgCatalog(engine, embedder=None)  # type: ignore[arg-type]  # titles only
        likes = _resolve(catalog, args.likes)
        dislikes = _resolve(catalog, args.dislikes)
        if not likes:
            raise UserError("--likes names no film; give at least one catalog title.")
        taste = taste_from_likes(likes, dislikes)
    with engine.connect() as conn:
        recs = recommend_for(conn, taste, method=args.method, k=args.k, min_support=args.min_support)
    if args.json:
        print_json([r.to_json() for r in recs])
        return EXIT_OK
    if not recs:
        print("No recommendation: no loaded ratings resemble these (movie-rag ingest movielens DIR).", file=sys.stderr)
        return EXIT_OK
    for i, r in enumerate(recs, 1):
        year = f" ({r.hit.year})" if r.hit.year else ""
        print(f"{i:>2}. {r.hit.title}{year}  score {r.hit.score:.3f} — {r.reason}")
    return EXIT_OK
