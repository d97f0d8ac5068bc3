"""Where LLM requests go and when they may start: several Ollama hosts, a per-host parallelism
limit that matches the server's own (OLLAMA_NUM_PARALLEL), so requests queue here where the wait
is not charged to the model, and a circuit breaker per (host, model) so a model that just timed
out is skipped for a cool-down instead of costing every next question its full wait.

Breakers are kept per kind of call too ("answer" or "json"): a JSON draft that overran its short
budget says little about whether the model can stream an answer within its own.

One `HostPool` is shared by every cascade in the process that talks to the same hosts (the chat
UI builds one cascade per model list), so the limit and the breakers hold process-wide.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import weakref
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field


def split_hosts(base_url: str) -> tuple[str, ...]:
    """`http://a:11434, b:11434` -> ('http://a:11434', 'http://b:11434'), order kept, no repeats."""
    hosts: list[str] = []
    for raw in base_url.split(","):
        url = raw.strip().rstrip("/")
        if not url:
            continue
        url = url if "://" in url else f"http://{url}"
        if url not in hosts:
            hosts.append(url)
    return tuple(hosts)


@dataclass
class Breaker:
    """closed -> (timeout) open -> (cool-down over) half-open: one trial -> closed or open again."""

    opened_at: float | None = None
    trial: bool = False
    """A half-open trial request is in flight; others keep skipping until it ends."""

    def allows(self, now: float, cooldown_s: float) -> bool:
        """Whether a request could go now (no side effect; `claim` takes the trial)."""
        if self.opened_at is None:
            return True
        return now - self.opened_at >= cooldown_s and not self.trial

    def claim(self, now: float, cooldown_s: float) -> bool:
        """Take permission for one request: always when closed, once per cool-down when open."""
        if not self.allows(now, cooldown_s):
            return False
        if self.opened_at is not None:
            self.trial = True  # this caller is the half-open trial
        return True

    def record_timeout(self, now: float) -> None:
        self.opened_at, self.trial = now, False

    def record_answer(self) -> None:
        """The model answered in time (whatever the answer's worth): close the breaker."""
        self.opened_at, self.trial = None, False

    def record_other(self) -> None:
        """An attempt ended for a reason that says nothing about speed; a trial slot is freed."""
        self.trial = False


@dataclass
class _HostState:
    down_since: float | None = None
    """Set when a connection to the host failed; cleared by the next successful request."""
    in_flight: int = 0
    """Requests admitted or waiting for admission (used to spread load over hosts)."""


@dataclass
class HostPool:
    hosts: tuple[str, ...]
    parallel: int = 1
    """Requests one host serves at once (the server's OLLAMA_NUM_PARALLEL)."""
    cooldown_s: float = 60.0
    """How long a timed-out model (or an unreachable host) is skipped before one trial request."""
    clock: Callable[[], float] = time.monotonic
    _breakers: dict[tuple[str, str, str], Breaker] = field(default_factory=dict)
    _state: dict[str, _HostState] = field(default_factory=dict)
    _gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Semaphore]] = field(
        default_factory=weakref.WeakKeyDictionary
    )

    def breaker(self, host: str, model: str, kind: str = "answer") -> Breaker:
        return self._breakers.setdefault((host, model, kind), Breaker())

    def host_state(self, host: str) -> _HostState:
        return self._state.setdefault(host, _HostState())

    def order_for(self, model: str, kind: str = "answer") -> list[str]:
        """Hosts to try for `model`: reachable before recently unreachable, then least busy, then
        configured order. Hosts whose breaker for this model is open are left out."""
        now = self.clock()

        def key(item: tuple[int, str]) -> tuple[bool, int, int]:
            index, host = item
            st = self.host_state(host)
            down = st.down_since is not None and now - st.down_since < self.cooldown_s
            return (down, st.in_flight, index)

        ranked = [h for _, h in sorted(enumerate(self.hosts), key=key)]
        return [h for h in ranked if self.breaker(h, model, kind).allows(now, self.cooldown_s)]

    def mark_down(self, host: str) -> None:
        self.host_state(host).down_since = self.clock()

    def mark_up(self, host: str) -> None:
        self.host_state(host).down_since = None

    def _gate(self, host: str) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        gates = self._gates.get(loop)
        if gates is None:
            gates = self._gates[loop] = {}
        gate = gates.get(host)
        if gate is None:
            gate = gates[host] = asyncio.Semaphore(max(1, self.parallel))
        return gate

    @contextlib.asynccontextmanager
    async def admitted(self, host: str, queue_s: float) -> AsyncIterator[float]:
        """Hold one of the host's slots; yields the seconds spent waiting for it. Raises
        TimeoutError when no slot frees up within `queue_s`."""
        gate = self._gate(host)
        st = self.host_state(host)
        st.in_flight += 1
        started = self.clock()
        try:
            async with asyncio.timeout(queue_s):
                await gate.acquire()
        except BaseException:
            st.in_flight -= 1
            raise
        try:
            yield self.clock() - started
        finally:
            gate.release()
            st.in_flight -= 1


_SHARED: weakref.WeakValueDictionary[tuple[tuple[str, ...], int, float], HostPool] = weakref.WeakValueDictionary()
"""Pools live while some cascade holds them, so a closed app (or test) leaves no breaker behind."""


def forget_shared_pools() -> None:
    """Drop every shared pool (their breakers and slots): for tests that reuse one server."""
    _SHARED.clear()


def shared_pool(hosts: Sequence[str], parallel: int, cooldown_s: float) -> HostPool:
    """The process-wide pool for these hosts and limits (created on first use)."""
    key = (tuple(hosts), parallel, cooldown_s)
    pool = _SHARED.get(key)
    if pool is None:
        pool = HostPool(hosts=tuple(hosts), parallel=parallel, cooldown_s=cooldown_s)
        _SHARED[key] = pool
    return pool
