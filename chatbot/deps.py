"""Run-time dependencies of the graph (LangGraph context) and the Protocols they satisfy."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from langchain_core.messages import BaseMessage

from chatbot.llm import Completion
from retrieval.types import Catalog, Embedder, MovieHit


class ChatModel(Protocol):
    """The LLM cascade (chatbot.llm.ChatCascade); tests pass a fake."""

    async def available(self) -> bool: ...

    async def stream(
        self, messages: list[BaseMessage], *,
        on_token: Callable[[str], Awaitable[None]] | None = None,
        on_restart: Callable[[str], Awaitable[None]] | None = None,
        titles: Sequence[str] | None = None,
    ) -> Completion: ...

    async def complete_json(
        self, messages: list[BaseMessage], *, schema: dict[str, Any] | None = None
    ) -> Completion: ...


class Guarded(Protocol):
    sql: str
    """What runs (psycopg parameters, `%` doubled)."""
    readable: str
    """The same SQL as a person reads it."""
    phrases: Mapping[str, str]


class SqlGuard(Protocol):
    """Checks LLM SQL (raises retrieval.sqlguard.UnsafeSQL) and runs it read-only."""

    def check(self, sql: str) -> Guarded: ...

    def run(self, sql: str, params: Mapping[str, Any]) -> list[dict[str, Any]]: ...


# recommend(liked_ids, *, k) -> hits
Recommender = Callable[..., list[MovieHit]]


@dataclass(frozen=True, kw_only=True)
class Deps:
    catalog: Catalog
    embedder: Embedder
    chat: ChatModel | None = None
    """None: no LLM configured (MOVIE_RAG_LLM=none); answers are extractive."""
    sql: SqlGuard | None = None
    """None: the SQL path is unavailable."""
    recommend: Recommender | None = None
    """'Users like you' recommendations from ratings, seeded by liked movie ids."""
    examples: Callable[[], Sequence[tuple[str, str]]] | None = None
    """Verified (question, SQL) pairs people approved in the UI; few-shot examples for drafting."""
    clock: Callable[[], float] = time.perf_counter
    k: int = 8
    sql_mode: bool = True
    llm_routing: bool = False
    """Ask the LLM to re-route questions in which the rules found no signal."""
    row_cap: int = 50
