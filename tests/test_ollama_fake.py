"""The loopback Ollama fake speaks the API shapes the real `ollama` client and ChatOllama expect."""

from __future__ import annotations

import json
import threading

import httpx
import ollama
import pytest
from langchain_core.messages import HumanMessage, SystemMessage
from langchain_ollama import ChatOllama
from ollama_fake import OllamaFake, fake_embedding, split_tokens
from ollama_fixtures import ollama_fake_fixture  # noqa: F401

M = "llama3.1:8b"


def chat_body(model: str, text: str, **extra: object) -> dict:
    return {"model": model, "messages": [{"role": "user", "content": text}], **extra}


def ndjson(response: httpx.Response) -> list[dict]:
    return [json.loads(line) for line in response.iter_lines()]


def test_split_tokens_round_trips():
    assert split_tokens("Finding Dory (2016) is  similar. ") == ["Finding", " Dory", " (2016)", " is", "  similar.", " "]
    assert split_tokens("") == []


def test_info_endpoints(ollama_fake: OllamaFake):
    ollama_fake.script(M)
    ollama_fake.script("llama3.2:1b")
    with httpx.Client(base_url=ollama_fake.base_url) as http:
        assert http.get("/").text == "Ollama is running"
        assert http.get("/api/version").json() == {"version": "0.12.6"}
        assert [m["name"] for m in http.get("/api/tags").json()["models"]] == [M, "llama3.2:1b"]
        missing = http.post("/api/show", json={"model": "nope:1b"})
        assert (missing.status_code, missing.json()) == (404, {"error": "model 'nope:1b' not found"})
    client = ollama.Client(host=ollama_fake.base_url)
    assert [m.model for m in client.list().models] == [M, "llama3.2:1b"]
    shown = client.show(M)
    assert shown.details is not None and shown.details.family == "llama"
    assert shown.capabilities == ["completion"]
    client.close()
    assert [(r.method, r.path) for r in ollama_fake.requests] == [
        ("GET", "/"), ("GET", "/api/version"), ("GET", "/api/tags"), ("POST", "/api/show"),
        ("GET", "/api/tags"), ("POST", "/api/show"),
    ]


