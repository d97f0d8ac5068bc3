"""Bench section `real_llm`: the real client against a real model (Gemma 3 270M on llama.cpp behind
the loopback Ollama server, eval/real_llm.py), when `make real-llm` installed it; otherwise it
reports nothing. Figures: first-token and total latency by prompt size, how often the usability
gate refused the answer, how many SQL drafts were accepted by the guard *and* on-question, and
four questions at once against a one-at-a-time server (queue wait, timeouts)."""

from __future__ import annotations

import asyncio
import json
import time

from eval.bench import BenchContext, Figure
from retrieval.plan import Filters, Names, Range

SECTION = "real_llm"
ROW_COUNTS = (2, 10, 30)
ANSWER_TOKENS = 96

DRAFTS = (
    ("90s dramas directed by Steven Spielberg", Filters(year=Range(min=1990, max=1999), genres=Names(all_of=("Drama",)),
                                                         directors=Names(all_of=("Steven Spielberg",)))),
    ("comedies from the 80s", Filters(year=Range(min=1980, max=1989), genres=Names(all_of=("Comedy",)))),
    ("films with Tom Hanks", Filters(actors=Names(all_of=("Tom Hanks",)))),
    ("war films", Filters(genres=Names(all_of=("War",)))),
)
"""Questions to draft SQL for, with the filters the rules find in them."""


def _rows(n: int) -> str:
    rows = [
        {"id": i, "title": f"Film {i}", "year": 1980 + i % 40, "genres": ["Drama"],
         "summary": "A young woman leaves her village for the city and finds work in a theatre. " * 3}
        for i in range(1, n + 1)
    ]
    return "\n".join(json.dumps(r) for r in rows)


def run(ctx: BenchContext) -> list[Figure]:
    from eval import real_llm

    if not real_llm.available():
        return []
    return asyncio.run(_run())


async def _run() -> list[Figure]:
    from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

    from chatbot.drafts import draft_problem
    from chatbot.llm import ChatCascade, LLMConfig, LLMUnavailable
    from chatbot.prompting import SQL_SCHEMA as SQL_JSON_SCHEMA
    from eval import real_llm
    from prompts.answer import ANSWER_SYSTEM, ANSWER_USER
    from prompts.sql import SQL_EXAMPLES, SQL_SYSTEM
    from retrieval.sqlguard import UnsafeSQL, check_sql

    figures: list[Figure] = []
    with real_llm.RealOllama(parallel=1) as srv:
        cfg = LLMConfig(base_url=srv.base_url, models=(real_llm.MODEL_NAME,), first_token_timeout_s=120,
                        total_timeout_s=180, json_timeout_s=60, answer_tokens=ANSWER_TOKENS)
        cascade = ChatCascade(cfg)
        refused = 0
        for n in ROW_COUNTS:
            user = ANSWER_USER.format(question="a film about leaving home?", context_note="", count=n, rows=_rows(n))
            t0 = time.perf_counter()
            try:
                done = await cascade.stream([SystemMessage(ANSWER_SYSTEM), HumanMessage(user)])
                first = done.first_token_ms or 0.0
            except LLMUnavailable:
                refused += 1
                first = float("nan")
            total = (time.perf_counter() - t0) * 1000
            figures += [
                Figure(section=SECTION, name=f"first token, {n} rows", value=first, unit="ms"),
                Figure(section=SECTION, name=f"answer total, {n} rows", value=total, unit="ms"),
            ]
        figures.append(Figure(section=SECTION, name="answers refused by the usability gate",
                              value=100.0 * refused / len(ROW_COUNTS), unit="%"))

        good = 0
        for question, filters in DRAFTS:
            messages: list[BaseMessage] = [SystemMessage(SQL_SYSTEM.format(row_cap=50))]
            for q, sql in SQL_EXAMPLES:
                messages += [HumanMessage(q), AIMessage(json.dumps({"sql": sql}))]
            messages.append(HumanMessage(question))
            try:
                done = await cascade.complete_json(messages, schema=SQL_JSON_SCHEMA)
                sql = str((done.data or {}).get("sql") or "")
                check_sql(sql)
                ok = draft_problem(sql, question=question, filters=filters, examples=SQL_EXAMPLES) is None
            except (LLMUnavailable, UnsafeSQL):
                ok = False
            good += ok
        figures.append(Figure(section=SECTION, name="SQL drafts accepted and on-question",
                              value=100.0 * good / len(DRAFTS), unit="%"))

        t0 = time.perf_counter()
        results = await asyncio.gather(
            *(cascade.stream([HumanMessage(f"Say hello to person number {i}.")]) for i in range(4)),
            return_exceptions=True,
        )
        timeouts = sum(
            1 for r in results if isinstance(r, LLMUnavailable)
            and any(f.reason.startswith(("busy", "no first token", "total budget")) for f in r.fallbacks)
        )
        waits = [r.queued_ms for r in results if not isinstance(r, BaseException)]
        figures += [
            Figure(section=SECTION, name="4 at once: timed out for queueing", value=timeouts, unit="questions",
                   target="0", ok=timeouts == 0),
            Figure(section=SECTION, name="4 at once: longest wait for the slot", value=max(waits, default=0.0), unit="ms"),
            Figure(section=SECTION, name="4 at once: all done", value=(time.perf_counter() - t0) * 1000, unit="ms"),
        ]
        await cascade.aclose()
    return figures
