"""Graph nodes and routers. Nodes are async verbs returning only what they change; accumulating
fields (notes, fallbacks, timings_ms) are appended through their reducers; routers are pure."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from functools import wraps
from typing import Any, Literal

from langgraph.config import get_config, get_stream_writer
from langgraph.runtime import Runtime
from langgraph.types import Overwrite

from chatbot import prompting
from chatbot.answer import Fallback
from chatbot.citations import KnownNames
from chatbot.citations import check_citations as _check_citations
from chatbot.deps import BLEND, Deps
from chatbot.drafts import REPEATED, draft_problem, plan_problem
from chatbot.extractive import NO_LLM_CONFIGURED_NOTE, extractive_answer
from chatbot.llm import NO_LLM_NOTE
from chatbot.plans import (
    MIN_RATINGS,
    SORT_WORDS,
    checked_plan,
    is_vague,
    needs_vector,
    rated_enough,
    route_of,
    widened,
)
from chatbot.state import State, fresh_turn
from chatbot.understand import read_plan
from chatbot.understand.ratings import StatedRating, confirmation, read_ratings
from prompts.answer import CHITCHAT_REPLY
from prompts.sql import SQL_EXAMPLES
from retrieval.plan import QueryPlan, Sort, Vocabulary
from retrieval.types import AmbiguousTitle, MovieHit, SearchMode, UnknownTitle

log = logging.getLogger(__name__)

Node = Callable[[State, Runtime[Deps]], Awaitable[dict[str, Any]]]

EMPTY_CATALOG = (
    "Your catalog is empty, so there is nothing to answer from yet. Load movies first: "
    "`movie-rag ingest demo`, `movie-rag ingest movies PATH` or `movie-rag ingest movielens DIR`."
)
SIMILAR_POOL = 3
"""`similar` looks at this many times k neighbours before `prefer_described` picks k."""
ALTERNATIVES = 5
"""Nearest rows offered, labelled as such, when nothing meets the conditions."""


def timed(name: str) -> Callable[[Node], Node]:
    """Add the node's wall time to `timings_ms` (through its reducer)."""

    def wrap(fn: Node) -> Node:
        @wraps(fn)
        async def node(state: State, runtime: Runtime[Deps]) -> dict[str, Any]:
            clock = runtime.context.clock
            t0 = clock()
            update = await fn(state, runtime)
            ms = round((clock() - t0) * 1000, 2)
            current = update.get("timings_ms")
            if isinstance(current, Overwrite):  # the turn's first node starts the dict afresh
                update["timings_ms"] = Overwrite({**current.value, name: ms})
            else:
                update["timings_ms"] = {**(current or {}), name: ms}
            return update

        return node

    return wrap


def prefer_described(hits: list[Any], *, anchored: bool) -> list[Any]:
    """Neighbours with a summary first, each group in distance order, when the anchor has one.

    A row known only by title and genres (most MovieLens-only films) is close to "Finding Nemo"
    for sharing the word "Nemo"; its distance says little next to rows whose plots were compared.
    """
    if not anchored:
        return hits
    return [h for h in hits if h.summary] + [h for h in hits if not h.summary]


def _rows(hits: Sequence[MovieHit]) -> list[dict[str, Any]]:
    return [h.full() for h in hits]


# --- understand ---------------------------------------------------------------------------


async def _vocabulary(deps: Deps) -> Vocabulary:
    return await asyncio.to_thread(deps.catalog.vocabulary)


@timed("understand")
async def understand(state: State, runtime: Runtime[Deps]) -> dict[str, Any]:
    deps = runtime.context
    titles = await asyncio.to_thread(deps.catalog.find_titles, state.question)
    vocab = await _vocabulary(deps)
    has_previous = bool(state.last_ids)
    plan = read_plan(state.question, vocab, titles=titles, has_previous=has_previous)
    recorded, rated_before = await _record_ratings(state.question, deps)
    llm_up = deps.chat is not None and await deps.chat.available()
    fallbacks: list[Fallback] = []
    if llm_up and deps.llm_routing and is_vague(plan):
        plan, fallbacks = await fill_plan(deps, state.question, plan, vocab)
    plan = widened(plan, state.last_plan)
    route = route_of(plan, has_previous=has_previous)
    if recorded and not _ASKS.search(state.question):
        route = "chitchat"  # only ratings were stated: the answer confirms them
    # an average or total of one column, or figures per group, the plan computes itself; other aggregates draft SQL
    use_sql = (plan.intent == "aggregate" and plan.measure is None and plan.group is None and deps.sql_mode and llm_up
               and deps.sql is not None)
    by_id = {t[0]: t for t in titles}
    anchors = [{"id": i, "title": by_id[i][1], "year": by_id[i][2]} for i in plan.anchors if i in by_id]
    query = plan.semantic or (state.last_query if route == "follow_up" and state.last_query else state.question)
    return {
        **fresh_turn(fallbacks=fallbacks),
        "plan": plan, "route": route, "query": query, "anchors": anchors, "llm_up": llm_up, "use_sql": use_sql,
        "recorded": recorded, "rated_before": rated_before,
    }


