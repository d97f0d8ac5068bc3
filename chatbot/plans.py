"""Pure functions over query plans for the graph: which route a plan takes, whether it needs a
query vector, checking an LLM's plan against the catalog's vocabulary, and plans in words."""

from __future__ import annotations

from typing import Any

from chatbot.answer import Route
from chatbot.understand.reader import MEDIUM
from retrieval.compile import SEMANTIC_POOL
from retrieval.plan import Filters, Names, QueryPlan, Range, Vocabulary
from retrieval.text import fold as fold_accents

LOW_CONFIDENCE = 0.5
"""Below this the rules' reading is unsure and a reachable LLM may fill the plan instead."""

EXACT_INTENTS = frozenset({"list", "count", "superlative", "fact"})
"""Intents whose rows are an exact filtered set (not nearest neighbours)."""

YEARS = Range(min=1870, max=2100)
MINUTES = Range(min=1, max=1000)

SORT_WORDS = {
    "duration_min": "running time", "year": "year", "avg_rating": "average rating",
    "num_ratings": "number of ratings", "title": "title",
}
"""A sort key in words ("by running time"), for answers and notes."""


def route_of(plan: QueryPlan, *, has_previous: bool) -> Route:
    """The route a plan takes (the Answer's `route`, what the eval and the UI report)."""
    if plan.intent == "chitchat":
        return "chitchat"
    if plan.scope == "previous" and has_previous:
        return "follow_up"
    if plan.intent == "similar" and plan.anchors:
        return "similar"
    if plan.intent == "recommend":
        return "recommendation"
    if plan.intent == "search":
        return "semantic"
    return "structured"


def needs_vector(plan: QueryPlan) -> bool:
    """A query embedding is needed only to rank by a phrase (plot search, semantic re-rank)."""
    return plan.semantic is not None or plan.intent == "search"


def is_exact(plan: QueryPlan) -> bool:
    """The plan's rows are every row meeting its conditions (so "N films match" is true)."""
    return plan.intent in EXACT_INTENTS or (plan.intent == "aggregate" and not needs_vector(plan))


def pooled_scope(plan: QueryPlan | None, exact: bool) -> str | None:
    """Where a superlative over a phrase alone was taken from ("the longest film about space":
    `among the 25 films closest to 'space'`, retrieval/compile.py's SEMANTIC_POOL), else None."""
    if plan is None or exact or plan.intent != "superlative" or plan.sort is None or not plan.semantic:
        return None
    return f"among the {SEMANTIC_POOL} films closest to {plan.semantic!r}"


def is_vague(plan: QueryPlan) -> bool:
    """The rules read nothing usable, or are unsure: worth asking a reachable LLM. A plot search
    the rules read with confidence ("movies about a heist gone wrong") is not."""
    return plan.confidence < LOW_CONFIDENCE or (
        plan.intent == "search" and plan.filters.is_empty() and not plan.sort and plan.confidence <= MEDIUM
    )


MIN_RATINGS = 10
"""A rating superlative ("the best rated", "the worst comedy") counts films rated by at least this
many users unless the question sets its own bound: an average of one 5-star rating is not "the
best rated" (MovieLens has hundreds of those)."""


def rated_enough(plan: QueryPlan) -> QueryPlan | None:
    """`plan` with the MIN_RATINGS bound, when it picks the top by average rating (a film, or a
    group by its films' average) and names no bound on the number of ratings; else None."""
    group = plan.group
    ranks_groups = group is not None and (
        (group.field == "avg_rating" and group.top is not None) or (group.pick is not None and group.pick.key == "avg_rating"))
    by_rating = plan.intent in ("superlative", "recommend") and plan.sort is not None and plan.sort.key == "avg_rating"
    if not (ranks_groups or by_rating):
        return None
    if not plan.filters.num_ratings.is_empty():
        return None
    bounded = plan.filters.model_copy(update={"num_ratings": Range(min=MIN_RATINGS)})
    return plan.model_copy(update={"filters": bounded})


