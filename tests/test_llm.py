"""The fallback cascade, driven through the real ChatOllama against the loopback Ollama fake."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from langchain_core.messages import HumanMessage, SystemMessage
from ollama_fake import OllamaFake
from ollama_fixtures import ollama_fake_fixture  # noqa: F401

from chatbot.answer import Fallback
from chatbot.llm import ChatCascade, LLMConfig, LLMUnavailable, extract_json
from chatbot.settings import Settings

P, S, T = "llama3.1:8b", "llama3.2:3b", "llama3.2:1b"
Q = [SystemMessage("Answer from the rows."), HumanMessage("movies like nemo?")]


@pytest_asyncio.fixture(loop_scope="function")
async def make_cascade() -> AsyncIterator:
    made: list[ChatCascade] = []

    def make(base_url: str, models: tuple[str, ...] = (P, S), **overrides: float) -> ChatCascade:
        cascade = ChatCascade(LLMConfig(base_url=base_url, models=models, **overrides))  # type: ignore[arg-type]
        made.append(cascade)
        return cascade

    yield make
    for cascade in made:
        await cascade.aclose()


class Recorder:
    """Collects on_token / on_restart calls in order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    async def token(self, text: str) -> None:
        self.events.append(("token", text))

    async def restart(self, reason: str) -> None:
        self.events.append(("restart", reason))


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_config_from_settings():
    s = Settings(ollama_base_url="http://o:1", models=(P, T), first_token_timeout_s=5, llm_timeout_s=30, router_timeout_s=2)
    assert LLMConfig.from_settings(s) == LLMConfig(
        base_url="http://o:1", models=(P, T), first_token_timeout_s=5, total_timeout_s=30, json_timeout_s=2
    )


def test_extract_json_tolerates_fences_and_prose():
    assert extract_json('```json\n{"sql": "SELECT 1"}\n```') == {"sql": "SELECT 1"}
    assert extract_json('Sure! Here it is: {"route": "similar"} Hope that helps.') == {"route": "similar"}
    assert extract_json('  {"a": [1, 2]}  ') == {"a": [1, 2]}


async def test_primary_streams_tokens(ollama_fake: OllamaFake, make_cascade):
    ollama_fake.script(P, replies=[(r"nemo", "Finding Dory (2016) fits.")])
    rec = Recorder()
    out = await make_cascade(ollama_fake.base_url).stream(Q, on_token=rec.token, on_restart=rec.restart)
    assert (out.text, out.model, out.fallbacks, out.data) == ("Finding Dory (2016) fits.", P, [], None)
    assert rec.events == [("token", "Finding"), ("token", " Dory"), ("token", " (2016)"), ("token", " fits.")]
    (req,) = ollama_fake.requests
    assert (req.path, req.model, req.stream, req.format) == ("/api/chat", P, True, None)
    assert req.messages == [
        {"role": "system", "content": "Answer from the rows."},
        {"role": "user", "content": "movies like nemo?"},
    ]


async def test_hung_primary_falls_back_within_its_budget(ollama_fake: OllamaFake, make_cascade):
    ollama_fake.script(P, failure="hang")
    ollama_fake.script(S, reply="Small model answer.")
    cascade = make_cascade(ollama_fake.base_url, first_token_timeout_s=0.4, total_timeout_s=5.0)
    rec = Recorder()
    started = time.monotonic()
    out = await cascade.stream(Q, on_token=rec.token, on_restart=rec.restart)
    elapsed = time.monotonic() - started
    assert (out.text, out.model) == ("Small model answer.", S)
    assert out.fallbacks == [Fallback(model=P, reason="no first token within 0.4 s")]
    # Nothing was shown before the primary gave up, so there is nothing to restart.
    assert rec.events == [("token", "Small"), ("token", " model"), ("token", " answer.")]
    assert elapsed < 0.4 + 2.0  # the primary's first-token budget plus the small model's answer
    assert [r.model for r in ollama_fake.chat_requests()] == [P, S]


