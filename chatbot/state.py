"""The graph's state, persisted by the checkpointer once per turn.

Fields hold plain data plus three value types the checkpoint serializer is told about
(`checkpoint_serde`): `QueryPlan`, `Fallback` and `Overwrite` (the reset a new turn writes).
Per-question settings (k, metric, SQL mode, hybrid) are not state: they travel in `Deps`.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Annotated, Any

from langgraph.types import Overwrite

from chatbot.answer import Fallback, Route
from retrieval.plan import QueryPlan


def merge_timings(left: dict[str, float], right: dict[str, float]) -> dict[str, float]:
    """Reducer for `timings_ms`: each node adds its own entry (a new turn writes `Overwrite`)."""
    return {**left, **right}


@dataclass(kw_only=True)
class InputState:
    question: str
    """The user's words, unchanged."""


@dataclass(kw_only=True)
class State(InputState):
    # --- memory carried across turns of a thread -------------------------------------------
    last_ids: list[int] = field(default_factory=list)
    """Every row id the previous turn's plan returned (not only the cited ones): follow-ups
    apply their plan to these."""
    listed_ids: list[int] = field(default_factory=list)
    """The ids of the last answer that listed several films, in its order: "the third one" picks
    from these (they outlive a pick, so "and the fourth one?" still has the list)."""
    last_plan: QueryPlan | None = None
    """The previous answer's plan: a follow-up on a superlative ("and the worst?" after "the best
    film of 1994") applies to the set the superlative was taken from, not to its one row."""
    last_query: str = ""
    """The previous turn's search text (a follow-up's semantic phrase falls back to it)."""
    turns: int = 0
    """How many questions this thread has answered."""

    # --- this turn (reset by `understand`) ----------------------------------------------------
    route: Route | None = None
    """Which way the question went; derived from the plan (`chatbot.plans.route_of`)."""
    plan: QueryPlan | None = None
    """The question, read: intent, filters, sort, limit, fields, semantic phrase."""
    query: str = ""
    """Text to embed when the plan needs a vector (its semantic phrase, else the question)."""
    anchors: list[dict[str, Any]] = field(default_factory=list)
    """Catalog titles the question names: {id, title, year}."""
    llm_up: bool = False
    """An LLM answered the reachability probe at the start of this turn."""
    use_sql: bool = False
    """This turn drafts free-form SQL (intent aggregate, or SQL mode on a plan the compiler can't
    express), an LLM and the guard being available."""
    hits: list[dict[str, Any]] = field(default_factory=list)
    """Catalog rows the answer may cite (MovieHit.full() dicts, or SQL result rows)."""
    total: int | None = None
    """How many rows the plan matched in the whole catalog (may exceed len(hits) when capped)."""
    capped: bool = False
    """The plan's rows were cut at the row cap."""
    exact: bool = False
    """`hits` is an exact filtered set (not nearest neighbours): "N films match" may be said."""
    alternatives: list[dict[str, Any]] = field(default_factory=list)
    """Nothing met the plan's conditions (`hits` is empty): the nearest rows, offered as such."""
    sql_draft: str | None = None
    """The LLM's latest SQL draft."""
    sql_checked: str | None = None
    """The guard's rewrite of the draft (what would run, psycopg parameter syntax)."""
    sql_readable: str | None = None
    """The same rewrite as a person reads it (shown and reported as `sql`)."""
    sql_phrases: dict[str, str] = field(default_factory=dict)
    """Parameter name -> phrase to embed, from the guard."""
    sql_reason: str | None = None
    """Why the guard rejected the last draft."""
    sql_attempts: int = 0
    """Drafts made this turn (one repair allowed)."""
    sql_rejected: list[str] = field(default_factory=list)
    """Drafts refused this turn (a repair that repeats one ends the repair)."""
    sql: str | None = None
    """The guarded LLM SQL that actually ran."""
    plan_sql: str | None = None
    """The SQL the plan compiled to, as run."""
    sql_accepted: str | None = None
    """The draft, as the model wrote it, that the guard accepted and that ran."""
    answer: str = ""
    """The answer text (after citation checking)."""
    model: str | None = None
    """The model that wrote the answer; None for the extractive answer."""
    citations: list[dict[str, Any]] = field(default_factory=list)
    """{id, title, year} of the rows the answer used."""
    recorded: list[dict[str, Any]] = field(default_factory=list)
    """{id, title, year, stars} the message stated and that were stored as the person's ratings."""
    rated_before: bool = False
    """The person had stored ratings before this message."""

    # --- accumulated by several nodes (reducers; `understand` resets them with Overwrite) ------
    fallbacks: Annotated[list[Fallback], operator.add] = field(default_factory=list)
    """Models that failed this turn."""
    notes: Annotated[list[str], operator.add] = field(default_factory=list)
    """One-line notices for the user."""
    timings_ms: Annotated[dict[str, float], merge_timings] = field(default_factory=dict)
    """Node name -> milliseconds, this turn."""


ACCUMULATED = ("fallbacks", "notes", "timings_ms")

_TURN_DEFAULTS: dict[str, Any] = {
    "route": None, "plan": None, "query": "", "anchors": [], "llm_up": False, "use_sql": False,
    "hits": [], "total": None, "capped": False, "exact": False, "alternatives": [], "sql_draft": None,
    "sql_checked": None, "sql_readable": None, "sql_phrases": {}, "sql_reason": None,
    "sql_attempts": 0, "sql_rejected": [], "sql": None, "plan_sql": None, "sql_accepted": None, "answer": "", "model": None,
    "citations": [], "recorded": [], "rated_before": False,
}


def fresh_turn(**accumulated: Any) -> dict[str, Any]:
    """Per-turn fields at their starting values (`understand` returns these first).

    The accumulating fields are written as `Overwrite` so their reducers start the turn from
    the given values (default: empty) instead of adding to the previous turn's.
    """
    update: dict[str, Any] = {k: (v.copy() if isinstance(v, list | dict) else v) for k, v in _TURN_DEFAULTS.items()}
    for name in ACCUMULATED:
        start = accumulated.pop(name, {} if name == "timings_ms" else [])
        update[name] = Overwrite(start)
    if accumulated:
        raise TypeError(f"not an accumulated field: {', '.join(accumulated)}")
    return update


CHECKPOINT_TYPES: tuple[tuple[str, str], ...] = (
    ("chatbot.answer", "Fallback"),
    ("retrieval.plan", "QueryPlan"),
    ("langgraph.types", "Overwrite"),
)
"""(module, class) the checkpoint may hold besides plain data."""


def checkpoint_serde() -> Any:
    """LangGraph's serializer, allowed to revive exactly the state's own types."""
    from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

    return JsonPlusSerializer(allowed_msgpack_modules=list(CHECKPOINT_TYPES))