def widened(plan: QueryPlan, previous: QueryPlan | None) -> QueryPlan:
    """A follow-up on a superlative answer ("and the worst?" after "the best film of 1994", "how
    many are there?" after "the longest western") asks about the set the superlative was taken
    from: the previous conditions with this question's added, over the catalog, not the one row
    the previous answer kept."""
    if plan.scope != "previous" or previous is None or previous.intent != "superlative" or previous.scope != "catalog":
        return plan
    if plan.intent not in ("superlative", "count", "list") or plan.position is not None:
        return plan
    mine = {name: getattr(plan.filters, name) for name in Filters.model_fields if name != "exclude_ids"}
    kept = {name: value for name, value in mine.items() if value not in (None, (), Range(), Names())}
    base = previous.filters
    if base.num_ratings == Range(min=MIN_RATINGS):  # the default bound of a rating superlative, not asked
        base = base.model_copy(update={"num_ratings": Range()})
    return plan.model_copy(update={"scope": "catalog", "filters": base.model_copy(update=kept)})


# --- checking an LLM's plan ---------------------------------------------------------------------


def fold(text: str) -> str:
    """Case- and accent-insensitive key for matching a word with the catalog's spelling."""
    return " ".join(fold_accents(text).split())


def _index(*vocabs: frozenset[str]) -> dict[str, str]:
    return {fold(v): v for vocab in vocabs for v in vocab}


def _names(names: Names, index: dict[str, str], label: str, dropped: list[str]) -> Names:
    def keep(values: tuple[str, ...]) -> tuple[str, ...]:
        out = []
        for v in values:
            canonical = index.get(fold(v))
            if canonical is None:
                dropped.append(f"{label} {v!r} (not in your catalog)")
            elif canonical not in out:
                out.append(canonical)
        return tuple(out)

    return Names(all_of=keep(names.all_of), any_of=keep(names.any_of), none_of=keep(names.none_of))


def _range(r: Range, bounds: Range, label: str, dropped: list[str]) -> Range:
    def ok(v: float | None) -> bool:
        return v is None or (bounds.min or 0) <= v <= (bounds.max or v)

    if ok(r.min) and ok(r.max):
        return r
    dropped.append(f"{label} {r.min}–{r.max} (implausible)")
    return Range()


def checked_filters(f: Filters, vocab: Vocabulary, dropped: list[str]) -> Filters:
    """`f` with every value checked against the catalog; what was dropped is added to `dropped`."""
    people = _index(vocab.directors, vocab.actors, vocab.writers)
    return Filters(
        title=f.title,
        year=_range(f.year, YEARS, "years", dropped),
        duration_min=_range(f.duration_min, MINUTES, "running time", dropped),
        avg_rating=_range(f.avg_rating, Range(min=0, max=5), "rating", dropped),
        num_ratings=_range(f.num_ratings, Range(min=0, max=10**9), "number of ratings", dropped),
        genres=_names(f.genres, _index(vocab.genres), "genre", dropped),
        directors=_names(f.directors, _index(vocab.directors), "director", dropped),
        actors=_names(f.actors, _index(vocab.actors), "actor", dropped),
        writers=_names(f.writers, _index(vocab.writers), "writer", dropped),
        people=_names(f.people, people, "person", dropped),
        countries=_names(f.countries, _index(vocab.countries), "country", dropped),
        languages=_names(f.languages, _index(vocab.languages), "language", dropped),
        either=tuple(checked_filters(g, vocab, dropped) for g in f.either),
    )


def checked_plan(llm: QueryPlan, rules: QueryPlan, vocab: Vocabulary) -> QueryPlan:
    """An LLM's plan made safe to run: every value checked against the catalog vocabulary,
    anchors and excluded ids taken from the rules (the model never sees ids), scope kept from the
    rules (they know whether there is a previous turn). Values it named that the catalog lacks
    become `unapplied`, so the answer says so instead of silently widening the set."""
    dropped: list[str] = []
    filters = checked_filters(llm.filters, vocab, dropped).model_copy(update={"exclude_ids": rules.filters.exclude_ids})
    intent = llm.intent
    if intent in ("similar", "fact") and not rules.anchors:
        intent = rules.intent  # a title only the rules can resolve to a catalog row
    return llm.model_copy(update={
        "intent": intent, "filters": filters, "anchors": rules.anchors, "scope": rules.scope,
        "unapplied": tuple(dict.fromkeys((*llm.unapplied, *dropped))),
    })