_ASKS = re.compile(
    r"\?|\b(?:recommend|suggest|what\s+(?:should|could|can|to)|show|find|list|give\s+me|any(?:thing)?|"
    r"something|some\s+(?:films?|movies?)|who|which|when|how)\b", re.IGNORECASE)
"""Words that ask for something besides the ratings stated ("I loved Heat, recommend me something")."""


def person_of(deps: Deps) -> str | None:
    """Whose ratings these are: the UI's person (deps.owner), else this conversation's thread."""
    if deps.owner:
        return deps.owner
    try:
        thread = (get_config().get("configurable") or {}).get("thread_id")
    except RuntimeError:  # outside a graph run
        return None
    return f"thread:{thread}" if thread else None


async def _record_ratings(question: str, deps: Deps) -> tuple[list[dict[str, Any]], bool]:
    """Store the ratings the message states ("I loved Heat, hated Titanic") for this person;
    also say whether they had stored ratings before."""
    person = person_of(deps)
    if deps.rate is None or person is None:
        return [], False
    stated = read_ratings(question, deps.catalog.find_titles)
    if not stated:
        return [], False
    rated_before = False
    if deps.ratings is not None:
        try:
            rated_before = bool(await asyncio.to_thread(deps.ratings, person))
        except Exception:
            log.warning("could not read %s's ratings", person, exc_info=True)
    recorded = []
    for r in stated:
        try:
            await asyncio.to_thread(deps.rate, person, r.movie_id, r.stars)
        except Exception:
            log.warning("could not store %s's rating of %s", person, r.title, exc_info=True)
            continue
        recorded.append({"id": r.movie_id, "title": r.title, "year": r.year, "stars": r.stars})
    return recorded, rated_before


def _likes_only_anchors(state: State) -> bool:
    """This message's ratings say no more than its anchors do ("I loved The Matrix, what next?"
    from someone with no earlier ratings): recommend from the anchors as before."""
    anchors = {a["id"] for a in state.anchors}
    return bool(state.recorded) and not state.rated_before and all(
        r["id"] in anchors and r["stars"] >= 4 for r in state.recorded)


async def fill_plan(deps: Deps, question: str, rules: QueryPlan, vocab: Vocabulary) -> tuple[QueryPlan, list[Fallback]]:
    """The LLM's reading of a question the rules were unsure of, through the plan's own JSON
    schema, checked against the catalog; any failure keeps the rules' plan."""
    from chatbot.llm import LLMUnavailable

    assert deps.chat is not None
    try:
        done = await deps.chat.complete_json(prompting.plan_messages(question, vocab), schema=prompting.PLAN_SCHEMA)
    except LLMUnavailable as exc:
        return rules, list(exc.fallbacks)
    llm = prompting.parse_plan(done.text, done.data)
    if llm is None:
        return rules, [*done.fallbacks, Fallback(model=done.model, reason="reply is not a query plan")]
    plan = checked_plan(llm, rules, vocab)
    off = plan_problem(plan.filters, rules.filters)  # it may add to the rules' reading, not undo it
    if off is not None:
        return rules, [*done.fallbacks, Fallback(model=done.model, reason=f"off-question plan: {off}")]
    return plan, list(done.fallbacks)


def after_understand(state: State) -> Literal["generate", "draft_sql", "retrieve"]:
    if state.route == "chitchat":
        return "generate"
    return "draft_sql" if state.use_sql else "retrieve"


# --- retrieve: run the plan -----------------------------------------------------------------


async def _embed(deps: Deps, text: str) -> list[float]:
    vector = await asyncio.to_thread(deps.embedder.embed_query, text)
    return [float(x) for x in vector]


