"""Graph nodes: verbs, async, each returning only the state fields it changes."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from functools import wraps
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langgraph.config import get_stream_writer
from langgraph.runtime import Runtime

from chatbot.citations import check_citations as _check_citations
from chatbot.deps import Deps
from chatbot.extractive import NO_LLM_CONFIGURED_NOTE, NO_LLM_NOTE, extractive_answer
from chatbot.state import State, fresh_turn
from chatbot.understand import GENRE_WORDS
from chatbot.understand import understand as read_question
from prompts.answer import ANSWER_SYSTEM, ANSWER_USER, CHITCHAT_REPLY, CHITCHAT_SYSTEM
from prompts.route import ROUTE_JSON_SCHEMA, ROUTE_SYSTEM
from prompts.sql import SQL_EXAMPLES, SQL_JSON_SCHEMA, SQL_REPAIR, SQL_SYSTEM
from retrieval.types import AmbiguousTitle, SearchFilters, SearchMode, UnknownTitle

log = logging.getLogger(__name__)

Node = Callable[[State, Runtime[Deps]], Awaitable[dict[str, Any]]]

# Row fields the answer prompt shows the model (never the embedding).
PROMPT_FIELDS = ("id", "title", "year", "director", "genres", "actors", "duration_min", "avg_rating", "summary")


def timed(name: str) -> Callable[[Node], Node]:
    """Record the node's wall time in `timings_ms` (understand starts the turn's dict afresh)."""

    def wrap(fn: Node) -> Node:
        @wraps(fn)
        async def node(state: State, runtime: Runtime[Deps]) -> dict[str, Any]:
            clock = runtime.context.clock
            t0 = clock()
            update = await fn(state, runtime)
            base = update.get("timings_ms", state.timings_ms)
            update["timings_ms"] = {**base, name: round((clock() - t0) * 1000, 2)}
            return update

        return node

    return wrap


EMPTY_CATALOG = (
    "Your catalog is empty, so there is nothing to answer from yet. Load movies first: "
    "`movie-rag ingest demo`, `movie-rag ingest movies PATH` or `movie-rag ingest movielens DIR`."
)

SIMILAR_POOL = 3
"""`similar` looks at this many times k neighbours before `prefer_described` picks k."""


def prefer_described(hits: list[Any], *, anchored: bool) -> list[Any]:
    """Neighbours with a summary first, each group in distance order, when the anchor has one.

    A row known only by title and genres (most MovieLens-only films) is close to "Finding Nemo"
    for sharing the word "Nemo"; its distance says little next to rows whose plots were compared.
    """
    if not anchored:
        return hits
    return [h for h in hits if h.summary] + [h for h in hits if not h.summary]


def _option(state: State, deps: Deps, name: str) -> Any:
    value = state.options.get(name)
    return getattr(deps, name) if value is None else value


def _hit_dicts(hits: list[Any]) -> list[dict[str, Any]]:
    return [h.full() for h in hits]


def _filters(raw: dict[str, Any], ids: list[int] | None = None) -> SearchFilters | None:
    f = SearchFilters(
        year_min=raw.get("year_min"), year_max=raw.get("year_max"),
        genres=tuple(raw.get("genres", ())), director=raw.get("director"),
        actors=tuple(raw.get("actors", ())), people=tuple(raw.get("people", ())),
        ids=tuple(ids or ()),
    )
    return None if f.is_empty() else f


# --- understand ---------------------------------------------------------------------------


def assign_people(filters: dict[str, Any], catalog: Any) -> dict[str, Any]:
    """A name the rules could not place ("Stanley Kubrick films") becomes a director or an actor
    filter by what the catalog knows of it; unknown names stay as "anyone credited"."""
    names = filters.get("people")
    if not names:
        return filters
    out = {k: v for k, v in filters.items() if k != "people"}
    people = []
    for name in names:
        roles = catalog.person_roles(name)
        if roles["director"] and roles["director"] >= roles["actor"] and "director" not in out:
            out["director"] = name
        elif roles["actor"]:
            out["actors"] = [*out.get("actors", []), name]
        else:
            people.append(name)
    if people:
        out["people"] = people
    return out


@timed("understand")
async def understand(state: State, runtime: Runtime[Deps]) -> dict[str, Any]:
    deps = runtime.context
    titles = await asyncio.to_thread(deps.catalog.find_titles, state.question)
    u = read_question(state.question, titles=titles, has_previous=bool(state.last_ids))
    llm_up = deps.chat is not None and await deps.chat.available()
    route: str = u.route
    filters: dict[str, Any] = u.filters
    fallbacks: list[dict[str, str]] = []
    if llm_up and route == "semantic" and not filters and bool(_option(state, deps, "llm_routing")):
        route, filters, fallbacks = await refine_route(deps, state.question)
    filters = await asyncio.to_thread(assign_people, filters, deps.catalog)
    query = u.query
    if u.route == "follow_up" and state.last_query:
        query = state.last_query
    anchors = [{"id": i, "title": t, "year": y} for i, t, y in u.anchors]
    sql_mode = bool(_option(state, deps, "sql_mode"))
    use_sql = route == "structured" and sql_mode and llm_up and deps.sql is not None
    return {
        **fresh_turn(),
        "route": route, "query": query, "anchors": anchors, "filters": filters, "sort": u.sort,
        "limit": u.limit, "count": u.count, "llm_up": llm_up, "use_sql": use_sql, "fallbacks": fallbacks,
    }


async def refine_route(deps: Deps, question: str) -> tuple[str, dict[str, Any], list[dict[str, str]]]:
    """The LLM's reading of a question the rules found no signal in: (route, filters, fallbacks).

    Only routes that need nothing the rules did not find are taken (similar and follow-up need a
    catalog title or previous ids); a structured reading without any usable filter stays semantic.
    Any failure leaves the rules' answer, semantic, in place.
    """
    from chatbot.llm import LLMUnavailable

    assert deps.chat is not None
    messages: list[BaseMessage] = [SystemMessage(ROUTE_SYSTEM), HumanMessage(question)]
    try:
        done = await deps.chat.complete_json(messages, schema=ROUTE_JSON_SCHEMA)
    except LLMUnavailable as exc:
        return "semantic", {}, [{"model": f.model, "reason": f.reason} for f in exc.fallbacks]
    fallbacks = [{"model": f.model, "reason": f.reason} for f in done.fallbacks]
    data = done.data or {}
    filters = _llm_filters(data)
    route = data.get("route")
    if route == "structured" and filters:
        return "structured", filters, fallbacks
    if route in ("recommendation", "chitchat"):
        return route, {}, fallbacks
    return "semantic", {}, fallbacks


def _llm_filters(data: dict[str, Any]) -> dict[str, Any]:
    """Filters from the LLM's JSON, keeping only well-typed, plausible values."""
    out: dict[str, Any] = {}
    for key in ("year_min", "year_max"):
        value = data.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and 1870 <= value <= 2100:
            out[key] = value
    genres = [GENRE_WORDS.get(g.strip().lower()) for g in data.get("genres") or [] if isinstance(g, str)]
    if any(genres):
        out["genres"] = [g for g in dict.fromkeys(genres) if g]
    director = data.get("director")
    if isinstance(director, str) and director.strip():
        out["director"] = director.strip()
    actors = [a.strip() for a in data.get("actors") or [] if isinstance(a, str) and a.strip()]
    if actors:
        out["actors"] = actors
    return out