# --- plans in words -----------------------------------------------------------------------------


def _span(r: Range, unit: str = "") -> str | None:
    def n(v: float) -> str:
        return f"{v:g}{unit}"

    if r.min is not None and r.max is not None:
        return n(r.min) if r.min == r.max else f"{n(r.min)}–{n(r.max)}"
    if r.min is not None:
        return f"above {n(r.min)}" if r.min_open else f"{n(r.min)} or more"
    if r.max is not None:
        return f"below {n(r.max)}" if r.max_open else f"up to {n(r.max)}"
    return None


def _years(r: Range) -> str | None:
    """"from 1990–1999", "from 2010 on", "up to 1979", "after 2000", "before 1950"."""
    if r.min is not None and r.max is not None:
        return f"from {_span(r)}"
    if r.min is not None:
        return f"after {r.min:g}" if r.min_open else f"from {r.min:g} on"
    if r.max is not None:
        return f"before {r.max:g}" if r.max_open else f"up to {r.max:g}"
    return None


def _joined(names: Names, *, verb: str) -> list[str]:
    out = []
    if names.all_of:
        out.append(f"{verb} " + " and ".join(names.all_of))
    if names.any_of:
        out.append(f"{verb} " + " or ".join(names.any_of))
    if names.none_of:
        out.append(f"not {verb} " + " or ".join(names.none_of))
    return out


def conditions(f: Filters) -> list[str]:
    """The filters as short phrases ("directed by Greta Gerwig", "from 1990–1999")."""
    out: list[str] = []
    if f.title:
        out.append(f"titled like {f.title!r}")
    for names, verb in (
        (f.directors, "directed by"), (f.actors, "starring"), (f.writers, "written by"),
        (f.people, "with"), (f.genres, "genre"), (f.countries, "from"), (f.languages, "in"),
    ):
        out += _joined(names, verb=verb)
    if years := _years(f.year):
        out.append(years)
    for r, label, unit in (
        (f.duration_min, "running", " min"), (f.avg_rating, "rated", "/5"), (f.num_ratings, "with ratings from", " users"),
    ):
        span = _span(r, unit)
        if span:
            out.append(f"{label} {span}")
    if f.either:
        out.append("either " + " or ".join("(" + ", ".join(conditions(g)) + ")" for g in f.either))
    return out


def step_filters(plan: QueryPlan) -> dict[str, Any]:
    """The plan's main filters in the shape the UI's step view shows."""
    f = plan.filters
    out: dict[str, Any] = {}
    if f.year.min is not None:
        out["year_min"] = int(f.year.min)
    if f.year.max is not None:
        out["year_max"] = int(f.year.max)
    genres = [*f.genres.all_of, *f.genres.any_of]
    if genres:
        out["genres"] = genres
    directors = [*f.directors.all_of, *f.directors.any_of]
    if directors:
        out["director"] = ", ".join(directors)
    actors = [*f.actors.all_of, *f.actors.any_of, *f.people.all_of, *f.people.any_of]
    if actors:
        out["actors"] = actors
    return out


def plan_detail(plan: QueryPlan | None) -> dict[str, Any]:
    """The plan for the UI's understand step: the legacy filter view plus the full plan."""
    if plan is None:
        return {}
    detail: dict[str, Any] = {"filters": step_filters(plan), "plan": plan.model_dump(mode="json", exclude_defaults=True)}
    if plan.sort:
        detail["sort"] = {"key": plan.sort.key, "desc": plan.sort.desc}
    if plan.limit:
        detail["limit"] = plan.limit
    return detail
