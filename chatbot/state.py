"""The graph's state. Persisted by the checkpointer, so every field holds plain JSON-able data."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any


@dataclass(kw_only=True)
class InputState:
    question: str
    """The user's words, unchanged."""
    options: dict[str, Any] = field(default_factory=dict)
    """Per-question overrides from the UI: k, metric, sql_mode, hybrid."""


@dataclass(kw_only=True)
class State(InputState):
    # --- memory carried across turns of a thread -------------------------------------------
    last_ids: list[int] = field(default_factory=list)
    """Row ids the previous answer cited; follow-ups filter and sort these."""
    last_query: str = ""
    """The previous turn's self-contained query (follow-ups build on it)."""
    turns: int = 0
    """How many questions this thread has answered."""

    # --- this turn ---------------------------------------------------------------------------
    route: str = ""
    """similar | semantic | structured | follow_up | recommendation | chitchat."""
    query: str = ""
    """Self-contained text to embed and search with."""
    anchors: list[dict[str, Any]] = field(default_factory=list)
    """Catalog titles the question names: {id, title, year}."""
    filters: dict[str, Any] = field(default_factory=dict)
    """SearchFilters fields extracted from the question."""
    sort: dict[str, Any] | None = None
    """{"key": column, "desc": bool} to order the rows by."""
    limit: int | None = None
    """Keep only this many rows after sorting (superlatives)."""
    count: bool = False
    """The question asks how many."""
    llm_up: bool = False
    """An LLM answered the reachability probe at the start of this turn."""
    use_sql: bool = False
    """This turn drafts SQL: a structured question, SQL mode on, an LLM and the guard available."""
    vector: list[float] | None = None
    """The query embedding."""
    hits: list[dict[str, Any]] = field(default_factory=list)
    """Catalog rows the answer may cite (MovieHit.full() dicts, or SQL result rows)."""
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
    sql: str | None = None
    """The SQL that actually ran."""
    answer: str = ""
    """The answer text (after citation checking)."""
    model: str | None = None
    """The model that wrote the answer; None for the extractive answer."""
    fallbacks: list[dict[str, str]] = field(default_factory=list)
    """Models that failed this turn: {model, reason}."""
    citations: list[dict[str, Any]] = field(default_factory=list)
    """{id, title, year} of the rows the answer used."""
    notes: list[str] = field(default_factory=list)
    """One-line notices for the user."""
    timings_ms: dict[str, float] = field(default_factory=dict)
    """Node name -> milliseconds, this turn."""


def fresh_turn() -> dict[str, Any]:
    """Per-turn fields at their starting values: `understand` returns these first."""
    return {name: copy.deepcopy(value) for name, value in _TURN_DEFAULTS.items()}


_TURN_DEFAULTS: dict[str, Any] = {
    "route": "", "query": "", "anchors": [], "filters": {}, "sort": None, "limit": None,
    "count": False, "llm_up": False, "use_sql": False, "vector": None, "hits": [], "sql_draft": None,
    "sql_checked": None, "sql_readable": None, "sql_phrases": {}, "sql_reason": None, "sql_attempts": 0, "sql": None,
    "answer": "", "model": None, "fallbacks": [], "citations": [], "notes": [], "timings_ms": {},
}