async def test_failure_after_tokens_restarts_with_next_model(ollama_fake: OllamaFake, make_cascade):
    ollama_fake.script(P, reply="Partial answer that stalls", failure="hang", fail_after_tokens=2)
    ollama_fake.script(S, reply="Clean answer.")
    cascade = make_cascade(ollama_fake.base_url, first_token_timeout_s=0.5, total_timeout_s=0.8)
    rec = Recorder()
    out = await cascade.stream(Q, on_token=rec.token, on_restart=rec.restart)
    assert (out.text, out.model) == ("Clean answer.", S)
    assert out.fallbacks == [Fallback(model=P, reason="total budget 0.8 s exceeded")]
    assert rec.events == [
        ("token", "Partial"), ("token", " answer"),
        ("restart", "total budget 0.8 s exceeded"),
        ("token", "Clean"), ("token", " answer."),
    ]


@pytest.mark.parametrize(
    ("primary", "reason"),
    [
        ({"status": 500}, "HTTP 500"),
        ({"status": 503, "error": "server busy"}, "HTTP 503"),
        (None, "model not found"),  # P is not scripted: Ollama answers 404
        ({"failure": "broken_json"}, "malformed reply"),
        ({"failure": "no_done", "fail_after_tokens": 1}, "reply ended early"),
        ({"failure": "error_line", "error": "out of memory"}, "Ollama error: out of memory"),
        ({"reply": ""}, "empty reply"),
    ],
)
async def test_primary_errors_fall_back(ollama_fake: OllamaFake, make_cascade, primary, reason):
    if primary is not None:
        ollama_fake.script(P, **primary)
    ollama_fake.script(S, reply="Fallback answer.")
    rec = Recorder()
    out = await make_cascade(ollama_fake.base_url).stream(Q, on_token=rec.token, on_restart=rec.restart)
    assert (out.text, out.model, out.fallbacks) == ("Fallback answer.", S, [Fallback(model=P, reason=reason)])
    expected_partial = [("token", "OK."), ("restart", reason)] if primary and primary.get("fail_after_tokens") else []
    assert rec.events == [*expected_partial, ("token", "Fallback"), ("token", " answer.")]


async def test_broken_stream_after_tokens_restarts(ollama_fake: OllamaFake, make_cascade):
    ollama_fake.script(P, reply="one two three", failure="broken_json", fail_after_tokens=2)
    ollama_fake.script(S, reply="fine")
    rec = Recorder()
    out = await make_cascade(ollama_fake.base_url).stream(Q, on_token=rec.token, on_restart=rec.restart)
    assert (out.text, out.model) == ("fine", S)
    assert rec.events == [("token", "one"), ("token", " two"), ("restart", "malformed reply"), ("token", "fine")]


async def test_all_models_down_raises_with_one_fallback_each(ollama_fake: OllamaFake, make_cascade):
    ollama_fake.script(P, status=500)
    ollama_fake.script(T, failure="hang")
    cascade = make_cascade(ollama_fake.base_url, models=(P, S, T), first_token_timeout_s=0.3)
    rec = Recorder()
    with pytest.raises(LLMUnavailable) as err:
        await cascade.stream(Q, on_token=rec.token, on_restart=rec.restart)
    assert err.value.fallbacks == [
        Fallback(model=P, reason="HTTP 500"),
        Fallback(model=S, reason="model not found"),
        Fallback(model=T, reason="no first token within 0.3 s"),
    ]
    assert str(err.value) == (
        f"No language model answered ({P}: HTTP 500; {S}: model not found; {T}: no first token within 0.3 s)."
    )
    assert rec.events == []


async def test_nothing_listening(make_cascade):
    cascade = make_cascade(closed_port_url())
    assert await cascade.available() is False
    with pytest.raises(LLMUnavailable) as err:
        await cascade.stream(Q)
    assert err.value.fallbacks == [Fallback(model=P, reason="cannot connect"), Fallback(model=S, reason="cannot connect")]
    with pytest.raises(LLMUnavailable) as err:
        await cascade.complete_json(Q)
    assert [f.reason for f in err.value.fallbacks] == ["cannot connect", "cannot connect"]


async def test_available_probes_version_once_and_caches(ollama_fake: OllamaFake, make_cascade):
    cascade = make_cascade(ollama_fake.base_url)
    assert await cascade.available() is True
    assert await cascade.available() is True
    assert [(r.method, r.path) for r in ollama_fake.requests] == [("GET", "/api/version")]


