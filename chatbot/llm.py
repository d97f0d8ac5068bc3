"""The LLM cascade: chat models tried in order (primary first), each under a first-token timeout
and a total budget, falling back on timeouts, connection errors, HTTP errors, unknown models and
unusable output (the gate in chatbot.usability). Budgets start when the request is admitted to a
host slot (chatbot.llm_hosts: a per-host limit matching the server's parallelism), so concurrent
questions queue here instead of timing each other out in the server's queue; a model that timed
out is skipped for a cool-down; each prompt gets a `num_ctx` that holds it (chatbot.llm_fit)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from chatbot.answer import Fallback
from chatbot.citations import KnownNames
from chatbot.llm_fit import fit_prompt
from chatbot.llm_hosts import HostPool, shared_pool, split_hosts
from chatbot.prompting import parse_json_object
from chatbot.usability import AnswerGate

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import BaseMessage

    from chatbot.settings import Settings

log = logging.getLogger(__name__)

PROBE_TIMEOUT_S = 3.0
"""How long `available()` waits for Ollama to answer GET /api/version (a refused connection
answers at once; the wait is for a host that is up but busy, which a loaded machine makes slow)."""
PROBE_TTL_S = 10.0
"""How long an `available()` answer is reused."""
CONNECT_TIMEOUT_S = 5.0
"""httpx connect timeout for chat requests (the budgets below bound everything else)."""
HOLD_CHARS = 120
"""An answer's first characters are held back until the gate has judged them, so a recited prompt
is never shown; later problems retract the shown text through on_restart."""
CHECK_EVERY_CHARS = 200

TokenCallback = Callable[[str], Awaitable[None]]
RestartCallback = Callable[[str], Awaitable[None]]
ChatFactory = Callable[..., "BaseChatModel"]
"""Builds one chat model: called with model=, base_url= and client_kwargs= (ChatOllama's names)."""

BUSY = "busy"
TIMEOUT_PREFIXES = ("no first token within", "total budget")


@dataclass(frozen=True, kw_only=True)
class LLMConfig:
    base_url: str
    """Where Ollama listens, e.g. http://127.0.0.1:11434; a comma list spreads over several hosts."""
    models: tuple[str, ...]
    """Chat models, primary first."""
    first_token_timeout_s: float = 20.0
    """Seconds a model may take, once admitted to a host slot, before its first token."""
    total_timeout_s: float = 90.0
    """Seconds one model may take for one answer, once admitted."""
    json_timeout_s: float = 8.0
    """Budget of one `complete_json` attempt (routing, SQL drafting), once admitted."""
    host_parallel: int = 1
    """Requests one host serves at once (set it to the server's OLLAMA_NUM_PARALLEL)."""
    cooldown_s: float = 60.0
    """A model that timed out (or a host that refused) is skipped this long, then tried once."""
    max_ctx: int = 8192
    """Largest num_ctx asked for; longer prompts lose rows from their end to fit."""
    answer_tokens: int = 512
    """num_predict for answers."""
    json_tokens: int = 256
    """num_predict for JSON replies (plans, SQL drafts)."""

    @property
    def hosts(self) -> tuple[str, ...]:
        return split_hosts(self.base_url)

    @classmethod
    def from_settings(cls, settings: Settings) -> LLMConfig:
        return cls(
            base_url=settings.ollama_base_url,
            models=tuple(settings.models),
            first_token_timeout_s=settings.first_token_timeout_s,
            total_timeout_s=settings.llm_timeout_s,
            json_timeout_s=settings.router_timeout_s,
            host_parallel=settings.ollama_parallel,
            cooldown_s=settings.llm_cooldown_s,
            max_ctx=settings.num_ctx_max,
            answer_tokens=settings.answer_max_tokens,
        )


@dataclass(kw_only=True)
class Completion:
    """What a model answered (the one type for it: cascade, test fakes and bench stand-ins)."""

    text: str
    """The full reply of the model that answered."""
    model: str
    """The model that answered."""
    fallbacks: list[Fallback] = field(default_factory=list)
    """Models that failed before it, with why, in order."""
    data: dict[str, Any] | None = None
    """The parsed JSON object (complete_json only)."""
    host: str | None = None
    """The Ollama host that answered."""
    queued_ms: float = 0.0
    """Time spent waiting for a host slot (not charged to the model)."""
    first_token_ms: float | None = None
    """From admission to the first token."""
    num_ctx: int | None = None
    dropped_rows: int = 0
    """Catalog rows left out of the prompt to fit num_ctx."""


NO_LLM_NOTE = "No LLM was reachable, so this answer lists the catalog rows directly."


class LLMUnavailable(Exception):
    """Every model failed (or none was reachable); `.fallbacks` says why, one per model tried."""

    def __init__(self, fallbacks: list[Fallback]) -> None:
        self.fallbacks = list(fallbacks)
        detail = "; ".join(f"{f.model}: {f.reason}" for f in self.fallbacks) or "no models configured"
        super().__init__(f"No language model answered ({detail}).")

    @property
    def note(self) -> str:
        """One line for the person: unusable, busy or down — not always "unreachable"."""
        return self.note_with("answered from the catalog rows instead")

    def note_with(self, instead: str) -> str:
        """`note`, saying what was shown instead of the model's answer (`instead`)."""
        reasons = [f.reason for f in self.fallbacks]
        if reasons and all(r.startswith("unusable answer") for r in reasons):
            return "The model's answer was not usable (" + reasons[-1].removeprefix("unusable answer: ") + f"); {instead}."
        if any(r.startswith(BUSY) or r.startswith(TIMEOUT_PREFIXES) for r in reasons):
            return f"The language models were busy or too slow; {instead}."
        if any(r.startswith("unusable answer") for r in reasons):
            return f"No model gave a usable answer; {instead}."
        return NO_LLM_NOTE


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
    queued_s: float = 0.0
    first_s: float | None = None


@dataclass
class _LoopState:
    """Clients belong to one event loop (httpx pools do)."""

    loop: asyncio.AbstractEventLoop
    chats: dict[tuple[str, str], BaseChatModel] = field(default_factory=dict)
    probe: dict[str, httpx.AsyncClient] = field(default_factory=dict)
    probe_lock: asyncio.Lock = field(default_factory=asyncio.Lock)


def _ollama_factory() -> ChatFactory:
    from langchain_ollama import ChatOllama

    return ChatOllama


class ChatCascade:
    """Answers with the first model in `config.models` that works; see the module docstring.

    `chat_factory` builds each model's client (default ChatOllama); unit tests pass a factory of
    LangChain's fake chat models. `pool` is the host pool (default: shared process-wide)."""

    def __init__(
        self, config: LLMConfig, chat_factory: ChatFactory | None = None, *, pool: HostPool | None = None
    ) -> None:
        if not config.models:
            raise ValueError("LLMConfig.models is empty; name at least one Ollama model.")
        if not config.hosts:
            raise ValueError("LLMConfig.base_url names no host; give a URL such as http://127.0.0.1:11434.")
        self.config = config
        self.chat_factory = chat_factory
        self.pool = pool or shared_pool(config.hosts, config.host_parallel, config.cooldown_s)
        self._state: _LoopState | None = None
        self._probe_cache: tuple[float, bool] | None = None

    # --- public --------------------------------------------------------------------------

    async def available(self) -> bool:
        """Whether some host answers at all (GET /api/version), cached for PROBE_TTL_S seconds.
        A cascade with a custom chat_factory (no Ollama wire) is always available."""
        if self.chat_factory is not None and self.chat_factory is not _ollama_factory():
            return True
        cached = self._cached_availability()
        if cached is not None:
            return cached
        state = self._loop_state()
        async with state.probe_lock:
            cached = self._cached_availability()
            if cached is not None:
                return cached
            ok = False
            for host in self.config.hosts:
                client = state.probe.get(host)
                if client is None:
                    client = state.probe[host] = httpx.AsyncClient(base_url=host, timeout=PROBE_TIMEOUT_S)
                try:
                    up = (await client.get("/api/version")).status_code == 200
                except httpx.HTTPError as exc:
                    log.info("Ollama at %s is not reachable: %s", host, exc)
                    up = False
                if up:
                    self.pool.mark_up(host)
                    ok = True
                else:
                    self.pool.mark_down(host)
            self._probe_cache = (time.monotonic(), ok)
            return ok

    async def stream(
        self,
        messages: list[BaseMessage],
        *,
        on_token: TokenCallback | None = None,
        on_restart: RestartCallback | None = None,
        titles: Sequence[str] | None = None,
        names: KnownNames | None = None,
    ) -> Completion:
        """Stream an answer, token by token to `on_token`; if a model fails after sending tokens,
        `on_restart(reason)` tells the caller to discard them before the next model starts.

        Every answer passes the usability gate (`titles`: the rows it should draw on; None reads
        them from the JSON rows of the last user turn; `names`: what the citation check knows)."""
        cfg = self.config
        gate = AnswerGate(messages, titles, names)
        fallbacks: list[Fallback] = []
        for model in cfg.models:
            attempt = _Attempt()
            try:
                text, host, fitted = await self._on_some_host(
                    model, messages, fmt=None, first_s=cfg.first_token_timeout_s,
                    total_s=cfg.total_timeout_s, num_predict=cfg.answer_tokens,
                    on_token=on_token, attempt=attempt, gate=gate, fallbacks=fallbacks,
                )
            except _CallbackFailed as exc:
                raise exc.__cause__ or exc from None
            except Exception as exc:
                reason = self._note_failure(model, exc)
                fallbacks.append(Fallback(model=model, reason=reason))
                if attempt.sent and on_restart is not None:
                    await on_restart(reason)
                continue
            return self._completion(text, model, host, fallbacks, attempt, fitted)
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
            attempt = _Attempt()
            try:
                text, host, fitted = await self._on_some_host(
                    model, messages, fmt=schema if schema is not None else "json",
                    first_s=cfg.json_timeout_s, total_s=cfg.json_timeout_s,
                    num_predict=cfg.json_tokens, on_token=None, attempt=attempt, gate=None,
                    fallbacks=fallbacks,
                )
                data = extract_json(text)
                missing = [k for k in required if k not in data]
                if missing:
                    raise _Failed("JSON lacks " + ", ".join(repr(k) for k in missing))
            except Exception as exc:
                fallbacks.append(Fallback(model=model, reason=self._note_failure(model, exc)))
                continue
            done = self._completion(text, model, host, fallbacks, attempt, fitted)
            done.data = data
            return done
        raise LLMUnavailable(fallbacks)

    async def aclose(self) -> None:
        """Close the HTTP clients this cascade opened on the running loop."""
        state, self._state = self._state, None
        if state is None:
            return
        same_loop = state.loop is asyncio.get_running_loop()
        for chat in state.chats.values():
            # ChatOllama keeps its ollama clients private and has no close of its own.
            client = getattr(chat, "_client", None)
            if client is not None:
                client.close()
            async_client = getattr(chat, "_async_client", None)
            if async_client is not None and same_loop:
                await async_client.close()
        if same_loop:
            for probe in state.probe.values():
                await probe.aclose()
        # Clients of another (finished) loop cannot be closed from here; dropping them lets the
        # garbage collector release their sockets.

    # --- internals -----------------------------------------------------------------------

    def _completion(
        self, text: str, model: str, host: str, fallbacks: list[Fallback], attempt: _Attempt, fitted: Any
    ) -> Completion:
        self._probe_cache = (time.monotonic(), True)
        return Completion(
            text=text, model=model, fallbacks=fallbacks, host=host,
            queued_ms=round(attempt.queued_s * 1000, 1),
            first_token_ms=None if attempt.first_s is None else round(attempt.first_s * 1000, 1),
            num_ctx=fitted.num_ctx, dropped_rows=fitted.dropped_rows,
        )

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

    def _chat(self, state: _LoopState, host: str, model: str) -> BaseChatModel:
        chat = state.chats.get((host, model))
        if chat is None:
            factory = self.chat_factory or _ollama_factory()
            chat = factory(
                model=model, base_url=host,
                client_kwargs={"timeout": httpx.Timeout(None, connect=CONNECT_TIMEOUT_S)},
            )
            state.chats[(host, model)] = chat
        return chat

    def _note_failure(self, model: str, exc: Exception) -> str:
        reason = failure_reason(exc)
        if isinstance(exc, _Failed | httpx.HTTPError | ConnectionError | json.JSONDecodeError):
            log.warning("LLM %s failed (%s); trying the next model", model, reason)
        else:
            log.warning("LLM %s failed (%s); trying the next model", model, reason, exc_info=exc)
        if reason.startswith("cannot connect") and len(self.config.hosts) == 1:
            self._probe_cache = (time.monotonic(), False)
        return reason

    async def _on_some_host(
        self, model: str, messages: list[BaseMessage], *, fallbacks: list[Fallback], **kw: Any
    ) -> tuple[str, str, Any]:
        """Try `model` on each usable host in turn; a host that cannot be reached, or lacks the
        model, is skipped like a failed model (noted in `fallbacks` when there are several)."""
        kind = "json" if kw.get("fmt") is not None else "answer"
        hosts = self.pool.order_for(model, kind)
        if not hosts:
            raise _Failed(f"{BUSY}: timed out recently; skipped until its cool-down ends")
        several = len(self.config.hosts) > 1
        for i, host in enumerate(hosts):
            try:
                return await self._attempt(host, model, messages, **kw)
            except Exception as exc:
                reason = failure_reason(exc)
                hop = reason.startswith("cannot connect") or reason == "model not found"
                if reason.startswith("cannot connect"):
                    self.pool.mark_down(host)
                if not (hop and several and i + 1 < len(hosts)):
                    if several:
                        raise _Failed(f"{reason} ({host})") from exc
                    raise
                log.warning("LLM %s on %s failed (%s); trying the next host", model, host, reason)
                fallbacks.append(Fallback(model=model, reason=f"{reason} ({host})"))
        raise AssertionError("unreachable")  # pragma: no cover

    async def _attempt(
        self,
        host: str,
        model: str,
        messages: list[BaseMessage],
        *,
        fmt: str | dict[str, Any] | None,
        first_s: float,
        total_s: float,
        num_predict: int,
        on_token: TokenCallback | None,
        attempt: _Attempt,
        gate: AnswerGate | None,
    ) -> tuple[str, str, Any]:
        cfg = self.config
        state = self._loop_state()
        fitted = fit_prompt(messages, num_predict=num_predict, max_ctx=cfg.max_ctx)
        breaker = self.pool.breaker(host, model, "json" if fmt is not None else "answer")
        if not breaker.claim(self.pool.clock(), cfg.cooldown_s):
            raise _Failed(f"{BUSY}: timed out recently; skipped until its cool-down ends")
        try:
            async with self.pool.admitted(host, queue_s=cfg.total_timeout_s) as queued:
                attempt.queued_s = queued
                # The clocks start only now: waiting for a slot is not the model's fault.
                options: dict[str, Any] = {"num_ctx": fitted.num_ctx, "num_predict": num_predict}
                if fmt is not None:
                    options["temperature"] = 0
                kwargs: dict[str, Any] = {"options": options}
                if fmt is not None:
                    kwargs["format"] = fmt
                chunks = self._chat(state, host, model).astream(fitted.messages, **kwargs)
                text = await self._consume(chunks, first_s, total_s, on_token, attempt, gate, model)
        except TimeoutError:
            breaker.record_other()
            raise _Failed(f"{BUSY}: no free slot on the server within {cfg.total_timeout_s:g} s") from None
        except _Failed as exc:
            if exc.reason.startswith(TIMEOUT_PREFIXES):
                breaker.record_timeout(self.pool.clock())
            elif exc.reason.startswith("unusable") or exc.reason == "reply ended early":
                breaker.record_answer()
            else:
                breaker.record_other()
            raise
        except BaseException:
            breaker.record_other()
            raise
        breaker.record_answer()
        self.pool.mark_up(host)
        return text, host, fitted

    async def _consume(
        self,
        chunks: AsyncIterator[Any],
        first_s: float,
        total_s: float,
        on_token: TokenCallback | None,
        attempt: _Attempt,
        gate: AnswerGate | None,
        model: str,
    ) -> str:
        loop = asyncio.get_running_loop()
        start = loop.time()
        first_deadline, total_deadline = start + first_s, start + total_s
        parts: list[str] = []
        held: list[str] = []
        size, next_check = 0, HOLD_CHARS
        done = False
        ollama_wire = self.chat_factory is None or self.chat_factory is _ollama_factory()
        iterator = aiter(chunks)

        async def emit(pieces: list[str]) -> None:
            if on_token is None:
                return
            for piece in pieces:
                attempt.sent = True
                try:
                    await on_token(piece)
                except Exception as exc:
                    raise _CallbackFailed() from exc

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
                if not text:
                    continue
                if attempt.first_s is None:
                    attempt.first_s = loop.time() - start
                parts.append(text)
                size += len(text)
                if gate is not None and size >= next_check:
                    next_check = size + CHECK_EVERY_CHARS
                    problem = gate.early("".join(parts))
                    if problem:
                        raise _Failed(f"unusable answer: {problem}")
                if gate is not None and not attempt.sent and size < HOLD_CHARS:
                    held.append(text)
                    continue
                await emit([*held, text])
                held = []
        finally:
            aclose = getattr(iterator, "aclose", None)
            if aclose is not None:
                await aclose()
        if ollama_wire and not done:
            raise _Failed("reply ended early")
        full = "".join(parts)
        if gate is not None:
            problem = await asyncio.to_thread(gate.final, full) if gate.scans_catalog else gate.final(full)
            if problem:
                raise _Failed(f"unusable answer: {problem}")
        elif not full.strip():
            raise _Failed("empty reply")
        await emit(held)
        return full


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
