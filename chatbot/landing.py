"""What the chat's landing page says: the app's name, one line about the loaded catalog, and
starter questions built from titles that are really in it (so a starter never asks about a film
the catalog lacks). Facts are read once per process with one query; the text is pure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlalchemy import Engine, text

from chatbot.compare_view import starter as compare_starter
from retrieval.profiles import PROFILES

APP_NAME = "Marquee"
"""The chat app's own name (Chainlit's header, avatar, page title)."""

TAGLINE = "Ask your movie catalog: every title it names is a row you loaded."

SOURCE_NAMES = {"course": "course films", "plots": "plot summaries", "movielens": "MovieLens films", "demo": "demo films"}


@dataclass(frozen=True, kw_only=True)
class CatalogFacts:
    movies: int = 0
    sources: dict[str, int] = field(default_factory=dict)
    """Ingest source -> rows (course, plots, movielens, demo)."""
    rated: int = 0
    """Movies with an average rating (MovieLens ratings loaded)."""
    profiles: tuple[str, ...] = ()
    """Embedding profiles besides the default whose vectors are stored."""
    popular: str | None = None
    """A well-known title (most ratings, else the oldest with a summary) for the similar starter."""
    popular_year: int | None = None
    director: str | None = None
    """A director with several films in the catalog."""
    plot: str | None = None
    """A few words from a film's summary, for the plot-search starter."""


_FACTS = text("""
    SELECT
      (SELECT count(*) FROM movies) AS movies,
      (SELECT coalesce(jsonb_object_agg(source, n), '{}'::jsonb)
         FROM (SELECT source, count(*) AS n FROM movies GROUP BY source) s) AS sources,
      (SELECT count(*) FROM movies WHERE avg_rating IS NOT NULL) AS rated,
      (SELECT director FROM movies WHERE director IS NOT NULL AND director <> ''
         GROUP BY director HAVING count(*) >= 2 ORDER BY count(*) DESC, director LIMIT 1) AS director
""")
_POPULAR = text("""
    SELECT title, year, summary FROM movies
    WHERE summary IS NOT NULL AND length(summary) > 40
    ORDER BY num_ratings DESC NULLS LAST, year NULLS LAST, id LIMIT 2
""")
_PROFILE_TABLES = text("""
    SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = current_schema() AND c.relkind = 'r' AND c.relname LIKE 'profile\\_%' ORDER BY 1
""")

_PROFILE_OF_TABLE = {p.table: p.name for p in PROFILES.values()}


def catalog_facts(engine: Engine) -> CatalogFacts:
    """Read what the landing page states about the catalog (blocking)."""
    with engine.connect() as conn:
        row = conn.execute(_FACTS).one()
        popular = conn.execute(_POPULAR).all()
        tables = conn.execute(_PROFILE_TABLES).scalars()
        profiles = tuple(_PROFILE_OF_TABLE.get(t, t.removeprefix("profile_")) for t in tables)
    first = popular[0] if popular else None
    # the plot starter describes another film than the similar starter, when there is one
    plot_row = popular[1] if len(popular) > 1 else first
    return CatalogFacts(
        movies=int(row.movies), sources={str(k): int(v) for k, v in (row.sources or {}).items()},
        rated=int(row.rated), profiles=profiles, director=row.director,
        popular=first.title if first else None, popular_year=first.year if first else None,
        plot=plot_words(plot_row.summary) if plot_row else None,
    )


_DANGLING = frozenset(["a", "an", "the", "in", "of", "to", "and", "or", "as", "at", "on", "for", "with", "from", "by", "into", "his", "her", "their", "its", "between", "who", "that", "must", "is", "are"])


def plot_words(summary: str, words: int = 10) -> str | None:
    """The first clause of a summary, cut to a few words: a plausible description to search."""
    clause = re.split(r"(?<=[.;!?])\s|,\s|\s[-–—]\s", " ".join(summary.split()), maxsplit=1)[0]
    picked = clause.rstrip(".;!?").split()[:words]
    while picked and picked[-1].lower() in _DANGLING:  # never end on "... in the"
        picked.pop()
    return " ".join(picked) if len(picked) >= 3 else None


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


def description(facts: CatalogFacts) -> str:
    """One line: the catalog's size and what is loaded."""
    if not facts.movies:
        return "No movies are loaded yet: run `movie-rag ingest movies PATH`, then ask."
    loaded = [f"{n:,} {SOURCE_NAMES.get(s, s)}" for s, n in sorted(facts.sources.items(), key=lambda kv: -kv[1])]
    if facts.rated:
        loaded.append(f"MovieLens ratings for {_count(facts.rated, 'film')}")
    if facts.profiles:
        loaded.append("extra embedding profiles: " + ", ".join(facts.profiles))
    return f"{_count(facts.movies, 'film')} in your catalog ({'; '.join(loaded)}). {TAGLINE}"


FOLLOW_UP = "Which of those is the longest?"


def starters(facts: CatalogFacts) -> list[tuple[str, str]]:
    """(label, question) pairs; the label is the question itself, so people see what they send."""
    questions: list[str] = []
    if facts.popular:
        questions.append(f"Movies like {facts.popular}")
    if facts.plot:
        questions.append(facts.plot)
    if facts.director:
        questions.append(f"{facts.director} films")
        questions.append(FOLLOW_UP)
    if facts.profiles and facts.popular:
        questions.append(compare_starter(f"{facts.popular} ({facts.popular_year})" if facts.popular_year else facts.popular))
    return [(q, q) for q in questions]


def follow_up_seed(facts: CatalogFacts) -> str | None:
    """What the follow-up starter asks first when a chat has nothing to follow up on yet."""
    return f"{facts.director} films" if facts.director else None
