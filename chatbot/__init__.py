"""The conversation: settings, state, graph, nodes, LLM cascade, Chainlit app, CLI.

`chatbot.ask(question, thread_id=None) -> Answer` and `await chatbot.aask(...)` are the Python API.
Importing this package loads nothing heavy; the graph is built on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chatbot.answer import Answer

__all__ = ["Answer", "ask", "aask"]


def ask(question: str, *, thread_id: str | None = None) -> Answer:
    from chatbot.api import ask as _ask

    return _ask(question, thread_id=thread_id)


async def aask(question: str, *, thread_id: str | None = None) -> Answer:
    from chatbot.api import aask as _aask

    return await _aask(question, thread_id=thread_id)


def __getattr__(name: str) -> Any:
    if name == "Answer":
        from chatbot.answer import Answer

        return Answer
    raise AttributeError(name)