def after_understand(state: State) -> str:
    return "generate" if state.route == "chitchat" else "embed"


# --- embed / retrieve ---------------------------------------------------------------------


@timed("embed")
async def embed(state: State, runtime: Runtime[Deps]) -> dict[str, Any]:
    vector = await asyncio.to_thread(runtime.context.embedder.embed_query, state.query)
    return {"vector": [float(x) for x in vector]}


def after_embed(state: State) -> str:
    return "draft_sql" if state.use_sql else "retrieve"


def sort_rows(rows: list[dict[str, Any]], sort: dict[str, Any] | None, limit: int | None) -> list[dict[str, Any]]:
    """Order rows by `sort` (missing values last, either direction), then keep `limit`."""
    if sort:
        key, desc = sort["key"], bool(sort.get("desc"))
        present = [r for r in rows if r.get(key) is not None]
        missing = [r for r in rows if r.get(key) is None]
        present.sort(key=lambda r: r[key].casefold() if isinstance(r[key], str) else r[key], reverse=desc)
        rows = present + missing
    if not limit or len(rows) <= limit:
        return rows
    # "the longest" with two films of the same length: both are the answer
    cutoff = rows[limit - 1].get(sort["key"]) if sort else None
    extra = [r for r in rows[limit:] if cutoff is not None and r.get(sort["key"]) == cutoff]  # type: ignore[index]
    return rows[:limit] + extra


