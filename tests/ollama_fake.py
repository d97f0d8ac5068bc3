"""A loopback HTTP server that speaks the Ollama API the way `langchain_ollama.ChatOllama` (via the
`ollama` client over httpx) calls it, scriptable per model, so tests drive the real client over a
real socket. Any process that can reach `fake.base_url` can use it (e.g. an app started by a test).

    with OllamaFake() as fake:
        fake.script("llama3.1:8b", replies=[(r"nemo", "Try Finding Dory.")], default="Hello.")
        fake.script("llama3.2:3b", failure="hang")
        ...  # point the code under test at fake.base_url
        assert [r.model for r in fake.chat_requests()] == ["llama3.1:8b"]

An app in a subprocess only needs the URL: start it with OLLAMA_BASE_URL=fake.base_url in its
environment while the `with` block (the serving threads live in the test process) is open.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import select
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

from ollama_wire import chat_done, chat_part, details, fake_embedding, line, not_found, split_tokens

Failure = Literal["hang", "broken_json", "no_done", "error_line"]
"""How a scripted model misbehaves after `fail_after_tokens` tokens:
hang (stop sending, never finish), broken_json (a truncated NDJSON line, then end), no_done (end the
stream without the final `done` object), error_line (an in-stream `{"error": ...}` like Ollama sends
on a runner crash)."""

Reply = str | Callable[["RecordedRequest"], str]

_POLL_S = 0.02
_VERSION = "0.12.6"


@dataclass(frozen=True, kw_only=True)
class ModelScript:
    """How one fake model behaves. Replace with `OllamaFake.script`, change with `update`."""

    replies: Sequence[tuple[str, Reply]] = ()
    """(regex, reply) pairs tried in order on the last user message (re.search, case-insensitive);
    the first match wins. A reply may be a callable taking the RecordedRequest."""
    default: Reply = "OK."
    """The reply when no pattern matches (and `queue` is empty)."""
    queue: Sequence[Reply] = ()
    """Replies served one per chat request, in order, before patterns are consulted."""
    first_token_delay: float = 0.0
    """Seconds after taking a slot before the first token (or the whole non-streaming body)."""
    token_delay: float = 0.0
    """Seconds between tokens."""
    status: int | None = None
    """Answer chat requests with this HTTP status and `{"error": error}` instead."""
    error: str = "internal server error"
    failure: Failure | None = None
    fail_after_tokens: int = 0
    """Tokens sent normally before `failure` (hang/broken_json/no_done/error_line) kicks in."""
    max_concurrency: int | None = None
    """Chat requests served at once; the rest wait in a FIFO queue like Ollama's."""
    embedding_dim: int = 384
    """Length of the deterministic vectors /api/embed returns."""
    context: int | None = None
    """Like Ollama's context window: when set, a chat whose words (split_tokens) exceed
    options.num_ctx (or this, when the request sets none) loses its *front* before the reply is
    chosen, as Ollama silently does — so replies can show whether the rules and question survived."""


@dataclass(frozen=True, kw_only=True)
class RecordedRequest:
    """One request the fake received (recorded on arrival, before any queueing)."""

    method: str
    path: str
    model: str | None
    messages: list[dict[str, Any]]
    format: Any
    stream: bool | None
    options: dict[str, Any] | None
    body: dict[str, Any]
    time: float
    """time.monotonic() at arrival."""

    @property
    def last_user(self) -> str:
        for message in reversed(self.messages):
            if message.get("role") == "user":
                return str(message.get("content") or "")
        return ""