async def _similar(state: State, deps: Deps) -> tuple[list[dict[str, Any]], list[str]]:
    anchor = state.anchors[0]
    try:
        candidates = await asyncio.to_thread(
            deps.catalog.similar, anchor["title"], year=anchor["year"], metric=deps.metric, k=SIMILAR_POOL * deps.k,
        )
        anchor_rows = await asyncio.to_thread(deps.catalog.get, [anchor["id"]])
    except (UnknownTitle, AmbiguousTitle) as exc:  # the anchor came from the catalog, so rare
        return [], [str(exc)]
    # the blend's co-liking already vouches for a film known only by title and genres
    described = bool(anchor_rows and anchor_rows[0].summary) and deps.profile != BLEND
    return _rows(prefer_described(candidates, anchored=described)[: deps.k]), []


async def _search(state: State, deps: Deps, vector: list[float] | None, k: int | None = None) -> list[dict[str, Any]]:
    mode: SearchMode = "hybrid" if deps.hybrid else "dense"
    hits = await asyncio.to_thread(deps.catalog.search, state.query, mode=mode, k=k or deps.k, vector=vector)
    return _rows(hits)


@timed("retrieve")
async def retrieve(state: State, runtime: Runtime[Deps]) -> dict[str, Any]:
    """Run the plan over the whole catalog (or the previous turn's rows): sets are complete up to
    the set cap, counts and superlatives computed in SQL, nearest-neighbour questions take k."""
    deps = runtime.context
    plan = state.plan
    assert plan is not None
    timings: dict[str, float] = {}
    vector: list[float] | None = None
    if needs_vector(plan):
        t0 = deps.clock()
        vector = await _embed(deps, state.query)
        timings["embed"] = round((deps.clock() - t0) * 1000, 2)
    follow = state.route == "follow_up"
    scope_ids = state.last_ids if follow else None
    if follow and plan.position is not None:  # "the third one": that film of the last list
        listed = state.listed_ids or state.last_ids
        index = plan.position - 1 if plan.position > 0 else len(listed) + plan.position
        if not 0 <= index < len(listed):
            return {"hits": [], "exact": True, "total": 0, "timings_ms": timings,
                    "notes": [f"The previous answer listed {len(listed)} film{'s' if len(listed) != 1 else ''}."]}
        scope_ids = [listed[index]]
    # No condition beyond the anchors themselves: the tuned similar/search paths serve it.
    simple = plan.filters.model_copy(update={"exclude_ids": ()}).is_empty() and not plan.sort and not follow
    update: dict[str, Any] = {"sql": None, "plan_sql": None, "exact": False, "total": None, "capped": False,
                              "timings_ms": timings}
    if plan.intent == "similar" and state.anchors and simple:
        rows, notes = await _similar(state, deps)
        return {**update, "hits": rows, "notes": notes}
    person = None if _likes_only_anchors(state) else person_of(deps)
    if plan.intent == "recommend" and (state.anchors or person) and deps.recommend is not None:
        # owner: whose stored stars (person_ratings, from the UI or stated in chat) join the named films
        owner = {"owner": person} if person else {}
        hits = await asyncio.to_thread(deps.recommend, [a["id"] for a in state.anchors], k=deps.k, **owner)
        if hits:
            return {**update, "hits": _rows(hits)}
    if (plan.intent == "search" or (plan.intent == "recommend" and plan.semantic)) and simple and not plan.anchors:
        return {**update, "hits": await _search(state, deps, vector or await _embed(deps, state.query))}
    if plan.intent == "recommend" and not plan.anchors and not plan.semantic and plan.sort is None:
        # "recommend me a thriller from the 2000s": nothing to start from but conditions, so the
        # best rated films that meet them (with the rating floor below)
        plan = plan.model_copy(update={"sort": Sort(key="avg_rating", desc=True), "limit": plan.limit or deps.k})
    # A count lists its rows too (count(*) OVER () gives the total), so the answer can cite them.
    run = plan.model_copy(update={"intent": "list"}) if plan.intent in ("count", "aggregate") and plan.group is None else plan
    def run_on(p: QueryPlan) -> Any:
        return asyncio.to_thread(deps.catalog.run_plan, p, ids=scope_ids, vector=vector, metric=deps.metric,
                                 cap=deps.set_cap, k=deps.k)

    bounded = rated_enough(plan)
    said: list[str] = []
    try:
        result = await run_on(bounded or run)
        if bounded is not None and result.rows:
            plan = run = bounded
            of = "the averages" if plan.group is not None else "the top by average rating"
            said.append(f"Films rated by fewer than {MIN_RATINGS} users are left out of {of} "
                         "(ask for \"at least 1 rating\" to include them).")
        elif bounded is not None:  # no film has that many ratings: the top of those that have any
            result = await run_on(run)
    except ValueError as exc:  # retrieval.compile.PlanError: a plan the compiler cannot express
        log.info("plan not runnable (%s): %s", exc, plan)
        return {**update, "hits": await _search(state, deps, vector or await _embed(deps, state.query)),
                "notes": [f"{exc} These are the closest matches instead."]}
    unapplied = list(result.notes)
    if not result.rows and plan.sort is not None and plan.intent in ("superlative", "list"):
        # "best rated sci-fi" on a catalog without ratings: the films exist, the sort key does not.
        unsorted = run.model_copy(update={"sort": None, "intent": "list"})
        retry = await run_on(unsorted)
        if retry.rows:
            label = SORT_WORDS.get(plan.sort.key, plan.sort.key)
            unapplied.append(f"the order by {label} (your catalog records no {label} for the matching films)")
            result, plan = retry, plan.model_copy(update={"sort": None, "intent": "list", "limit": None})
    rows = [_jsonable(r) for r in result.rows]
    if plan.intent == "aggregate" and plan.group is None and (plan.measure is None or result.capped):
        why = "no drafted SQL could be used" if state.sql_attempts else "it needs an LLM to draft SQL"
        unapplied.append(f"the calculation asked for ({why}); these are the films it would be computed over")
    if unapplied:
        plan = plan.model_copy(update={"unapplied": (*plan.unapplied, *unapplied)})
    update.update(plan=plan, hits=rows, total=result.total, capped=result.capped, plan_sql=result.readable,
                  exact=not result.ranked, notes=said)
    if not rows and plan.intent != "count" and plan.group is None:
        update["alternatives"] = await _search(state, deps, vector or await _embed(deps, state.query), ALTERNATIVES)
    return update


