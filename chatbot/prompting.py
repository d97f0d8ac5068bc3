"""What the graph sends to a model and how it reads the replies: message assembly, the JSON
schemas (from pydantic models) and the one parser of JSON out of a model's text."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.utils.json import parse_json_markdown
from pydantic import BaseModel, ConfigDict, ValidationError

from chatbot.fields import cut_row
from chatbot.plans import pooled_scope
from prompts.answer import ANSWER_SYSTEM, ANSWER_USER, CHITCHAT_SYSTEM
from prompts.plan import PLAN_SYSTEM
from prompts.sql import SQL_EXAMPLES, SQL_REPAIR, SQL_SYSTEM
from retrieval.plan import QueryPlan, Vocabulary

if TYPE_CHECKING:
    from chatbot.state import State

PROMPT_FIELDS = (
    "id", "title", "year", "director", "genres", "actors", "duration_min", "country", "language",
    "avg_rating", "num_ratings", "summary",
)
"""Row fields the answer prompt shows the model (never the embedding)."""

PROMPT_ROWS = 60
"""The most rows shown to the model; a longer set is listed by count (the extractive text
covers sets beyond it)."""


# --- the one JSON parser ---------------------------------------------------------------------


def parse_json_object(text: str) -> dict[str, Any]:
    """The JSON object in a model's reply, tolerating ``` fences and prose around it.

    Raises ValueError when there is none.
    """
    body = text.strip()
    try:
        value = parse_json_markdown(body)
    except (ValueError, TypeError):
        value = None
    if not isinstance(value, dict):
        start = body.find("{")
        if start < 0:
            raise ValueError("invalid JSON")
        try:
            value, _ = json.JSONDecoder().raw_decode(body[start:])
        except ValueError:
            raise ValueError("invalid JSON") from None
    if not isinstance(value, dict):
        raise ValueError("invalid JSON")
    return value


def reply_data(text: str, data: dict[str, Any] | None) -> dict[str, Any] | None:
    """The reply's JSON object (the cascade's parse when it made one), or None."""
    if data is not None:
        return data
    try:
        return parse_json_object(text)
    except ValueError:
        return None


# --- SQL drafting -------------------------------------------------------------------------------


class SqlDraft(BaseModel):
    """The drafting reply: one SELECT."""

    model_config = ConfigDict(extra="ignore")
    sql: str


SQL_SCHEMA: dict[str, Any] = SqlDraft.model_json_schema()


def sql_messages(state: State, row_cap: int, examples: Sequence[tuple[str, str]] = ()) -> list[BaseMessage]:
    messages: list[BaseMessage] = [SystemMessage(SQL_SYSTEM.format(row_cap=row_cap))]
    for question, sql in (*SQL_EXAMPLES, *examples):
        messages += [HumanMessage(question), AIMessage(json.dumps({"sql": sql}))]
    messages.append(HumanMessage(state.question))
    if state.sql_reason and state.sql_draft:
        messages += [
            AIMessage(json.dumps({"sql": state.sql_draft})),
            HumanMessage(SQL_REPAIR.format(reason=state.sql_reason, sql=state.sql_draft)),
        ]
    return messages


def extract_sql(text: str, data: dict[str, Any] | None) -> str | None:
    """The SQL of a drafting reply: its JSON checked against `SqlDraft`, else a bare SELECT."""
    parsed = reply_data(text, data)
    if parsed is not None:
        try:
            return SqlDraft.model_validate(parsed).sql.strip() or None
        except ValidationError:
            pass
    body = re.sub(r"^```(?:json|sql)?\s*|\s*```$", "", text.strip(), flags=re.I)
    m = re.search(r"\bselect\b.*", body, re.I | re.S)
    return m.group(0).strip() if m else None


# --- plan filling -------------------------------------------------------------------------------

PLAN_SCHEMA: dict[str, Any] = QueryPlan.model_json_schema()


def plan_messages(question: str, vocab: Vocabulary) -> list[BaseMessage]:
    def listed(values: frozenset[str]) -> str:
        return ", ".join(sorted(values)) or "(none)"

    system = PLAN_SYSTEM.format(
        genres=listed(vocab.genres), countries=listed(vocab.countries), languages=listed(vocab.languages)
    )
    return [SystemMessage(system), HumanMessage(question)]


def parse_plan(text: str, data: dict[str, Any] | None) -> QueryPlan | None:
    """The model's plan, checked by `QueryPlan.model_validate`; None when it is not one."""
    parsed = reply_data(text, data)
    if parsed is None:
        return None
    try:
        return QueryPlan.model_validate(parsed)
    except ValidationError:
        return None


