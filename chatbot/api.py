"""The Python API every shell uses (UI, CLI, eval): `Chatbot`, `ask`, `aask`."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import asdict, replace
from typing import Any

from langgraph.types import Overwrite

from chatbot.answer import (
    Answer,
    AnswerEvent,
    Citation,
    Fallback,
    StepEvent,
    StreamEvent,
    TokenEvent,
)
from chatbot.deps import Deps
from chatbot.graph import build_graph
from chatbot.plans import plan_detail
from chatbot.settings import Settings
from chatbot.state import checkpoint_serde

log = logging.getLogger(__name__)

# One checkpoint per turn, written when the turn ends: a turn is short, and a crash mid-turn
# loses only that turn while every finished one stays in the thread.
DURABILITY = "exit"


def step_detail(node: str, update: dict[str, Any]) -> dict[str, Any]:
    """What a node did, in a form fit for a collapsible step in the UI."""
    keys = {
        "understand": ("route", "query", "anchors", "llm_up", "use_sql"),
        "retrieve": ("hits", "total", "capped", "plan_sql", "alternatives"),
        "draft_sql": ("sql_draft", "fallbacks"),
        "check_sql": ("sql_readable", "sql_phrases", "sql_reason"),
        "run_sql": ("sql", "hits"),
        "generate": ("model", "fallbacks"),
        "check_citations": ("citations", "notes"),
    }.get(node, ())
    detail = {k: _plain(update[k]) for k in keys if k in update}
    if node == "understand":
        detail.update(plan_detail(update.get("plan")))
    if "hits" in detail:
        detail["hits"] = [{"id": h.get("id"), "title": h.get("title"), "year": h.get("year")} for h in detail["hits"]]
    if node == "retrieve" and "embed" in _plain(update.get("timings_ms") or {}):
        detail["embedded"] = True
    if node == "check_sql":
        detail["verdict"] = "accepted" if update.get("sql_reason") is None else "rejected"
    return detail


def _plain(value: Any) -> Any:
    """A state update's value as plain data: reducer resets unwrapped, Fallbacks as dicts."""
    if isinstance(value, Overwrite):
        value = value.value
    if isinstance(value, list):
        return [asdict(v) if isinstance(v, Fallback) else v for v in value]
    return value


def answer_from_state(values: dict[str, Any], thread_id: str) -> Answer:
    plan = values.get("plan")
    return Answer(
        answer=values.get("answer", ""),
        citations=[Citation(**c) for c in values.get("citations", [])],
        route=values.get("route") or "semantic",
        sql=values.get("sql"),
        sql_draft=values.get("sql_accepted") if values.get("sql") else None,
        plan=plan.model_dump(mode="json", exclude_defaults=True) if plan is not None else None,
        plan_sql=values.get("plan_sql"),
        rows=[{k: v for k, v in r.items() if k != "embedding"} for r in values.get("hits", [])],
        alternatives=list(values.get("alternatives", [])),
        model=values.get("model"),
        fallbacks=list(values.get("fallbacks", [])),
        timings_ms=dict(values.get("timings_ms", {})),
        notes=list(values.get("notes", [])),
        thread_id=thread_id,
    )


class Chatbot:
    """A compiled graph plus its dependencies and checkpointer."""

    def __init__(self, deps: Deps, *, checkpointer: Any = None, closers: list[Any] | None = None):
        if checkpointer is None:
            from langgraph.checkpoint.memory import InMemorySaver

            checkpointer = InMemorySaver(serde=checkpoint_serde())
        self.deps = deps
        self.graph = build_graph(checkpointer)
        self._closers = closers or []

    @classmethod
    async def open(cls, settings: Settings | None = None) -> Chatbot:
        """Real dependencies from settings, with threads persisted in Postgres."""
        from chatbot.wiring import open_deps

        settings = settings or Settings.from_env()
        deps, checkpointer, closers = await open_deps(settings)
        return cls(deps, checkpointer=checkpointer, closers=closers)

    async def aclose(self) -> None:
        for close in reversed(self._closers):
            try:
                await close()
            except Exception:  # closing must not mask the caller's own error
                log.warning("error while closing", exc_info=True)
        self._closers = []

    async def __aenter__(self) -> Chatbot:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def _run_args(self, question: str, thread_id: str | None, options: dict[str, Any] | None,
                  deps: Deps | None) -> tuple[dict[str, Any], dict[str, Any], Deps, str]:
        question = question.strip()
        if not question:
            raise ValueError("The question is empty; ask something about your movies.")
        thread_id = thread_id or uuid.uuid4().hex
        config = {"configurable": {"thread_id": thread_id}}
        # The UI's per-question settings ride in the run context, not in the persisted state.
        return {"question": question}, config, (deps or self.deps).with_options(options), thread_id

    async def astream(
        self, question: str, *, thread_id: str | None = None, options: dict[str, Any] | None = None,
        deps: Deps | None = None,
    ) -> AsyncIterator[StreamEvent]:
        """Steps as nodes finish, answer tokens as they come, then the final Answer."""
        inputs, config, run_deps, thread_id = self._run_args(question, thread_id, options, deps)
        clock = run_deps.clock
        last = clock()
        async for mode, chunk in self.graph.astream(
            inputs, config, context=run_deps, stream_mode=["updates", "custom"], durability=DURABILITY
        ):
            if mode == "custom":
                if "token" in chunk:
                    yield TokenEvent(text=chunk["token"])
                elif "restart" in chunk:
                    yield StepEvent(node="restart", detail={"reason": chunk["restart"]}, elapsed_ms=0.0)
                continue
            for node, update in chunk.items():
                now = clock()
                yield StepEvent(node=node, detail=step_detail(node, update or {}), elapsed_ms=round((now - last) * 1000, 2))
                last = now
        snapshot = await self.graph.aget_state(config)
        yield AnswerEvent(answer=answer_from_state(snapshot.values, thread_id))

    async def aask(
        self, question: str, *, thread_id: str | None = None, options: dict[str, Any] | None = None,
        deps: Deps | None = None,
    ) -> Answer:
        inputs, config, run_deps, thread_id = self._run_args(question, thread_id, options, deps)
        values = await self.graph.ainvoke(inputs, config, context=run_deps, durability=DURABILITY)
        return answer_from_state(values, thread_id)

    def with_deps(self, **changes: Any) -> Deps:
        return replace(self.deps, **changes)


# --- module-level convenience (DESIGN.md: chatbot.ask / chatbot.aask) -------------------------

_shared: dict[int, Chatbot] = {}


async def aask(question: str, *, thread_id: str | None = None) -> Answer:
    """Answer one question with the configured catalog and models (one Chatbot per event loop)."""
    loop_id = id(asyncio.get_running_loop())
    bot = _shared.get(loop_id)
    if bot is None:
        bot = _shared[loop_id] = await Chatbot.open()
    return await bot.aask(question, thread_id=thread_id)


def ask(question: str, *, thread_id: str | None = None) -> Answer:
    """Blocking `aask` for scripts and notebooks without an event loop."""

    async def once() -> Answer:
        async with await Chatbot.open() as bot:
            return await bot.aask(question, thread_id=thread_id)

    return asyncio.run(once())