@timed("retrieve")
async def retrieve(state: State, runtime: Runtime[Deps]) -> dict[str, Any]:
    deps = runtime.context
    catalog = deps.catalog
    k = int(_option(state, deps, "k"))
    mode: SearchMode = "hybrid" if state.options.get("hybrid", True) else "dense"
    notes = list(state.notes)
    hits: list[Any] = []
    if state.route == "similar" and state.anchors:
        anchor = state.anchors[0]
        try:
            candidates = await asyncio.to_thread(
                catalog.similar, anchor["title"], year=anchor["year"],
                metric=state.options.get("metric", "cosine"), k=SIMILAR_POOL * k,
                filters=_filters(state.filters),
            )
            anchor_rows = await asyncio.to_thread(catalog.get, [anchor["id"]])
            hits = prefer_described(candidates, anchored=bool(anchor_rows and anchor_rows[0].summary))[:k]
        except (UnknownTitle, AmbiguousTitle) as exc:  # the anchor came from the catalog, so rare
            notes.append(str(exc))
    elif state.route == "recommendation" and deps.recommend is not None and (
        state.anchors or state.options.get("owner")
    ):
        liked = [a["id"] for a in state.anchors]
        # owner: whose stored stars (person_ratings) join the named films (the UI sets it)
        owner = {"owner": state.options["owner"]} if state.options.get("owner") else {}
        hits = await asyncio.to_thread(deps.recommend, liked, k=k, **owner)
    if not hits:
        ids = state.last_ids if state.route == "follow_up" else None
        filters = _filters(state.filters, ids)
        # A filter-driven question wants the whole matching set, not just the top k.
        limit = len(ids) if ids else (deps.row_cap if filters and state.route == "structured" else k)
        hits = await asyncio.to_thread(
            catalog.search, state.query, mode="dense" if ids else mode, k=limit,
            filters=filters, vector=state.vector,
        )
    rows = sort_rows(_hit_dicts(hits), state.sort, state.limit)
    return {"hits": rows, "notes": notes, "sql": None}


# --- SQL path -------------------------------------------------------------------------------


def _sql_messages(
    state: State, row_cap: int, examples: Sequence[tuple[str, str]] = ()
) -> list[BaseMessage]:
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


def extract_sql(completion_text: str, data: dict[str, Any] | None) -> str | None:
    """The SQL out of a JSON reply, tolerating fences and prose around it."""
    if data and isinstance(data.get("sql"), str):
        return data["sql"].strip() or None
    text = re.sub(r"^```(?:json|sql)?\s*|\s*```$", "", completion_text.strip(), flags=re.I)
    try:
        obj = json.loads(text)
        if isinstance(obj, dict) and isinstance(obj.get("sql"), str):
            return obj["sql"].strip() or None
    except ValueError:
        pass
    m = re.search(r"\bselect\b.*", text, re.I | re.S)
    return m.group(0).strip() if m else None


async def _verified_examples(deps: Deps) -> Sequence[tuple[str, str]]:
    """Pairs approved in the UI; drafting goes on without them if they cannot be read."""
    if deps.examples is None:
        return ()
    try:
        return tuple(await asyncio.to_thread(deps.examples))
    except Exception:
        log.warning("could not read verified SQL examples", exc_info=True)
        return ()