def test_streaming_chat_shape(ollama_fake: OllamaFake):
    ollama_fake.script(M, replies=[(r"nemo", "Try Finding Dory."), (r"fish", "Shark Tale.")], default="Hello.")
    with httpx.Client(base_url=ollama_fake.base_url) as http, http.stream(
        "POST", "/api/chat", json=chat_body(M, "Movies like Finding NEMO with fish", options={"temperature": 0})
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/x-ndjson"
        parts = ndjson(response)
    assert [p["message"] for p in parts] == [
        {"role": "assistant", "content": "Try"},
        {"role": "assistant", "content": " Finding"},
        {"role": "assistant", "content": " Dory."},
        {"role": "assistant", "content": ""},
    ]
    assert [p["done"] for p in parts] == [False, False, False, True]
    assert all(p["model"] == M and p["created_at"].endswith("Z") for p in parts)
    done = parts[-1]
    assert done["done_reason"] == "stop" and done["eval_count"] == 3
    assert done["prompt_eval_count"] == 6
    assert {"total_duration", "load_duration", "prompt_eval_duration", "eval_duration"} <= done.keys()
    (rec,) = ollama_fake.chat_requests()
    assert (rec.model, rec.stream, rec.format, rec.options) == (M, None, None, {"temperature": 0})
    assert rec.messages == [{"role": "user", "content": "Movies like Finding NEMO with fish"}]
    assert rec.last_user == "Movies like Finding NEMO with fish"


def test_non_streaming_and_format_return_the_script_as_is(ollama_fake: OllamaFake):
    ollama_fake.script(M, default='```json\n{"sql": "SELECT 1"}\n```')
    schema = {"type": "object", "properties": {"sql": {"type": "string"}}, "required": ["sql"]}
    client = ollama.Client(host=ollama_fake.base_url)
    whole = client.chat(model=M, messages=[{"role": "user", "content": "q"}], stream=False, format=schema)
    assert whole.message.content == '```json\n{"sql": "SELECT 1"}\n```'
    assert (whole.done, whole.done_reason, whole.eval_count) == (True, "stop", 5)
    parts = list(client.chat(model=M, messages=[{"role": "user", "content": "q"}], stream=True, format="json"))
    assert "".join(p.message.content or "" for p in parts) == '```json\n{"sql": "SELECT 1"}\n```'
    client.close()
    assert [(r.stream, r.format) for r in ollama_fake.chat_requests()] == [(False, schema), (True, "json")]


def test_queue_of_replies_then_patterns_and_callables(ollama_fake: OllamaFake):
    ollama_fake.script(
        M,
        queue=["first", "second"],
        replies={r"^who": lambda rec: f"you said {rec.last_user!r}"},
        default="fallback",
    )
    client = ollama.Client(host=ollama_fake.base_url)

    def ask(text: str) -> str:
        return client.chat(model=M, messages=[{"role": "user", "content": text}]).message.content or ""

    assert [ask("who"), ask("who"), ask("who are you"), ask("other")] == [
        "first", "second", "you said 'who are you'", "fallback",
    ]
    ollama_fake.update(M, default="changed")
    assert ask("x") == "changed"
    ollama_fake.remove(M)
    with pytest.raises(ollama.ResponseError) as err:
        ask("x")
    assert (err.value.status_code, err.value.error) == (404, f'model "{M}" not found, try pulling it first')
    client.close()


def test_http_errors_and_unknown_models(ollama_fake: OllamaFake):
    ollama_fake.script(M, status=500, error="llama runner process has terminated")
    client = ollama.Client(host=ollama_fake.base_url)
    with pytest.raises(ollama.ResponseError) as err:
        list(client.chat(model=M, messages=[{"role": "user", "content": "x"}], stream=True))
    assert (err.value.status_code, err.value.error) == (500, "llama runner process has terminated")
    with pytest.raises(ollama.ResponseError) as err:
        client.embed(model="ghost", input="x")
    assert err.value.status_code == 404
    with httpx.Client(base_url=ollama_fake.base_url) as http:
        assert http.get("/api/nothing").status_code == 404
    client.close()


def test_malformed_streams(ollama_fake: OllamaFake):
    client = ollama.Client(host=ollama_fake.base_url)
    msgs = [{"role": "user", "content": "x"}]

    ollama_fake.script(M, reply="one two three", failure="broken_json", fail_after_tokens=2)
    seen: list[str] = []
    with pytest.raises(json.JSONDecodeError):
        for part in client.chat(model=M, messages=msgs, stream=True):
            seen.append(part.message.content or "")
    assert seen == ["one", " two"]

    ollama_fake.update(M, failure="no_done", fail_after_tokens=1)
    parts = list(client.chat(model=M, messages=msgs, stream=True))
    assert [(p.message.content, p.done) for p in parts] == [("one", False)]

    ollama_fake.update(M, failure="error_line", fail_after_tokens=0, error="out of memory")
    with pytest.raises(ollama.ResponseError, match="out of memory"):
        list(client.chat(model=M, messages=msgs, stream=True))
    client.close()


def test_embed_is_deterministic(ollama_fake: OllamaFake):
    ollama_fake.script("nomic-embed-text", embedding_dim=8)
    client = ollama.Client(host=ollama_fake.base_url)
    out = client.embed(model="nomic-embed-text", input=["a", "b", "a"])
    client.close()
    assert out.embeddings[0] == out.embeddings[2] == fake_embedding("a", 8)
    assert out.embeddings[1] != out.embeddings[0] and len(out.embeddings[1]) == 8
    assert abs(sum(v * v for v in out.embeddings[0]) - 1.0) < 1e-9


def test_max_concurrency_serves_one_at_a_time(ollama_fake: OllamaFake):
    ollama_fake.script(M, reply="a b", first_token_delay=0.05, token_delay=0.02, max_concurrency=1)
    results: list[str] = []

    def call() -> None:
        with httpx.Client(base_url=ollama_fake.base_url) as http:
            results.append(http.post("/api/chat", json=chat_body(M, "x", stream=False)).json()["message"]["content"])

    threads = [threading.Thread(target=call) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == ["a b"] * 4
    assert ollama_fake.peak_in_flight(M) == 1


def test_hang_frees_its_slot_when_the_client_leaves(ollama_fake: OllamaFake):
    ollama_fake.script(M, reply="hi", failure="hang", max_concurrency=1)
    with httpx.Client(base_url=ollama_fake.base_url, timeout=0.3) as http:
        with pytest.raises(httpx.ReadTimeout):
            http.post("/api/chat", json=chat_body(M, "x"))
        ollama_fake.update(M, failure=None)
        # The hung handler notices the disconnect and gives the single slot back.
        assert http.post("/api/chat", json=chat_body(M, "x", stream=False), timeout=5).json()["message"]["content"] == "hi"


def test_close_ends_every_thread_even_while_hanging():
    before = set(threading.enumerate())
    fake = OllamaFake().start()
    fake.script(M, failure="hang", fail_after_tokens=0)
    errors: list[type] = []

    def call() -> None:
        try:
            with httpx.Client(base_url=fake.base_url, timeout=30) as http:
                http.post("/api/chat", json=chat_body(M, "x"))
        except httpx.HTTPError as exc:
            errors.append(type(exc))

    client = threading.Thread(target=call)
    client.start()
    while not fake.chat_requests():
        threading.Event().wait(0.01)
    fake.close()
    client.join(timeout=5)
    assert not client.is_alive()
    assert errors == [httpx.RemoteProtocolError]
    assert set(threading.enumerate()) == before


async def test_real_chat_ollama_streams_through_the_fake(ollama_fake: OllamaFake):
    ollama_fake.script(M, replies=[(r"nemo", "Finding Dory (2016).")])
    chat = ChatOllama(model=M, base_url=ollama_fake.base_url)
    chunks = [c async for c in chat.astream([SystemMessage("be brief"), HumanMessage("like nemo?")])]
    assert "".join(str(c.content) for c in chunks) == "Finding Dory (2016)."
    done = [c.response_metadata for c in chunks if c.response_metadata.get("done")]
    assert [(d["done_reason"], d["eval_count"], d["model_name"]) for d in done] == [("stop", 3, M)]
    whole = await chat.ainvoke([HumanMessage("nemo")], format="json")
    assert whole.content == "Finding Dory (2016)."
    assert [(r.messages[0]["role"], r.format) for r in ollama_fake.chat_requests()] == [("system", None), ("user", "json")]
    await chat._async_client.close()