class _Slots:
    """A FIFO counting gate: the first `capacity` requests run, the rest wait their turn."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._waiting: deque[object] = deque()
        self._busy = 0
        self.peak = 0

    def acquire(self, capacity: int | None, give_up: Callable[[], bool]) -> bool:
        if capacity is None:
            with self._cond:
                self._busy += 1
                self.peak = max(self.peak, self._busy)
            return True
        ticket = object()
        with self._cond:
            self._waiting.append(ticket)
            try:
                while not (self._waiting[0] is ticket and self._busy < capacity):
                    if give_up():
                        return False
                    self._cond.wait(_POLL_S)
                self._busy += 1
                self.peak = max(self.peak, self._busy)
                return True
            finally:
                self._waiting.remove(ticket)
                self._cond.notify_all()

    def release(self) -> None:
        with self._cond:
            self._busy -= 1
            self._cond.notify_all()


class _Server(ThreadingHTTPServer):
    daemon_threads = False  # so server_close() joins every handler thread
    block_on_close = True
    request_queue_size = 128  # many concurrent clients connect at once; don't drop their SYNs

    def __init__(self, fake: OllamaFake) -> None:
        self.fake = fake
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = super().get_request()
        with self._conns_lock:
            self._conns.add(sock)
        return sock, addr

    def shutdown_request(self, request: Any) -> None:
        with self._conns_lock:
            self._conns.discard(request)
        super().shutdown_request(request)

    def drop_connections(self) -> None:
        """Unblock handlers parked on keep-alive reads so their threads can end."""
        with self._conns_lock:
            conns = list(self._conns)
        for sock in conns:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class _Abort(Exception):
    """The client went away or the fake is stopping: end this handler quietly."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    # --- plumbing ------------------------------------------------------------------------

    @property
    def fake(self) -> OllamaFake:
        return self.server.fake

    def _client_gone(self) -> bool:
        if self.fake._stopping.is_set():
            return True
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            if readable:
                return self.connection.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True
        return False

    def _pause(self, seconds: float) -> None:
        """Sleep, but give up early (raise _Abort) if the client disconnects or the fake stops."""
        end = time.monotonic() + seconds
        while True:
            if self._client_gone():
                raise _Abort
            left = end - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(_POLL_S, left))

    def _hang(self) -> None:
        while not self._client_gone():
            time.sleep(_POLL_S)
        raise _Abort

    def _send_json(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def _send_text(self, status: int, text: str) -> None:
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        self.wfile.flush()

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _read_body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return {}
        try:
            body = json.loads(raw)
        except json.JSONDecodeError:
            return {"__invalid__": raw.decode(errors="replace")}
        return body if isinstance(body, dict) else {"__invalid__": body}

    def _record(self, body: dict[str, Any]) -> RecordedRequest:
        rec = RecordedRequest(
            method=self.command,
            path=self.path,
            model=body.get("model"),
            messages=list(body.get("messages") or []),
            format=body.get("format"),
            stream=body.get("stream"),
            options=body.get("options"),
            body=body,
            time=time.monotonic(),
        )
        self.fake._record(rec)
        return rec

    def _dispatch(self) -> None:
        try:
            route = {
                ("GET", "/"): self._root,
                ("HEAD", "/"): self._root,
                ("GET", "/api/version"): self._version,
                ("GET", "/api/tags"): self._tags,
                ("GET", "/api/ps"): self._ps,
                ("POST", "/api/show"): self._show,
                ("POST", "/api/chat"): self._chat,
                ("POST", "/api/embed"): self._embed,
            }.get((self.command, self.path.split("?", 1)[0]))
            body = self._read_body() if self.command == "POST" else {}
            rec = self._record(body)
            if route is None:
                self._send_text(404, "404 page not found")
                return
            route(rec)
        except (_Abort, OSError):
            self.close_connection = True

    do_GET = do_POST = do_HEAD = _dispatch

    # --- endpoints -----------------------------------------------------------------------

    def _root(self, rec: RecordedRequest) -> None:
        self._send_text(200, "Ollama is running")

    def _version(self, rec: RecordedRequest) -> None:
        self._send_json(200, {"version": _VERSION})

    def _model_entry(self, name: str) -> dict[str, Any]:
        return {
            "name": name,
            "model": name,
            "modified_at": "2025-01-01T00:00:00Z",
            "size": 4_000_000_000,
            "digest": hashlib.sha256(name.encode()).hexdigest(),
            "details": details(name),
        }

    def _tags(self, rec: RecordedRequest) -> None:
        self._send_json(200, {"models": [self._model_entry(m) for m in self.fake.models()]})

    def _ps(self, rec: RecordedRequest) -> None:
        self._send_json(200, {"models": []})

    def _show(self, rec: RecordedRequest) -> None:
        name = rec.model or ""
        if self.fake.get_script(name) is None:
            self._send_json(404, {"error": f"model '{name}' not found"})
            return
        self._send_json(
            200,
            {
                "modelfile": f"FROM {name}\n",
                "parameters": "stop \"<|eot_id|>\"",
                "template": "{{ .Prompt }}",
                "details": details(name),
                "model_info": {"general.architecture": "llama"},
                "capabilities": ["completion"],
                "modified_at": "2025-01-01T00:00:00Z",
            },
        )

    def _scripted(self, rec: RecordedRequest) -> ModelScript | None:
        """The model's script, or None after answering 404 (unknown model) or its scripted status."""
        name = rec.model or ""
        script = self.fake.get_script(name)
        if script is None:
            self._send_json(404, {"error": not_found(name)})
            return None
        if script.status is not None:
            self._send_json(script.status, {"error": script.error})
            return None
        return script

    def _embed(self, rec: RecordedRequest) -> None:
        script = self._scripted(rec)
        if script is None:
            return
        name = rec.model or ""
        inputs = rec.body.get("input", "")
        texts = [inputs] if isinstance(inputs, str) else list(inputs)
        dim = rec.body.get("dimensions") or script.embedding_dim
        self._send_json(
            200,
            {
                "model": name,
                "embeddings": [fake_embedding(str(t), dim) for t in texts],
                "total_duration": 1_000_000,
                "load_duration": 100_000,
                "prompt_eval_count": sum(len(split_tokens(str(t))) for t in texts),
            },
        )

    def _chat(self, rec: RecordedRequest) -> None:
        script = self._scripted(rec)
        if script is None:
            return
        name = rec.model or ""
        slots = self.fake._slots_for(name)
        if not slots.acquire(script.max_concurrency, self._client_gone):
            raise _Abort
        try:
            self._answer(rec, script)
        finally:
            slots.release()

    def _answer(self, rec: RecordedRequest, script: ModelScript) -> None:
        text = self.fake._choose_reply(_front_cut(rec, script.context), script)
        tokens = split_tokens(text)
        stream = rec.stream is not False  # Ollama streams unless told not to
        started = time.monotonic()
        self._pause(script.first_token_delay)
        if not stream:
            self._answer_whole(rec, script, text, tokens, started)
            return

        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        if script.failure is not None:
            # The connection is closed after a broken stream; saying so up front keeps the client
            # from putting it back in its pool and racing the close on its next request.
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.flush()

        limit = len(tokens) if script.failure is None else min(script.fail_after_tokens, len(tokens))
        for i, token in enumerate(tokens[:limit]):
            if i:
                self._pause(script.token_delay)
            self._chunk(line(chat_part(rec.model, token)))

        if script.failure == "hang":
            self._hang()
        elif script.failure == "broken_json":
            self._chunk(b'{"model":"' + (rec.model or "").encode() + b'","message":{"role":"assis\n')
            self.close_connection = True
        elif script.failure == "error_line":
            self._chunk(line({"error": script.error}))
            self.close_connection = True
        elif script.failure is None:
            self._chunk(line(chat_done(rec.model, rec.messages, tokens, rec.time, started)))
        else:  # no_done: the stream just ends
            self.close_connection = True
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _answer_whole(
        self, rec: RecordedRequest, script: ModelScript, text: str, tokens: list[str], started: float
    ) -> None:
        self._pause(script.token_delay * max(len(tokens) - 1, 0))
        if script.failure == "hang":
            self._hang()
        payload = chat_done(rec.model, rec.messages, tokens, rec.time, started)
        payload["message"]["content"] = text
        if script.failure == "broken_json":
            data = json.dumps(payload).encode()[: max(len(text) // 2, 10)]
            self.send_response(200)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
            return
        if script.failure == "error_line":
            self._send_json(500, {"error": script.error})
            return
        if script.failure == "no_done":
            payload.update(done=False)
            payload.pop("done_reason", None)
        self._send_json(200, payload)


def _front_cut(rec: RecordedRequest, default_ctx: int | None) -> RecordedRequest:
    """The request as a model with a context window sees it: the oldest words dropped to fit."""
    if default_ctx is None:
        return rec
    limit = int((rec.options or {}).get("num_ctx") or default_ctx)
    pieces = [split_tokens(str(m.get("content") or "")) for m in rec.messages]
    over = sum(map(len, pieces)) - limit
    if over <= 0:
        return rec
    messages = []
    for message, tokens in zip(rec.messages, pieces, strict=True):
        cut = min(over, len(tokens))
        over -= cut
        if cut < len(tokens):
            messages.append({**message, "content": "".join(tokens[cut:]).lstrip()})
    return replace(rec, messages=messages)


class OllamaFake:
    """The loopback Ollama. Start with `with OllamaFake() as fake:` (or start()/close())."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._scripts: dict[str, ModelScript] = {}
        self._queues: dict[str, deque[Reply]] = {}
        self._slots: dict[str, _Slots] = {}
        self._requests: list[RecordedRequest] = []
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> OllamaFake:
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="ollama-fake"
        )
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving; hung and queued handlers give up, and every thread is joined."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.drop_connections()
        server.server_close()  # joins the handler threads (block_on_close)
        if thread is not None:
            thread.join()
        self._server = self._thread = None

    def __enter__(self) -> OllamaFake:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("OllamaFake is not running; use it as a context manager or call start().")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # --- scripting -----------------------------------------------------------------------

    def script(
        self,
        model: str,
        reply: Reply | None = None,
        *,
        replies: Sequence[tuple[str, Reply]] | dict[str, Reply] = (),
        default: Reply | None = None,
        queue: Sequence[Reply] = (),
        first_token_delay: float = 0.0,
        token_delay: float = 0.0,
        status: int | None = None,
        error: str = "internal server error",
        failure: Failure | None = None,
        fail_after_tokens: int = 0,
        max_concurrency: int | None = None,
        embedding_dim: int = 384,
        context: int | None = None,
    ) -> ModelScript:
        """Define (or replace) how `model` behaves. `reply` is shorthand for `default`."""
        pairs = tuple(replies.items()) if isinstance(replies, dict) else tuple(replies)
        for pattern, _ in pairs:
            re.compile(pattern)
        chosen_default = default if default is not None else reply if reply is not None else "OK."
        new = ModelScript(
            replies=pairs,
            default=chosen_default,
            queue=tuple(queue),
            first_token_delay=first_token_delay,
            token_delay=token_delay,
            status=status,
            error=error,
            failure=failure,
            fail_after_tokens=fail_after_tokens,
            max_concurrency=max_concurrency,
            embedding_dim=embedding_dim,
            context=context,
        )
        with self._lock:
            self._scripts[model] = new
            self._queues[model] = deque(new.queue)
        return new

    def update(self, model: str, **changes: Any) -> ModelScript:
        """Change some fields of an existing script (e.g. `update(m, status=None)` to heal it)."""
        with self._lock:
            current = self._scripts[model]
            if "replies" in changes and isinstance(changes["replies"], dict):
                changes["replies"] = tuple(changes["replies"].items())
            new = replace(current, **changes)
            self._scripts[model] = new
            if "queue" in changes:
                self._queues[model] = deque(new.queue)
        return new

    def remove(self, model: str) -> None:
        """Forget `model`: it answers 404 from now on."""
        with self._lock:
            self._scripts.pop(model, None)
            self._queues.pop(model, None)

    def get_script(self, model: str) -> ModelScript | None:
        with self._lock:
            return self._scripts.get(model)

    def models(self) -> list[str]:
        with self._lock:
            return list(self._scripts)

    # --- records -------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """A copy of every request so far, in arrival order."""
        with self._lock:
            return list(self._requests)

    def chat_requests(self, model: str | None = None) -> list[RecordedRequest]:
        return [
            r for r in self.requests if r.path == "/api/chat" and (model is None or r.model == model)
        ]

    def peak_in_flight(self, model: str) -> int:
        """The most chat requests for `model` that were being answered at the same moment."""
        return self._slots_for(model).peak

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    # --- internals used by the handler ---------------------------------------------------

    def _record(self, rec: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(rec)

    def _slots_for(self, model: str) -> _Slots:
        with self._lock:
            return self._slots.setdefault(model, _Slots())

    def _choose_reply(self, rec: RecordedRequest, script: ModelScript) -> str:
        with self._lock:
            pending = self._queues.get(rec.model or "")
            chosen: Reply | None = pending.popleft() if pending else None
        if chosen is None:
            text = rec.last_user
            chosen = next(
                (r for p, r in script.replies if re.search(p, text, re.IGNORECASE | re.DOTALL)),
                script.default,
            )
        return chosen(rec) if callable(chosen) else chosen


__all__ = [
    "Failure",
    "ModelScript",
    "OllamaFake",
    "RecordedRequest",
    "Reply",
    "fake_embedding",
    "split_tokens",
]
