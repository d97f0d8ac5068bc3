"""The LLM cascade: ChatOllama models tried in order (primary first), each under a first-token
timeout and a total budget, falling back on timeouts, connection errors, HTTP errors, unknown models
and unusable output. Time spent waiting for a free per-model slot does not count against a model,
so concurrent questions queue instead of timing each other out."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from chatbot.answer import Fallback
from chatbot.prompting import parse_json_object

if TYPE_CHECKING:
    from langchain_core.messages import BaseMessage
    from langchain_ollama import ChatOllama

    from chatbot.settings import Settings

log = logging.getLogger(__name__)

PROBE_TIMEOUT_S = 1.5
"""How long `available()` waits for Ollama to answer GET /api/version."""
PROBE_TTL_S = 10.0
"""How long an `available()` answer is reused."""
CONNECT_TIMEOUT_S = 5.0
"""httpx connect timeout for chat requests (the budgets below bound everything else)."""

TokenCallback = Callable[[str], Awaitable[None]]
RestartCallback = Callable[[str], Awaitable[None]]


@dataclass(frozen=True, kw_only=True)
class LLMConfig:
    base_url: str
    """Where Ollama listens, e.g. http://127.0.0.1:11434."""
    models: tuple[str, ...]
    """Chat models, primary first."""
    first_token_timeout_s: float = 20.0
    """Seconds a model may take, once it has a slot, before its first token."""
    total_timeout_s: float = 90.0
    """Seconds one model may take for one answer, once it has a slot."""
    json_timeout_s: float = 8.0
    """Budget of one `complete_json` attempt (routing, SQL drafting)."""
    max_concurrency: int = 2
    """Requests in flight per model from this process; the rest wait for a slot."""

    @classmethod
    def from_settings(cls, settings: Settings) -> LLMConfig:
        return cls(
            base_url=settings.ollama_base_url,
            models=tuple(settings.models),
            first_token_timeout_s=settings.first_token_timeout_s,
            total_timeout_s=settings.llm_timeout_s,
            json_timeout_s=settings.router_timeout_s,
        )


@dataclass(kw_only=True)
class Completion:
    text: str
    """The full reply of the model that answered."""
    model: str
    """The model that answered."""
    fallbacks: list[Fallback]
    """Models that failed before it, with why, in order."""
    data: dict[str, Any] | None = None
    """The parsed JSON object (complete_json only)."""


class LLMUnavailable(Exception):
    """Every model failed (or none was reachable); `.fallbacks` says why, one per model tried."""

    def __init__(self, fallbacks: list[Fallback]) -> None:
        self.fallbacks = list(fallbacks)
        detail = "; ".join(f"{f.model}: {f.reason}" for f in self.fallbacks) or "no models configured"
        super().__init__(f"No language model answered ({detail}).")


class _Failed(Exception):
    """One attempt failed for a reason already worded for people."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _CallbackFailed(Exception):
    """The caller's on_token raised: that is the caller's error, not the model's."""


@dataclass
class _Attempt:
    sent: bool = False
    """Whether any token of this attempt went to on_token."""