@timed("draft_sql")
async def draft_sql(state: State, runtime: Runtime[Deps]) -> dict[str, Any]:
    from chatbot.llm import LLMUnavailable

    deps = runtime.context
    assert deps.chat is not None
    fallbacks = list(state.fallbacks)
    try:
        examples = await _verified_examples(deps)
        done = await deps.chat.complete_json(_sql_messages(state, deps.row_cap, examples), schema=SQL_JSON_SCHEMA)
    except LLMUnavailable as exc:
        fallbacks += [{"model": f.model, "reason": f.reason} for f in exc.fallbacks]
        return {
            "sql_draft": None, "fallbacks": fallbacks, "sql_attempts": state.sql_attempts + 1,
            "notes": [*state.notes, "No model could draft SQL; answered from vector search instead."],
        }
    fallbacks += [{"model": f.model, "reason": f.reason} for f in done.fallbacks]
    return {
        "sql_draft": extract_sql(done.text, done.data), "sql_attempts": state.sql_attempts + 1,
        "fallbacks": fallbacks,
    }


def after_draft(state: State) -> str:
    return "check_sql" if state.sql_draft else "retrieve"


@timed("check_sql")
async def check_sql(state: State, runtime: Runtime[Deps]) -> dict[str, Any]:
    from retrieval.sqlguard import UnsafeSQL

    guard = runtime.context.sql
    assert guard is not None and state.sql_draft is not None
    try:
        checked = guard.check(state.sql_draft)
    except UnsafeSQL as exc:
        update: dict[str, Any] = {"sql_reason": str(exc), "sql_checked": None, "sql_readable": None}
        if state.sql_attempts >= 2:
            update["notes"] = [*state.notes, f"The drafted SQL was rejected ({exc}); answered from vector search instead."]
        return update
    return {
        "sql_checked": checked.sql, "sql_readable": checked.readable,
        "sql_phrases": dict(checked.phrases), "sql_reason": None,
    }


def after_check(state: State) -> str:
    if state.sql_reason is None:
        return "run_sql"
    return "draft_sql" if state.sql_attempts < 2 else "retrieve"


@timed("run_sql")
async def run_sql(state: State, runtime: Runtime[Deps]) -> dict[str, Any]:
    from retrieval.sqlguard import vector_literal

    deps = runtime.context
    assert deps.sql is not None and state.sql_checked is not None
    params = {}
    for name, phrase in state.sql_phrases.items():
        params[name] = vector_literal(await asyncio.to_thread(deps.embedder.embed_query, phrase))
    try:
        rows = await asyncio.to_thread(deps.sql.run, state.sql_checked, params)
    except Exception as exc:  # the database refused or cancelled it: fall back, say so
        log.info("drafted SQL failed: %s", exc)
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else f"The drafted SQL failed ({type(exc).__name__})."
        return {"hits": [], "notes": [*state.notes, f"{reason} Answered from vector search instead."]}
    if not rows:
        return {"hits": [], "notes": [*state.notes, "The drafted SQL found no rows; answered from vector search instead."]}
    return {"hits": [_jsonable(r) for r in rows], "sql": state.sql_readable}


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, (str, int, float, bool)) or value is None:
            out[key] = value
        elif isinstance(value, (list, tuple)):
            out[key] = [v if isinstance(v, (str, int, float, bool)) or v is None else str(v) for v in value]
        else:
            out[key] = float(value) if hasattr(value, "__float__") else str(value)
    return out


def after_run(state: State) -> str:
    return "generate" if state.hits else "retrieve"


# --- generate / check_citations ------------------------------------------------------------


def _rows_block(rows: list[dict[str, Any]]) -> str:
    lines = []
    for r in rows:
        shown = {k: r[k] for k in PROMPT_FIELDS if k in r and r[k] not in (None, [], ())}
        if isinstance(shown.get("summary"), str) and len(shown["summary"]) > 400:
            shown["summary"] = shown["summary"][:400] + "…"
        lines.append(json.dumps(shown, ensure_ascii=False, default=str))
    return "\n".join(lines)


