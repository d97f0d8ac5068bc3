"""What the conversation hands back: the `Answer` (DESIGN.md contract) and the stream events the
UI renders while the graph runs."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Route = Literal["similar", "semantic", "structured", "follow_up", "recommendation", "chitchat"]
ROUTES: tuple[Route, ...] = ("similar", "semantic", "structured", "follow_up", "recommendation", "chitchat")


@dataclass(frozen=True, kw_only=True)
class Citation:
    id: int
    title: str
    year: int | None


@dataclass(frozen=True, kw_only=True)
class Fallback:
    model: str
    """The model that failed."""
    reason: str
    """Why: timeout before first token, total budget exceeded, HTTP 5xx, unknown model, ..."""


@dataclass(kw_only=True)
class Answer:
    answer: str
    """The text shown to the user."""
    citations: list[Citation] = field(default_factory=list)
    """Exactly the rows the answer used."""
    route: Route = "semantic"
    sql: str | None = None
    """The model's SQL that was executed (after the guard), or None."""
    sql_draft: str | None = None
    """That SQL as the model drafted it, before the guard's rewrite (None when no draft ran)."""
    plan: dict[str, Any] | None = None
    """The query plan the question was read as (non-default fields), or None for chit-chat."""
    plan_sql: str | None = None
    """The SQL the plan compiled to and that ran, or None."""
    rows: list[dict[str, Any]] = field(default_factory=list)
    """The catalog rows behind the answer (id, title, year, director, genres, ...)."""
    alternatives: list[dict[str, Any]] = field(default_factory=list)
    """When nothing matched (`rows` empty): the nearest rows, offered in the text as not matching."""
    model: str | None = None
    """The model that answered; None for the extractive answer."""
    fallbacks: list[Fallback] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)
    """Graph node name -> milliseconds."""
    notes: list[str] = field(default_factory=list)
    """One-line notices shown with the answer (SQL fell back, no LLM reachable, flagged titles)."""
    thread_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


# --- stream events (chatbot.astream) -------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class StepEvent:
    """A graph node finished; `detail` is what it did, ready to show in a collapsible step."""

    node: str
    detail: dict[str, Any]
    elapsed_ms: float


@dataclass(frozen=True, kw_only=True)
class TokenEvent:
    """A piece of the answer text as the model (or the extractive writer) produces it."""

    text: str


@dataclass(frozen=True, kw_only=True)
class AnswerEvent:
    """The final, citation-checked answer; always the last event."""

    answer: Answer


StreamEvent = StepEvent | TokenEvent | AnswerEvent