@dataclass
class _LoopState:
    """Clients and semaphores belong to one event loop (httpx pools and asyncio primitives do)."""

    loop: asyncio.AbstractEventLoop
    chats: dict[str, ChatOllama] = field(default_factory=dict)
    slots: dict[str, asyncio.Semaphore] = field(default_factory=dict)
    probe: httpx.AsyncClient | None = None
    probe_lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class ChatCascade:
    """Answers with the first model in `config.models` that works; see the module docstring."""

    def __init__(self, config: LLMConfig) -> None:
        if not config.models:
            raise ValueError("LLMConfig.models is empty; name at least one Ollama model.")
        self.config = config
        self._state: _LoopState | None = None
        self._probe_cache: tuple[float, bool] | None = None

    # --- public --------------------------------------------------------------------------

    async def available(self) -> bool:
        """Whether Ollama answers at all (GET /api/version), cached for PROBE_TTL_S seconds."""
        cached = self._cached_availability()
        if cached is not None:
            return cached
        state = self._loop_state()
        async with state.probe_lock:
            cached = self._cached_availability()
            if cached is not None:
                return cached
            if state.probe is None:
                state.probe = httpx.AsyncClient(
                    base_url=_http_url(self.config.base_url), timeout=PROBE_TIMEOUT_S
                )
            try:
                response = await state.probe.get("/api/version")
                ok = response.status_code == 200
            except httpx.HTTPError as exc:
                log.info("Ollama at %s is not reachable: %s", self.config.base_url, exc)
                ok = False
            self._probe_cache = (time.monotonic(), ok)
            return ok

    async def stream(
        self,
        messages: list[BaseMessage],
        *,
        on_token: TokenCallback | None = None,
        on_restart: RestartCallback | None = None,
    ) -> Completion:
        """Stream an answer, token by token to `on_token`; if a model fails after sending tokens,
        `on_restart(reason)` tells the caller to discard them before the next model starts."""
        cfg = self.config
        fallbacks: list[Fallback] = []
        for model in cfg.models:
            attempt = _Attempt()
            try:
                text = await self._attempt(
                    model,
                    messages,
                    fmt=None,
                    first_s=cfg.first_token_timeout_s,
                    total_s=cfg.total_timeout_s,
                    queue_s=cfg.total_timeout_s,
                    on_token=on_token,
                    attempt=attempt,
                )
                if not text.strip():
                    raise _Failed("empty reply")
            except _CallbackFailed as exc:
                raise exc.__cause__ or exc from None
            except Exception as exc:
                reason = self._note_failure(model, exc)
                fallbacks.append(Fallback(model=model, reason=reason))
                if attempt.sent and on_restart is not None:
                    await on_restart(reason)
                continue
            self._probe_cache = (time.monotonic(), True)
            return Completion(text=text, model=model, fallbacks=fallbacks)
        raise LLMUnavailable(fallbacks)

    async def complete_json(
        self, messages: list[BaseMessage], *, schema: dict[str, Any] | None = None
    ) -> Completion:
        """A JSON object from the first model that produces one (Ollama `format`: the schema, or
        "json"); fences and leading prose are tolerated, missing required keys are not."""
        cfg = self.config
        required = [str(k) for k in (schema or {}).get("required", [])]
        fallbacks: list[Fallback] = []
        for model in cfg.models:
            try:
                text = await self._attempt(
                    model,
                    messages,
                    fmt=schema if schema is not None else "json",
                    first_s=cfg.json_timeout_s,
                    total_s=cfg.json_timeout_s,
                    queue_s=cfg.json_timeout_s,
                    on_token=None,
                    attempt=_Attempt(),
                )
                data = extract_json(text)
                missing = [k for k in required if k not in data]
                if missing:
                    raise _Failed("JSON lacks " + ", ".join(repr(k) for k in missing))
            except Exception as exc:
                fallbacks.append(Fallback(model=model, reason=self._note_failure(model, exc)))
                continue
            self._probe_cache = (time.monotonic(), True)
            return Completion(text=text, model=model, fallbacks=fallbacks, data=data)
        raise LLMUnavailable(fallbacks)

    async def aclose(self) -> None:
        """Close the HTTP clients this cascade opened on the running loop."""
        state, self._state = self._state, None
        if state is None:
            return
        same_loop = state.loop is asyncio.get_running_loop()
        for chat in state.chats.values():
            # ChatOllama keeps its ollama clients private and has no close of its own.
            chat._client.close()
            if same_loop:
                await chat._async_client.close()
        if state.probe is not None and same_loop:
            await state.probe.aclose()
        # Clients of another (finished) loop cannot be closed from here; dropping them lets the
        # garbage collector release their sockets.

    # --- internals -----------------------------------------------------------------------

    def _cached_availability(self) -> bool | None:
        if self._probe_cache is None:
            return None
        at, ok = self._probe_cache
        return ok if time.monotonic() - at < PROBE_TTL_S else None

    def _loop_state(self) -> _LoopState:
        loop = asyncio.get_running_loop()
        if self._state is None or self._state.loop is not loop:
            # A new loop (e.g. a second asyncio.run): the old loop's pools cannot be reused.
            self._state = _LoopState(loop=loop)
        return self._state

    def _chat(self, state: _LoopState, model: str) -> ChatOllama:
        chat = state.chats.get(model)
        if chat is None:
            from langchain_ollama import ChatOllama

            chat = ChatOllama(
                model=model,
                base_url=self.config.base_url,
                client_kwargs={"timeout": httpx.Timeout(None, connect=CONNECT_TIMEOUT_S)},
            )
            state.chats[model] = chat
        return chat

    def _slot(self, state: _LoopState, model: str) -> asyncio.Semaphore:
        sem = state.slots.get(model)
        if sem is None:
            sem = state.slots[model] = asyncio.Semaphore(max(1, self.config.max_concurrency))
        return sem

    def _note_failure(self, model: str, exc: Exception) -> str:
        reason = failure_reason(exc)
        if isinstance(exc, _Failed | httpx.HTTPError | ConnectionError | json.JSONDecodeError):
            log.warning("LLM %s failed (%s); trying the next model", model, reason)
        else:
            log.warning("LLM %s failed (%s); trying the next model", model, reason, exc_info=exc)
        if reason == "cannot connect":
            self._probe_cache = (time.monotonic(), False)
        return reason

    async def _attempt(
        self,
        model: str,
        messages: list[BaseMessage],
        *,
        fmt: str | dict[str, Any] | None,
        first_s: float,
        total_s: float,
        queue_s: float,
        on_token: TokenCallback | None,
        attempt: _Attempt,
    ) -> str:
        state = self._loop_state()
        slot = self._slot(state, model)
        try:
            async with asyncio.timeout(queue_s):
                await slot.acquire()
        except TimeoutError:
            raise _Failed(f"no free slot within {queue_s:g} s") from None
        try:
            # The clocks start only now: queueing behind our own requests is not the model's fault.
            kwargs: dict[str, Any] = {}
            if fmt is not None:
                kwargs = {"format": fmt, "options": {"temperature": 0}}
            chunks = self._chat(state, model).astream(messages, **kwargs)
            return await self._consume(chunks, first_s, total_s, on_token, attempt)
        finally:
            slot.release()

    async def _consume(
        self,
        chunks: AsyncIterator[Any],
        first_s: float,
        total_s: float,
        on_token: TokenCallback | None,
        attempt: _Attempt,
    ) -> str:
        loop = asyncio.get_running_loop()
        start = loop.time()
        first_deadline, total_deadline = start + first_s, start + total_s
        parts: list[str] = []
        done = False
        iterator = aiter(chunks)
        try:
            while True:
                waiting_first = not parts and not done
                deadline = min(first_deadline, total_deadline) if waiting_first else total_deadline
                timer = asyncio.timeout_at(deadline)
                try:
                    async with timer:
                        chunk = await anext(iterator)
                except StopAsyncIteration:
                    break
                except TimeoutError:
                    if not timer.expired():
                        raise
                    if waiting_first and first_deadline <= total_deadline:
                        raise _Failed(f"no first token within {first_s:g} s") from None
                    raise _Failed(f"total budget {total_s:g} s exceeded") from None
                if chunk.response_metadata.get("done") is True:
                    done = True
                text = chunk.content if isinstance(chunk.content, str) else chunk.text
                if text:
                    parts.append(text)
                    if on_token is not None:
                        attempt.sent = True
                        try:
                            await on_token(text)
                        except Exception as exc:
                            raise _CallbackFailed() from exc
        finally:
            aclose = getattr(iterator, "aclose", None)
            if aclose is not None:
                await aclose()
        if not done:
            raise _Failed("reply ended early")
        return "".join(parts)


def failure_reason(exc: BaseException) -> str:
    """A short reason, for people, why one model attempt failed."""
    from ollama import ResponseError
    from pydantic import ValidationError

    if isinstance(exc, _Failed):
        return exc.reason
    if isinstance(exc, ResponseError):
        if exc.status_code == 404:
            return "model not found"
        if exc.status_code > 0:
            return f"HTTP {exc.status_code}"
        return f"Ollama error: {_short(str(exc.error))}"
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | ConnectionError):
        return "cannot connect"
    if isinstance(exc, httpx.TransportError):
        return "connection lost"
    if isinstance(exc, json.JSONDecodeError | ValidationError):
        return "malformed reply"
    return f"{type(exc).__name__}: {_short(str(exc))}"


def extract_json(text: str) -> dict[str, Any]:
    """The JSON object in a model's reply (chatbot.prompting's one parser); a cascade failure if none."""
    try:
        return parse_json_object(text)
    except ValueError:
        raise _Failed("invalid JSON") from None


def _short(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _http_url(base_url: str) -> str:
    url = base_url.strip().rstrip("/")
    return url if "://" in url else f"http://{url}"
