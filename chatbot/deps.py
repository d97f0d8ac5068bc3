"""Run-time dependencies of the graph (LangGraph context) and the Protocols they satisfy."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from langchain_core.messages import BaseMessage

from chatbot.citations import KnownNames
from chatbot.llm import Completion
from retrieval.plan import QueryPlan, Vocabulary
from retrieval.profiles import DEFAULT_PROFILE
from retrieval.types import Catalog, Embedder, Metric, MovieHit


class ChatModel(Protocol):
    """The LLM cascade (chatbot.llm.ChatCascade); tests pass a fake."""

    async def available(self) -> bool: ...

    async def stream(
        self, messages: list[BaseMessage], *,
        on_token: Callable[[str], Awaitable[None]] | None = None,
        on_restart: Callable[[str], Awaitable[None]] | None = None,
        titles: Sequence[str] | None = None,
        names: KnownNames | None = None,
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


class PlanCatalog(Catalog, Protocol):
    """The catalog with query plans: its vocabulary, and plans compiled to SQL and run over it
    (retrieval.compile via PgCatalog)."""

    def vocabulary(self) -> Vocabulary: ...

    def run_plan(
        self, plan: QueryPlan, *, ids: Sequence[int] | None = None, vector: Sequence[float] | None = None,
        metric: Metric = "cosine", cap: int = 500, k: int = 10,
    ) -> Any: ...


# recommend(liked_ids, *, k) -> hits
Recommender = Callable[..., list[MovieHit]]


@dataclass(frozen=True, kw_only=True)
class Deps:
    catalog: PlanCatalog
    embedder: Embedder
    chat: ChatModel | None = None
    """None: no LLM configured (MOVIE_RAG_LLM=none); answers are extractive."""
    sql: SqlGuard | None = None
    """None: the SQL path is unavailable."""
    recommend: Recommender | None = None
    """'Users like you' recommendations from ratings, seeded by liked movie ids."""
    rate: Callable[[str, int, float | None], None] | None = None
    """Store one person's stars for one film (`retrieval.users.rate` on the primary)."""
    ratings: Callable[[str], Mapping[int, float]] | None = None
    """One person's stored stars (`retrieval.users.ratings_of` on the primary)."""
    examples: Callable[[], Sequence[tuple[str, str]]] | None = None
    """Verified (question, SQL) pairs people approved in the UI; few-shot examples for drafting."""
    clock: Callable[[], float] = time.perf_counter
    # --- per-question settings (the UI's options land here via `with_options`, not in state)
    k: int = 8
    """How many nearest neighbours a similarity or plot search shows."""
    metric: Metric = "cosine"
    sql_mode: bool = True
    """Let the LLM draft free-form SQL for what a plan cannot express."""
    hybrid: bool = True
    """Plot searches mix keyword and vector ranking (False: vector only)."""
    llm_routing: bool = True
    """Let a reachable LLM fill the query plan when the rules' reading is empty or unsure."""
    owner: str | None = None
    """Whose stored stars (person_ratings) seed recommendations (the UI sets it per person)."""
    row_cap: int = 50
    """The most rows free-form SQL returns."""
    set_cap: int = 500
    """The most rows a plan's set returns (the answer states the cap when it is hit)."""
    profile: str | None = None
    """Embedding profile whose vectors rank similar titles and plot searches (None: the default,
    minilm), or `BLEND` (what chatbot.wiring starts with when MovieLens ratings are loaded):
    similar titles by retrieval/profiles_blend.py (content + genre + co-liking), plot searches
    and plans as by default. The profile's vectors also rank and
    order compiled plans ("90s comedies about friendship", "like Up but from the 80s")."""

    def with_options(self, options: Mapping[str, Any] | None) -> Deps:
        """These deps with one question's UI settings (k, metric, sql_mode, hybrid, profile) applied."""
        known = {k: v for k, v in (options or {}).items() if k in OPTION_NAMES and v is not None}
        if not known:
            return self
        deps = replace(self, **known)
        if known.get("profile") not in (None, self.profile):
            base = self.catalog.catalog if isinstance(self.catalog, ProfileCatalog) else self.catalog
            chosen = known["profile"]
            deps = replace(deps, catalog=base if chosen == DEFAULT_PROFILE else ProfileCatalog(base, chosen))
        return deps


OPTION_NAMES = ("k", "metric", "sql_mode", "hybrid", "llm_routing", "owner", "profile")
BLEND = "blend"
"""The `profile` option that ranks similar titles by the blend instead of one profile's vectors."""


class ProfileCatalog:
    """A catalog whose `similar`, `search` and `run_plan` rank by one embedding profile's vectors
    (or whose `similar` is the blend); every other call goes to the catalog as it is
    (`retrieval.search.PgCatalog` takes `profile=`)."""

    def __init__(self, catalog: Any, profile: str):
        self.catalog, self.profile = catalog, profile

    def similar(self, title: str, **kw: Any) -> list[MovieHit]:
        if self.profile == BLEND:  # one ranking of its own: no metric, no filters
            from retrieval.profiles_blend import blended_similar

            anchor, _, _ = self.catalog.resolve(title, kw.get("year"))
            # a film the loaded blend does not know yet (just ingested) is ranked by its vectors
            return blended_similar(self.catalog.engine, anchor, k=int(kw.get("k", 10))) or self.catalog.similar(title, **kw)
        return self.catalog.similar(title, **kw, profile=self.profile)  # type: ignore[no-any-return]

    def search(self, text: str, **kw: Any) -> list[MovieHit]:
        if self.profile == BLEND:
            return self.catalog.search(text, **kw)  # type: ignore[no-any-return]
        # The graph embedded the question with the default model: the profile embeds it itself.
        kw.pop("vector", None)
        return self.catalog.search(text, **kw, profile=self.profile)  # type: ignore[no-any-return]

    def run_plan(self, plan: QueryPlan, **kw: Any) -> Any:
        if self.profile == BLEND:
            return self._blend_plan(plan, kw) or self.catalog.run_plan(plan, **kw)
        kw.pop("vector", None)  # as in search: the profile's model embeds the phrase
        return self.catalog.run_plan(plan, **kw, profile=self.profile)

    def _blend_plan(self, plan: QueryPlan, kw: dict[str, Any]) -> Any:
        """"Movies like Toy Story from the 90s" by the blend: its BLEND_POOL best films for the one
        anchor, kept by the plan's conditions, in the blend's order (None: not such a plan, or a
        film the loaded blend does not know)."""
        from retrieval.profiles_blend import blended_similar

        if plan.intent != "similar" or len(plan.anchors) != 1 or plan.sort or kw.get("ids") is not None:
            return None
        pool = blended_similar(self.catalog.engine, plan.anchors[0], k=BLEND_POOL)
        if not pool:
            return None
        k = int(plan.limit or kw.get("k", 10))
        kept = plan.model_copy(update={"intent": "list", "anchors": (), "limit": k})
        result = self.catalog.run_plan(kept, **{**kw, "ids": [h.id for h in pool]})
        return replace(result, ranked=True, total=len(result.rows), capped=False)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.catalog, name)


BLEND_POOL = 500
"""Films the blend ranks for a "like X" question with conditions; the conditions keep some."""
