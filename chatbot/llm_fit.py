"""Fit a prompt into the model's context: estimate its tokens, choose `num_ctx` from a few sizes
(Ollama reloads a model whenever num_ctx changes, so sizes are bucketed), and when even the largest
allowed context is too small, drop catalog rows from the end rather than let Ollama silently cut
the *front* of the prompt (the rules and the question)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from langchain_core.messages import BaseMessage, HumanMessage

CHARS_PER_TOKEN = 3.0
"""Conservative: English prose runs ~4 characters a token, JSON rows nearer 3."""
PER_MESSAGE_TOKENS = 8
"""Template tokens around each message (role markers, turn separators)."""
MARGIN_TOKENS = 64
CTX_SIZES = (2048, 4096, 8192, 16384, 32768)


@dataclass(frozen=True, kw_only=True)
class Fitted:
    messages: list[BaseMessage]
    """The messages to send (the input, or a copy with rows dropped from the last user turn)."""
    num_ctx: int
    prompt_tokens: int
    """Estimated prompt tokens of `messages`."""
    dropped_rows: int = 0
    """Catalog rows (JSON lines) left out to fit."""


def estimate_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def prompt_tokens(messages: list[BaseMessage]) -> int:
    return sum(estimate_tokens(_text(m)) + PER_MESSAGE_TOKENS for m in messages)


def fit_prompt(messages: list[BaseMessage], *, num_predict: int, max_ctx: int) -> Fitted:
    """`messages` with a context size that holds them plus `num_predict` tokens of reply."""
    need = prompt_tokens(messages) + num_predict + MARGIN_TOKENS
    if need <= max_ctx:
        return Fitted(messages=messages, num_ctx=_bucket(need, max_ctx), prompt_tokens=need - num_predict - MARGIN_TOKENS)
    budget = max_ctx - num_predict - MARGIN_TOKENS
    trimmed, dropped = _drop_rows(messages, budget)
    tokens = prompt_tokens(trimmed)
    if tokens > budget:
        trimmed = _cut_last_user(trimmed, tokens - budget)
        tokens = prompt_tokens(trimmed)
    return Fitted(messages=trimmed, num_ctx=max_ctx, prompt_tokens=tokens, dropped_rows=dropped)


def _bucket(need: int, max_ctx: int) -> int:
    return min(next((s for s in CTX_SIZES if s >= need), max_ctx), max_ctx)


def _text(message: BaseMessage) -> str:
    return message.content if isinstance(message.content, str) else message.text


def _is_row(line: str) -> bool:
    return line.startswith("{") and line.rstrip().endswith("}")


def _last_user(messages: list[BaseMessage]) -> int | None:
    return next((i for i in range(len(messages) - 1, -1, -1) if messages[i].type == "human"), None)


def _drop_rows(messages: list[BaseMessage], budget: int) -> tuple[list[BaseMessage], int]:
    """Drop row lines from the end of the last user turn (rows come best first) until it fits."""
    at = _last_user(messages)
    if at is None:
        return messages, 0
    lines = _text(messages[at]).split("\n")
    rows = [i for i, line in enumerate(lines) if _is_row(line)]
    over = prompt_tokens(messages) - budget
    removed: set[int] = set()
    for i in reversed(rows[1:]):  # always keep the first row
        if over <= 0:
            break
        removed.add(i)
        over -= estimate_tokens(lines[i]) + 1
    if not removed:
        return messages, 0
    kept = "\n".join(line for i, line in enumerate(lines) if i not in removed)
    out = list(messages)
    out[at] = HumanMessage(kept)
    return out, len(removed)


def _cut_last_user(messages: list[BaseMessage], over_tokens: int) -> list[BaseMessage]:
    """Last resort: shorten the last user turn's tail (its head holds the question)."""
    at = _last_user(messages)
    if at is None:
        return messages
    text = _text(messages[at])
    keep = max(200, len(text) - int((over_tokens + 1) * CHARS_PER_TOKEN) - 1)
    out = list(messages)
    out[at] = HumanMessage(text[:keep] + "…")
    return out
