"""`make soak`: many concurrent chat sessions through the real server path, under faults.

Not a test (pytest does not collect it) and not part of `make test`: it takes minutes. It starts
its own embedded PostgreSQL (tests/sql_corpus/catalog.yaml, embedded with the real model) and two
loopback Ollama fakes (a slow primary that sometimes hangs, a fast fallback), then runs
SESSIONS concurrent sessions × QUESTIONS questions twice:

1. steady: everything up;
2. faults: the embedded PostgreSQL is restarted once mid-run and one fake Ollama host is killed.

`--via chainlit` (the default): the real app (`movie-rag chat`) runs as a subprocess and each
session is a socket.io client on its websocket, as the browser is (tests/soak_ws.py). Afterwards
every question and every answer a client was shown must be in the app's persisted history under
the ids the client sent and saw, and every thread must resume (a new connection with its thread
id gets `resume_thread` and answers one more question). `--via api`: the same sessions through
`chatbot.Chatbot` in this process, checked against the checkpoint history.

Figures (answered / failed / p50 / p95 / max per phase, history and resume checks) go to
bench/soak.json. Exit status 1 when anything was lost or a thread did not resume.

    python tests/soak_run.py [--sessions 32] [--questions 20] [--via chainlit|api]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from ollama_fake import OllamaFake  # noqa: E402

from chatbot.api import Chatbot  # noqa: E402
from chatbot.settings import Settings  # noqa: E402
from retrieval.database import (  # noqa: E402
    _embedded,
    _server_user,
    make_engine,
    start_embedded,
    stop_embedded,
)
from retrieval.schema import create_schema  # noqa: E402
from retrieval.sqlrun import close_pools, vector_literal  # noqa: E402

QUESTIONS = [
    "movies like Heat", "films about a heist in a casino", "Which Ridley Scott movies do you have?",
    "something with astronauts in space", "animated movies", "What year is The Godfather from?",
    "a French romantic comedy", "movies from the 90s", "which of those is the longest?",
    "recommend something like Up", "hello", "films with Al Pacino",
]
PRIMARY, FALLBACK = "soak-big:8b", "soak-small:1b"


def _seed(url: str) -> None:
    from sqlalchemy import text

    from retrieval.embeddings import load_embedder

    catalog = yaml.safe_load((HERE / "sql_corpus" / "catalog.yaml").read_text())
    texts = [f"{m['title']}. {', '.join(m['genres'])}. {m['summary']}" for m in catalog]
    vectors = load_embedder().embed_documents(texts)
    engine = make_engine(url)
    try:
        create_schema(engine)
        with engine.begin() as conn:
            for movie, body, vec in zip(catalog, texts, vectors, strict=True):
                conn.execute(text(
                    "INSERT INTO movies (id, source_key, source, title, year, country, language, duration_min,"
                    " summary, genres, director, writers, actors, avg_rating, num_ratings, people, embedding_text,"
                    " embedding) VALUES (:id, :k, 'soak', :title, :year, :country, :language, :duration_min,"
                    " :summary, :genres, :director, :writers, :actors, :avg_rating, :num_ratings, :people, :body,"
                    " CAST(:vec AS vector)) ON CONFLICT (id) DO NOTHING"
                ), {**movie, "k": f"soak:{movie['id']}", "body": body, "vec": vector_literal(vec),
                    "people": " ; ".join([movie["director"], *movie["writers"], *movie["actors"]])})
    finally:
        engine.dispose()


def _script(fake: OllamaFake, *, primary_hangs: bool) -> None:
    fake.script(PRIMARY, default="From your catalog: Heat (1995) fits.", first_token_delay=0.2, token_delay=0.01,
                **({"failure": "hang", "fail_after_tokens": 2} if primary_hangs else {}))
    fake.script(FALLBACK, default="Heat (1995) is in your catalog.", token_delay=0.002)


async def _session(bot: Chatbot, thread: str, n: int, latencies: list[float], errors: list[str],
                   asked: dict[str, list[str]]) -> None:
    for i in range(n):
        question = f"{QUESTIONS[(hash(thread) + i) % len(QUESTIONS)]} (#{i})"
        started = time.monotonic()
        try:
            answer = await bot.aask(question, thread_id=thread)
            assert answer.answer.strip(), "empty answer"
            asked[thread].append(question)
        except Exception as exc:  # a failed turn is counted, not fatal
            errors.append(f"{thread}: {type(exc).__name__}: {str(exc)[:160]}")
        latencies.append(time.monotonic() - started)


def _figures(latencies: list[float], errors: list[str], total: int) -> dict[str, Any]:
    ordered = sorted(latencies) or [0.0]
    return {
        "questions": total, "answered": total - len(errors), "failed": len(errors),
        "p50_s": round(statistics.median(ordered), 3),
        "p95_s": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 3),
        "max_s": round(ordered[-1], 3), "errors": errors[:20],
    }


async def _phase(settings: Settings, threads: list[str], n: int, asked: dict[str, list[str]],
                 fault: Any = None) -> dict[str, Any]:
    latencies: list[float] = []
    errors: list[str] = []
    async with await Chatbot.open(settings) as bot:
        tasks = [asyncio.create_task(_session(bot, t, n, latencies, errors, asked)) for t in threads]
        if fault is not None:
            await asyncio.sleep(1.0)
            await asyncio.to_thread(fault)
        await asyncio.gather(*tasks)
    return _figures(latencies, errors, len(threads) * n)


async def _verify(settings: Settings, asked: dict[str, list[str]]) -> dict[str, Any]:
    lost, not_resumed = [], []
    async with await Chatbot.open(settings) as bot:
        for thread, questions in asked.items():
            config = {"configurable": {"thread_id": thread}}
            seen = {s.values.get("question"): s.values.get("answer") async for s in bot.graph.aget_state_history(config)}
            lost += [f"{thread}: {q}" for q in questions if not (seen.get(q) or "").strip()]
            before = (await bot.graph.aget_state(config)).values.get("turns", 0)
            try:
                await bot.aask("hello again", thread_id=thread)
                after = (await bot.graph.aget_state(config)).values.get("turns", 0)
                if after != before + 1:
                    not_resumed.append(thread)
            except Exception as exc:
                not_resumed.append(f"{thread}: {type(exc).__name__}")
    return {"threads": len(asked), "answered_turns": sum(map(len, asked.values())),
            "lost": lost[:20], "lost_count": len(lost), "not_resumed": not_resumed[:20]}


def _run_api(args: argparse.Namespace, url: str, work: Path, pgdata: Path, report: dict[str, Any]) -> None:
    report["via"] = "chatbot.Chatbot"
    with OllamaFake() as first, OllamaFake() as second:
        _script(first, primary_hangs=False)
        _script(second, primary_hangs=True)  # the second host's primary hangs now and then
        settings = Settings(
            database_url=url, home=work, ollama_base_url=f"{first.base_url},{second.base_url}",
            models=(PRIMARY, FALLBACK), llm="ollama", first_token_timeout_s=2.0, llm_timeout_s=10.0,
            llm_cooldown_s=2.0, ollama_parallel=4,
        )
        asked: dict[str, list[str]] = {}
        steady = [f"soak-a-{uuid.uuid4().hex[:8]}" for _ in range(args.sessions)]
        asked.update({t: [] for t in steady})
        report["steady"] = asyncio.run(_phase(settings, steady, args.questions, asked))

        def faults() -> None:
            second.close()  # one Ollama host gone for good
            close_pools()
            # restart in place (same socket and port, as a crash-and-recover would leave it)
            _embedded().pg_ctl(["-w", "-m", "fast", "restart"], pgdata=pgdata, user=_server_user(), timeout=60)

        faulty = [f"soak-b-{uuid.uuid4().hex[:8]}" for _ in range(args.sessions)]
        asked.update({t: [] for t in faulty})
        report["faults"] = asyncio.run(_phase(settings, faulty, args.questions, asked, fault=faults))
        report["history"] = asyncio.run(_verify(settings, asked))


# --- through the Chainlit app's websocket -------------------------------------------------------------


_DRIVER_WORDS = re.compile(
    r"psycopg|OperationalError|connection to server|terminating connection|server closed|FATAL|Traceback", re.I
)


def _app_env(url: str, work: Path, first: OllamaFake, second: OllamaFake) -> dict[str, str]:
    from ui_fixtures import app_env

    return app_env(
        DATABASE_URL=url, MOVIE_RAG_HOME=str(work / "home"), OLLAMA_BASE_URL=f"{first.base_url},{second.base_url}",
        MOVIE_RAG_MODELS=f"{PRIMARY},{FALLBACK}", MOVIE_RAG_LLM="ollama", MOVIE_RAG_FIRST_TOKEN_TIMEOUT_S="2",
        MOVIE_RAG_LLM_TIMEOUT_S="10", MOVIE_RAG_LLM_COOLDOWN_S="2", MOVIE_RAG_OLLAMA_PARALLEL="4",
    )


async def _ws_phase(app: str, sessions: int, n: int, fault: Any = None) -> tuple[dict[str, Any], list[Any]]:
    from soak_ws import WsSession

    clients = [WsSession(app) for _ in range(sessions)]
    await asyncio.gather(*(c.open() for c in clients))
    latencies: list[float] = []
    errors: list[str] = []
    driver_text: list[str] = []

    async def run(client: WsSession, k: int) -> None:
        for i in range(n):
            turn = await client.ask(f"{QUESTIONS[(k + i) % len(QUESTIONS)]} (#{i})")
            latencies.append(turn.seconds)
            driver_text.extend(text[:200] for text in turn.shown if _DRIVER_WORDS.search(text))
            if turn.error:
                errors.append(f"{client.thread_id}: {turn.answer[:160] or 'no answer shown'} [{' '.join(turn.events[-12:])}]")

    tasks = [asyncio.create_task(run(c, k)) for k, c in enumerate(clients)]
    if fault is not None:
        await asyncio.sleep(3.0)
        await asyncio.to_thread(fault)
    await asyncio.gather(*tasks)
    await asyncio.gather(*(c.close() for c in clients))
    # what a person was shown must never carry the driver's or the server's own words
    return _figures(latencies, errors, sessions * n) | {"driver_text": driver_text[:10]}, clients


async def _ws_verify(app: str, url: str, clients: list[Any]) -> dict[str, Any]:
    from soak_ws import WsSession, persisted

    async def settled(sessions: list[Any]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for _ in range(30):  # writes go in after the turn (and after the restart, once it is back)
            found = await asyncio.to_thread(persisted, url, sessions)
            if found["lost_count"] == 0:
                break
            await asyncio.sleep(1.0)
        return found

    history = await settled(clients)
    not_resumed: list[str] = []
    again: list[Any] = []
    for client in clients:
        if client.thread_id is None:
            not_resumed.append("a session that never got a thread id")
            continue
        back = WsSession(app)
        try:
            await back.open(resume=client.thread_id)
            turn = await back.ask("hello again")
            if not back.resumed or turn.error:
                not_resumed.append(f"{client.thread_id}: resumed={back.resumed} answer={turn.answer[:80]!r} "
                                   f"[{' '.join(turn.events[-12:])}]")
            again.append(back)
        finally:
            await back.close()
    resumed_history = await settled(again)
    return {"threads": len(clients), "answered_turns": sum(1 for c in clients for t in c.turns if not t.error),
            "checked_ids": history["checked"], "lost": (history["lost"] + resumed_history["lost"])[:20],
            "lost_count": history["lost_count"] + resumed_history["lost_count"], "not_resumed": not_resumed[:20]}


def _run_chainlit(args: argparse.Namespace, url: str, work: Path, pgdata: Path, report: dict[str, Any]) -> None:
    from ui_fixtures import running_app

    with OllamaFake() as first, OllamaFake() as second:
        _script(first, primary_hangs=False)
        _script(second, primary_hangs=True)
        with running_app(_app_env(url, work, first, second), work, timeout=180) as app:
            report["via"] = "chainlit websocket"
            report["steady"], steady = asyncio.run(_ws_phase(app, args.sessions, args.questions))

            def faults() -> None:
                second.close()  # one Ollama host gone for good
                _embedded().pg_ctl(["-w", "-m", "fast", "restart"], pgdata=pgdata, user=_server_user(), timeout=60)

            report["faults"], faulty = asyncio.run(_ws_phase(app, args.sessions, args.questions, fault=faults))
            report["history"] = asyncio.run(_ws_verify(app, url, steady + faulty))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=32)
    parser.add_argument("--questions", type=int, default=20)
    parser.add_argument("--out", type=Path, default=HERE.parent / "bench" / "soak.json")
    parser.add_argument("--via", choices=("chainlit", "api"), default="chainlit")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    work = Path(tempfile.mkdtemp(prefix="movie-rag-soak-"))
    pgdata = work / "pgdata"
    url = start_embedded(pgdata)
    report: dict[str, Any] = {"sessions": args.sessions, "questions_per_session": args.questions}
    try:
        _seed(url)
        if args.via == "chainlit":
            _run_chainlit(args, url, work, pgdata, report)
        else:
            _run_api(args, url, work, pgdata, report)
    finally:
        close_pools()
        stop_embedded(pgdata)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k != "history"} | {
        "lost": report["history"]["lost_count"], "not_resumed": len(report["history"]["not_resumed"])}, indent=2))
    ok = report["history"]["lost_count"] == 0 and not report["history"]["not_resumed"] and not any(
        report[phase].get("driver_text") for phase in ("steady", "faults"))
    return 0 if ok else 1


if __name__ == "__main__":
    threading.excepthook = lambda a: None  # fake-server threads dying with a killed host are expected
    sys.exit(main())
