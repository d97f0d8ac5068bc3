"""What the Ollama HTTP API sends, as `tests/ollama_fake.py` serves it: NDJSON chat parts and the
final `done` object, model details, errors, and deterministic token splits and embeddings."""

from __future__ import annotations

import hashlib
import json
import math
import re
import time
from datetime import UTC, datetime
from typing import Any


def split_tokens(text: str) -> list[str]:
    """Word-sized pieces that concatenate back to `text` (leading whitespace kept on each)."""
    tokens = re.findall(r"\s*\S+", text)
    rest = text[len("".join(tokens)) :]
    if rest:
        tokens.append(rest)
    return tokens


def fake_embedding(text: str, dim: int = 384) -> list[float]:
    """A deterministic unit vector for `text` (same text, same vector; no meaning)."""
    values: list[float] = []
    counter = 0
    while len(values) < dim:
        digest = hashlib.sha256(f"{counter}:{text}".encode()).digest()
        values.extend((b - 127.5) / 127.5 for b in digest)
        counter += 1
    values = values[:dim]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [v / norm for v in values]


def not_found(name: str) -> str:
    return f'model "{name}" not found, try pulling it first'


def details(name: str) -> dict[str, Any]:
    return {
        "parent_model": "",
        "format": "gguf",
        "family": "llama",
        "families": ["llama"],
        "parameter_size": (name.split(":", 1)[1].upper() if ":" in name else "8B"),
        "quantization_level": "Q4_K_M",
    }


def now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def line(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload).encode() + b"\n"


def chat_part(model: str | None, token: str) -> dict[str, Any]:
    return {
        "model": model,
        "created_at": now(),
        "message": {"role": "assistant", "content": token},
        "done": False,
    }


def chat_done(
    model: str | None, messages: list[dict[str, Any]], tokens: list[str], arrived: float, started: float
) -> dict[str, Any]:
    """The final object of a chat stream (or a whole non-streaming reply): counts and durations."""
    prompt_tokens = sum(len(split_tokens(str(m.get("content") or ""))) for m in messages)
    total_ns = int((time.monotonic() - arrived) * 1e9)
    eval_ns = int((time.monotonic() - started) * 1e9)
    return {
        "model": model,
        "created_at": now(),
        "message": {"role": "assistant", "content": ""},
        "done": True,
        "done_reason": "stop",
        "total_duration": total_ns,
        "load_duration": 1_000_000,
        "prompt_eval_count": prompt_tokens,
        "prompt_eval_duration": 1_000_000,
        "eval_count": len(tokens),
        "eval_duration": eval_ns,
    }