async def test_complete_json_parses_fenced_output(ollama_fake: OllamaFake, make_cascade):
    ollama_fake.script(P, reply='Here you go:\n```json\n{"sql": "SELECT title FROM movies LIMIT 5"}\n```')
    schema = {"type": "object", "properties": {"sql": {"type": "string"}}, "required": ["sql"]}
    out = await make_cascade(ollama_fake.base_url).complete_json(Q, schema=schema)
    assert (out.model, out.fallbacks, out.data) == (P, [], {"sql": "SELECT title FROM movies LIMIT 5"})
    assert out.text == 'Here you go:\n```json\n{"sql": "SELECT title FROM movies LIMIT 5"}\n```'
    (req,) = ollama_fake.chat_requests()
    assert (req.format, req.options) == (schema, {"temperature": 0})


async def test_complete_json_invalid_or_incomplete_moves_on(ollama_fake: OllamaFake, make_cascade):
    ollama_fake.script(P, reply="I think you want SELECT * FROM movies")
    ollama_fake.script(S, reply='{"query": "SELECT 1"}')
    ollama_fake.script(T, reply='{"sql": "SELECT 1", "why": "simple"}')
    cascade = make_cascade(ollama_fake.base_url, models=(P, S, T))
    out = await cascade.complete_json(Q, schema={"type": "object", "required": ["sql"]})
    assert (out.model, out.data) == (T, {"sql": "SELECT 1", "why": "simple"})
    assert out.fallbacks == [Fallback(model=P, reason="invalid JSON"), Fallback(model=S, reason="JSON lacks 'sql'")]
    plain = await cascade.complete_json(Q)
    assert (plain.model, plain.data) == (S, {"query": "SELECT 1"})
    assert [r.format for r in ollama_fake.chat_requests()][-2:] == ["json", "json"]


async def test_complete_json_uses_its_own_budget(ollama_fake: OllamaFake, make_cascade):
    ollama_fake.script(P, reply='{"route": "semantic"}', first_token_delay=5)
    ollama_fake.script(S, reply='{"route": "similar"}')
    cascade = make_cascade(ollama_fake.base_url, json_timeout_s=0.3)
    out = await cascade.complete_json(Q)
    assert (out.model, out.data) == (S, {"route": "similar"})
    assert out.fallbacks == [Fallback(model=P, reason="no first token within 0.3 s")]


async def test_on_token_errors_are_the_callers(ollama_fake: OllamaFake, make_cascade):
    ollama_fake.script(P, reply="a b")
    ollama_fake.script(S, reply="c")

    async def boom(text: str) -> None:
        raise RuntimeError("ui went away")

    with pytest.raises(RuntimeError, match="ui went away"):
        await make_cascade(ollama_fake.base_url).stream(Q, on_token=boom)
    assert [r.model for r in ollama_fake.chat_requests()] == [P]


async def test_eight_concurrent_questions_against_a_single_slot_model(ollama_fake: OllamaFake, make_cascade):
    # One answer at a time, ~0.25 s each: the eighth question waits ~1.75 s in line, far beyond
    # the 1 s first-token timeout; it must still be answered by the primary.
    ollama_fake.script(
        P,
        replies=[(r"question \d", lambda r: f"answer to {r.last_user}")],
        first_token_delay=0.1,
        token_delay=0.05,
        max_concurrency=1,
    )
    ollama_fake.script(S, reply="fallback")
    cascade = make_cascade(ollama_fake.base_url, first_token_timeout_s=1.0, total_timeout_s=10.0)
    outs = await asyncio.gather(*(cascade.stream([HumanMessage(f"question {i}")]) for i in range(8)))
    assert [(o.text, o.model, o.fallbacks) for o in outs] == [(f"answer to question {i}", P, []) for i in range(8)]
    assert len(ollama_fake.chat_requests(P)) == 8 and ollama_fake.chat_requests(S) == []
    assert ollama_fake.peak_in_flight(P) == 1


def test_cascade_works_across_event_loops(ollama_fake: OllamaFake):
    ollama_fake.script(P, reply="hi")
    cascade = ChatCascade(LLMConfig(base_url=ollama_fake.base_url, models=(P,)))
    first = asyncio.run(cascade.stream(Q))
    second = asyncio.run(cascade.stream(Q))
    asyncio.run(cascade.aclose())
    assert (first.text, second.text) == ("hi", "hi")