def answer_messages(state: State) -> list[BaseMessage]:
    notes = []
    if state.route == "follow_up":
        notes.append("These rows are the previous answer's films, filtered for this question.")
    if state.sort:
        notes.append(f"The rows are already ordered by {state.sort['key']} ({'descending' if state.sort.get('desc') else 'ascending'}).")
    if state.count:
        notes.append(f"The question asks how many: {len(state.hits)} rows match.")
    if state.sql:
        notes.append("The rows came from this SQL query: " + state.sql)
    context_note = ("Context: " + " ".join(notes) + "\n") if notes else ""
    user = ANSWER_USER.format(question=state.question, context_note=context_note, count=len(state.hits), rows=_rows_block(state.hits))
    return [SystemMessage(ANSWER_SYSTEM), HumanMessage(user)]


@timed("generate")
async def generate(state: State, runtime: Runtime[Deps]) -> dict[str, Any]:
    from chatbot.llm import LLMUnavailable

    deps = runtime.context
    write = get_stream_writer()

    async def on_token(text: str) -> None:
        write({"token": text})

    async def on_restart(reason: str) -> None:
        write({"restart": reason})

    notes = list(state.notes)
    fallbacks = list(state.fallbacks)
    if state.route == "chitchat":
        messages: list[BaseMessage] = [SystemMessage(CHITCHAT_SYSTEM), HumanMessage(state.question)]
    elif state.hits:
        messages = answer_messages(state)
    else:
        empty = await asyncio.to_thread(deps.catalog.count) == 0
        text = EMPTY_CATALOG if empty else "I found no film in your catalog that matches that."
        write({"token": text})
        return {"answer": text, "model": None, "notes": notes}

    if state.llm_up and deps.chat is not None:
        try:
            done = await deps.chat.stream(messages, on_token=on_token, on_restart=on_restart)
            fallbacks += [{"model": f.model, "reason": f.reason} for f in done.fallbacks]
            return {"answer": done.text, "model": done.model, "fallbacks": fallbacks, "notes": notes}
        except LLMUnavailable as exc:
            fallbacks += [{"model": f.model, "reason": f.reason} for f in exc.fallbacks]
            write({"restart": "no model answered"})
            notes.append(NO_LLM_NOTE)
    else:
        notes.append(NO_LLM_CONFIGURED_NOTE if deps.chat is None else NO_LLM_NOTE)
    if state.route == "chitchat":
        text = CHITCHAT_REPLY
    else:
        text = extractive_answer(
            state.hits, route=state.route, anchors=state.anchors, sort=state.sort,
            counting=state.count, capped=len(state.hits) >= deps.row_cap, sql=state.sql,
        )
    write({"token": text})
    return {"answer": text, "model": None, "fallbacks": fallbacks, "notes": notes}


@timed("check_citations")
async def check_citations(state: State, runtime: Runtime[Deps]) -> dict[str, Any]:
    catalog = runtime.context.catalog
    # An extractive answer is written from the rows, so only a model's prose needs the catalog scan
    # (actor names such as Paula Patton would otherwise read as the film Patton).
    named = [t for _, t, _ in await asyncio.to_thread(catalog.find_titles, state.answer)] if state.model else []
    checked = _check_citations(
        state.answer, state.hits, catalog_titles=named, allowed=[a["title"] for a in state.anchors]
    )
    notes = list(state.notes)
    if checked.flagged:
        notes.append("Not among the retrieved rows, so not verified: " + ", ".join(checked.flagged) + ".")
    cited_ids = [c["id"] for c in checked.cited]
    shown_ids = cited_ids or [r["id"] for r in state.hits if r.get("id") is not None]
    return {
        "answer": checked.answer, "citations": checked.cited, "notes": notes,
        "last_ids": shown_ids if state.route != "chitchat" else state.last_ids,
        "last_query": state.query if state.route not in ("chitchat", "follow_up") else state.last_query,
        "turns": state.turns + 1,
    }