# --- free-form SQL (aggregates) -------------------------------------------------------------


async def _verified_examples(deps: Deps) -> Sequence[tuple[str, str]]:
    """Pairs approved in the UI; drafting goes on without them if they cannot be read."""
    if deps.examples is None:
        return ()
    try:
        return tuple(await asyncio.to_thread(deps.examples))
    except Exception:
        log.warning("could not read verified SQL examples", exc_info=True)
        return ()


FELL_BACK = " Answered from the query plan instead."


@timed("draft_sql")
async def draft_sql(state: State, runtime: Runtime[Deps]) -> dict[str, Any]:
    from chatbot.llm import LLMUnavailable

    deps = runtime.context
    assert deps.chat is not None
    attempts = state.sql_attempts + 1
    try:
        examples = await _verified_examples(deps)
        done = await deps.chat.complete_json(
            prompting.sql_messages(state, deps.row_cap, examples), schema=prompting.SQL_SCHEMA
        )
    except LLMUnavailable as exc:
        return {
            "sql_draft": None, "sql_attempts": attempts, "fallbacks": list(exc.fallbacks),
            "notes": ["No model could draft SQL." + FELL_BACK],
        }
    return {
        "sql_draft": prompting.extract_sql(done.text, done.data), "sql_attempts": attempts,
        "fallbacks": list(done.fallbacks),
    }


def after_draft(state: State) -> Literal["check_sql", "retrieve"]:
    return "check_sql" if state.sql_draft else "retrieve"


@timed("check_sql")
async def check_sql(state: State, runtime: Runtime[Deps]) -> dict[str, Any]:
    from retrieval.sqlguard import UnsafeSQL

    deps = runtime.context
    guard = deps.sql
    assert guard is not None and state.sql_draft is not None
    rejected = [*state.sql_rejected, state.sql_draft]
    try:
        checked = guard.check(state.sql_draft)
        problem = draft_problem(
            state.sql_draft, question=state.question,
            filters=state.plan.filters if state.plan is not None else None,
            examples=(*SQL_EXAMPLES, *await _verified_examples(deps)), rejected=state.sql_rejected,
        )
        if problem is not None:
            raise UnsafeSQL(f"The draft does not answer the question: {problem}.")
    except UnsafeSQL as exc:
        update: dict[str, Any] = {
            "sql_reason": str(exc), "sql_checked": None, "sql_readable": None, "sql_rejected": rejected,
        }
        if state.sql_attempts >= 2 or REPEATED in str(exc):
            update["notes"] = [f"The drafted SQL was rejected ({exc})." + FELL_BACK]
            update["sql_attempts"] = max(state.sql_attempts, 2)  # a repeated repair ends the repair
        return update
    return {
        "sql_checked": checked.sql, "sql_readable": checked.readable,
        "sql_phrases": dict(checked.phrases), "sql_reason": None,
    }