# --- the answer ---------------------------------------------------------------------------------


def rows_block(rows: Sequence[dict[str, Any]], fields: Sequence[str] | None = PROMPT_FIELDS) -> str:
    """One JSON line per row with `fields` (None: every column a drafted query returned, its
    computed ones too, but never the embedding)."""
    lines = []
    for r in rows:
        keys = [k for k in r if k != "embedding"] if fields is None else [k for k in fields if k in r]
        # every text value cut (chatbot.fields), as the UI's cards and table cut them
        shown = cut_row({k: r[k] for k in keys if r[k] not in (None, [], ())})
        lines.append(json.dumps(shown, ensure_ascii=False, default=str))
    return "\n".join(lines)


_FILTER_FIELDS: dict[str, tuple[str, ...]] = {
    "year": ("year",), "duration_min": ("duration_min",), "avg_rating": ("avg_rating",),
    "num_ratings": ("num_ratings",), "genres": ("genres",), "directors": ("director",), "actors": ("actors",),
    "writers": ("writers",), "people": ("director", "actors", "writers"), "countries": ("country",),
    "languages": ("language",),
}
DESCRIBED_INTENTS = ("similar", "search", "recommend")
"""Answers that say why a film fits: they get the plot and cast."""


def prompt_fields(state: State) -> tuple[str, ...] | None:
    """The row fields this question needs in the answer prompt, so long sets fit the context:
    always id, title, year, director and genres; the fields the plan asks for, filters on or
    sorts by; plot and cast only where the answer says why a film fits (similar, plot search,
    recommendations) or for facts about named titles. None: a drafted query's rows, whose
    columns were chosen for the question (counts and averages included)."""
    if state.sql:
        return None
    plan = state.plan
    if plan is None or (plan.intent == "fact" and not plan.fields):
        return PROMPT_FIELDS
    wanted: list[str] = ["id", "title", "year", "director", "genres", *plan.fields]
    if plan.sort is not None:
        wanted.append(plan.sort.key)
    for f in (plan.filters, *plan.filters.either):
        for name, columns in _FILTER_FIELDS.items():
            value = getattr(f, name)
            if not value.is_empty():
                wanted.extend(columns)
    if plan.intent in DESCRIBED_INTENTS or plan.semantic or state.route in ("similar", "semantic"):
        wanted.extend(("summary", "actors", "duration_min"))
    return tuple(dict.fromkeys(k for k in wanted if k in PROMPT_FIELDS or k == "writers"))


def answer_context(state: State) -> list[str]:
    """What the model must know about how the rows were computed, to word the answer truthfully."""
    plan = state.plan
    notes = []
    if state.route == "follow_up":
        notes.append("These rows are the previous answer's films, filtered for this question.")
    if state.exact:
        total = state.total if state.total is not None else len(state.hits)
        notes.append(f"These rows are the exact, complete set: {total} films match. Say that number.")
        if state.capped:
            notes.append(f"Only the first {len(state.hits)} are listed (the cap); say so.")
    elif pool := pooled_scope(plan, state.exact):
        notes.append(f"These rows are the top {pool} (by meaning), not of the whole catalog: say so.")
    elif state.hits:
        notes.append("These rows are the closest matches by meaning, not an exact set: call them the closest matches.")
    if plan is not None:
        if plan.sort:
            notes.append(f"The rows are already ordered by {plan.sort.key} ({'descending' if plan.sort.desc else 'ascending'}).")
        if plan.intent == "count":
            notes.append(f"The question asks how many: the answer is {state.total if state.total is not None else len(state.hits)}.")
        if plan.unapplied:
            notes.append("These conditions could not be applied; say so: " + "; ".join(plan.unapplied) + ".")
    if state.sql:
        notes.append("The rows came from this SQL query: " + state.sql)
    return notes


def answer_messages(state: State) -> list[BaseMessage]:
    notes = answer_context(state)
    shown = state.hits[:PROMPT_ROWS]
    if len(state.hits) > len(shown):
        notes.append(f"Only the first {len(shown)} of {len(state.hits)} rows are shown to you; name only those.")
    context_note = ("Context: " + " ".join(notes) + "\n") if notes else ""
    user = ANSWER_USER.format(question=state.question, context_note=context_note, count=len(shown),
                              rows=rows_block(shown, prompt_fields(state)))
    return [SystemMessage(ANSWER_SYSTEM), HumanMessage(user)]


def chitchat_messages(question: str) -> list[BaseMessage]:
    return [SystemMessage(CHITCHAT_SYSTEM), HumanMessage(question)]