def after_check(state: State) -> Literal["run_sql", "draft_sql", "retrieve"]:
    if state.sql_reason is None:
        return "run_sql"
    return "draft_sql" if state.sql_attempts < 2 else "retrieve"


@timed("run_sql")
async def run_sql(state: State, runtime: Runtime[Deps]) -> dict[str, Any]:
    from retrieval.sqlguard import vector_literal

    deps = runtime.context
    assert deps.sql is not None and state.sql_checked is not None
    params = {name: vector_literal(await _embed(deps, phrase)) for name, phrase in state.sql_phrases.items()}
    try:
        rows = await asyncio.to_thread(deps.sql.run, state.sql_checked, params)
    except Exception as exc:  # the database refused or cancelled it: fall back, say so
        log.info("drafted SQL failed: %s", exc)
        text = str(exc).strip()
        reason = text.splitlines()[0] if text else f"The drafted SQL failed ({type(exc).__name__})."
        return {"hits": [], "notes": [reason + FELL_BACK]}
    if not rows:
        return {"hits": [], "notes": ["The drafted SQL found no rows." + FELL_BACK]}
    hits = await asyncio.to_thread(_with_ids, [_jsonable(r) for r in rows], deps.catalog)
    return {
        "hits": hits, "sql": state.sql_readable, "sql_accepted": state.sql_draft,
        "exact": True, "total": len(hits), "capped": len(hits) >= deps.row_cap,
    }


def _with_ids(rows: list[dict[str, Any]], catalog: Any) -> list[dict[str, Any]]:
    """SQL rows that name a film by title (and year) but lack its id get it from the catalog,
    so they can be cited."""
    out = []
    for row in rows:
        title = row.get("title")
        if row.get("id") is None and isinstance(title, str):
            matches = [t for t in catalog.find_titles(title) if t[1].casefold() == title.casefold()]
            if row.get("year") is not None:
                matches = [t for t in matches if t[2] == row["year"]]
            if len(matches) == 1:
                row = {"id": matches[0][0], **{k: v for k, v in row.items() if k != "id"}, "year": matches[0][2]}
        out.append(row)
    return out


def _jsonable(row: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row.items():
        if key == "embedding":
            continue
        if isinstance(value, (str, int, float, bool)) or value is None:
            out[key] = value
        elif isinstance(value, (list, tuple)):
            out[key] = [v if isinstance(v, (str, int, float, bool)) or v is None else str(v) for v in value]
        else:
            out[key] = float(value) if hasattr(value, "__float__") else str(value)
    return out


def after_run(state: State) -> Literal["generate", "retrieve"]:
    return "generate" if state.hits else "retrieve"


# --- generate / check_citations ------------------------------------------------------------


def _known_names(state: State, vocab: Vocabulary, catalog: Any = None) -> KnownNames:
    """What the citation check (and the answer gate) knows besides the rows: the question's
    anchors, the catalog's genres, people, countries and languages, which are not films, and
    (for the gate) how to find the catalog titles an answer names."""
    people = {p for r in state.hits for p in (*(r.get("actors") or ()), *(r.get("director") or "").split(", ")) if p}
    groups = {str(r["name"]) for r in state.hits if "name" in r and "id" not in r}  # a group plan's rows: "1990s"
    return KnownNames(
        allowed=tuple(a["title"] for a in (*state.anchors, *state.alternatives)),
        not_films=frozenset((*vocab.genres, *vocab.directors, *vocab.actors, *vocab.writers, *vocab.countries,
                             *vocab.languages, *people, *groups)),
        titles_in=None if catalog is None else (lambda text: [t for _, t, _ in catalog.find_titles(text)]),
    )


@timed("generate")
async def generate(state: State, runtime: Runtime[Deps]) -> dict[str, Any]:

    deps = runtime.context
    write = get_stream_writer()

    async def on_token(text: str) -> None:
        write({"token": text})

    async def on_restart(reason: str) -> None:
        write({"restart": reason})

    if state.recorded:
        noted = confirmation([StatedRating(movie_id=r["id"], title=r["title"], year=r["year"], stars=r["stars"], words="")
                              for r in state.recorded])
        if state.route == "chitchat":
            write({"token": noted})
            return {"answer": noted, "model": None}
        write({"token": noted + "\n\n"})
        rest = await _generate(state, deps, write, on_token, on_restart)
        return {**rest, "answer": noted + "\n\n" + rest["answer"]}
    return await _generate(state, deps, write, on_token, on_restart)


async def _generate(state: State, deps: Deps, write: Any, on_token: Any, on_restart: Any) -> dict[str, Any]:
    from chatbot.llm import LLMUnavailable

    if state.route != "chitchat" and not state.hits:
        empty = await asyncio.to_thread(deps.catalog.count) == 0
        text = EMPTY_CATALOG if empty else extractive_answer([], plan=state.plan, route=state.route, alternatives=state.alternatives)
        write({"token": text})
        return {"answer": text, "model": None}

    notes: list[str] = []
    fallbacks: list[Fallback] = []
    if state.plan is not None and (state.plan.group is not None or (state.plan.measure is not None and not state.capped)):
        # an average or total computed over every matching row, or figures per group: stated as
        # computed, not re-told by a model
        text = extractive_answer(state.hits, plan=state.plan, route=state.route, total=state.total, exact=state.exact)
        write({"token": text})
        return {"answer": text, "model": None}
    if state.llm_up and deps.chat is not None:
        messages = prompting.chitchat_messages(state.question) if state.route == "chitchat" else prompting.answer_messages(state)
        try:
            names = None if state.route == "chitchat" else _known_names(state, await _vocabulary(deps), deps.catalog)
            done = await deps.chat.stream(messages, on_token=on_token, on_restart=on_restart, names=names)
            return {"answer": done.text, "model": done.model, "fallbacks": list(done.fallbacks)}
        except LLMUnavailable as exc:
            fallbacks = list(exc.fallbacks)
            write({"restart": "no model answered"})
            # a greeting gets the standard reply, not "answered from the catalog rows"
            notes.append(exc.note_with("this is the standard reply") if state.route == "chitchat" else exc.note)
    else:
        notes.append(NO_LLM_CONFIGURED_NOTE if deps.chat is None else NO_LLM_NOTE)
    if state.route == "chitchat":
        text = CHITCHAT_REPLY
    else:
        text = extractive_answer(
            state.hits, plan=state.plan, route=state.route, anchors=state.anchors, total=state.total,
            capped=state.capped, exact=state.exact, sql=state.sql,
        )
    write({"token": text})
    return {"answer": text, "model": None, "fallbacks": fallbacks, "notes": notes}


@timed("check_citations")
async def check_citations(state: State, runtime: Runtime[Deps]) -> dict[str, Any]:
    catalog = runtime.context.catalog
    # An extractive answer is written from the rows, so only a model's prose needs the catalog scan
    # (actor names such as Paula Patton would otherwise read as the film Patton).
    named = [t for _, t, _ in await asyncio.to_thread(catalog.find_titles, state.answer)] if state.model else []
    names = _known_names(state, await _vocabulary(runtime.context))
    checked = _check_citations(
        state.answer, state.hits, catalog_titles=named, allowed=list(names.allowed), not_films=names.not_films,
    )
    notes = ["Not among the retrieved rows, so not verified: " + ", ".join(checked.flagged) + "."] if checked.flagged else []
    chitchat = state.route == "chitchat"
    # a group plan's rows carry their films' ids: "which of those is the longest?" asks about those films
    result_ids = [r["id"] for r in state.hits if isinstance(r.get("id"), int)] or \
        list(dict.fromkeys(i for r in state.hits for i in r.get("ids") or ())) or [c["id"] for c in checked.cited]
    kept = chitchat or not state.hits
    return {
        "answer": checked.answer, "citations": checked.cited, "notes": notes,
        "last_ids": state.last_ids if kept else result_ids,
        "listed_ids": result_ids if not kept and len(result_ids) > 1 else state.listed_ids,
        "last_query": state.query if state.route not in ("chitchat", "follow_up") else state.last_query,
        "last_plan": state.last_plan if kept else state.plan,
        "turns": state.turns + 1,
    }

