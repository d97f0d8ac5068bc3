"""Bench section `real_llm`: the real client against a real model (Gemma 3 270M on llama.cpp behind
the loopback Ollama server, eval/real_llm.py), when `make real-llm` installed it; otherwise it
reports nothing. Kept short (a handful of prompts: the model shares a small machine).

Figures: first-token and total latency of the answer by prompt size (rows; prompt tokens as the
server counted them), streamed over the wire with the num_ctx / num_predict the cascade sends; the
usability gate's verdict (chatbot.usability, what the cascade decides) and its reasons over every
answer the model wrote; the citation check's false-flag rate on the same answers (flagged names
that are a catalog genre, person, country or language, or a row's own title); SQL drafting
validity through the cascade (drafts the guard accepted, drafts on-question, both, of all
drafts); and four questions at once through the cascade against a one-at-a-time server (timeouts
for queueing, answers the model gave, the longest wait for the slot, all done).

Rows are course films (../shared/data) picked by plain rules per question (a director, a genre,
an actor, a decade), as the plan compiler would pick them; the product's prompt builders, gate
and citation check judge them. Per-answer records go to `bench/real_llm.json`.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import httpx

from eval.bench import BenchContext, Figure
from retrieval.plan import Filters, Names, Range

SECTION = "real_llm"
ROW_COUNTS = (2, 10, 30)
ANSWER_TOKENS = 96
SPIELBERG = Names(all_of=("Steven Spielberg",))

DRAFTS = (
    ("median running time of Steven Spielberg films", Filters(directors=SPIELBERG)),
    ("how many comedies are from the 80s", Filters(year=Range(min=1980, max=1989), genres=Names(all_of=("Comedy",)))),
    ("which director made the most films with Tom Hanks", Filters(actors=Names(all_of=("Tom Hanks",)))),
    ("average running time of war films per decade", Filters(genres=Names(all_of=("War",)))),
)
"""Aggregate questions drafted as SQL, with the filters the rules find (the graph now answers the
two group questions with a group plan; the drafts measure the model on them all the same)."""

Pick = Callable[[Any], bool]
QUESTIONS: tuple[tuple[str, str | None, Pick], ...] = (
    ("films directed by Steven Spielberg", None, lambda f: "Steven Spielberg" in (f.director or "")),
    ("animated films for the whole family", None, lambda f: {"Animation", "Family"} <= set(f.genres)),
    ("films with Tom Hanks", None, lambda f: "Tom Hanks" in f.actors),
    ("movies like Finding Nemo", "Finding Nemo", lambda f: "Animation" in f.genres and f.title != "Finding Nemo"),
    ("crime films from the 90s", None, lambda f: "Crime" in f.genres and 1990 <= (f.year or 0) <= 1999),
)
"""(question, the anchor title it names, which films are its rows)."""
ROLES = {"system": "system", "human": "user", "ai": "assistant"}


def _films(ctx: BenchContext) -> list[Any]:
    from eval.build_expected import COURSE_MOVIES, Film, load_course

    path = ctx.movies_path or COURSE_MOVIES
    if Path(path).is_file():
        return load_course(Path(path))
    return [Film(imdb=i, title=f"Film {i}", year=1980 + i % 40, director="Ann Example", actors=("Bo Example",),
                 genres=("Drama",), duration_min=100, summary="A young woman leaves her village for the city. " * 3)
            for i in range(1, 61)]


def _row(i: int, f: Any) -> dict[str, Any]:
    return {"id": i, "title": f.title, "year": f.year, "director": f.director, "genres": list(f.genres),
            "actors": list(f.actors), "duration_min": f.duration_min,
            "country": ", ".join(f.countries) or None, "language": f.language, "summary": f.summary}


def run(ctx: BenchContext) -> list[Figure]:
    from eval import real_llm

    if not real_llm.available():
        return []
    figures, records = asyncio.run(_run(_films(ctx)))
    out = ctx.out_dir or Path("bench")
    out.mkdir(parents=True, exist_ok=True)
    (out / "real_llm.json").write_text(json.dumps(
        {"model": real_llm.MODEL_NAME, "figures": [asdict(f) for f in figures], "answers": records},
        indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return figures


def _catalog_titles(films: Sequence[Any]) -> Callable[[str], list[str]]:
    """Catalog titles in a text, as PgCatalog.find_titles reads them (2+ words or 5+ characters,
    any case, whole words) — without the database this section does not need."""
    titles = sorted({f.title for f in films if len(f.title) >= 5 or " " in f.title.strip()}, key=len, reverse=True)
    patterns = [(t, re.compile(rf"(?<!\w){re.escape(t)}(?!\w)", re.I)) for t in titles]

    def find(text: str) -> list[str]:
        found: list[str] = []
        for t, p in patterns:
            if p.search(text) and not any(t.casefold() in f.casefold() for f in found):
                found.append(t)
        return found

    return find


def _bare(name: str) -> str:
    name = re.sub(r"\s*\((?:18|19|20)\d\d\)\s*$", "", name)
    return re.sub(r"^(?:the|a|an)\s+", "", " ".join(re.findall(r"\w+", name.casefold())))


async def _run(films: list[Any]) -> tuple[list[Figure], list[dict[str, Any]]]:
    import sqlglot
    from langchain_core.messages import HumanMessage

    from chatbot.citations import KnownNames, check_citations
    from chatbot.drafts import draft_problem
    from chatbot.llm import ChatCascade, LLMConfig, LLMUnavailable
    from chatbot.llm_fit import fit_prompt
    from chatbot.llm_hosts import HostPool
    from chatbot.prompting import SQL_SCHEMA, answer_messages, extract_sql, sql_messages
    from chatbot.state import State
    from chatbot.usability import answer_problem
    from eval import real_llm
    from prompts.sql import SQL_EXAMPLES
    from retrieval.sqlguard import UnsafeSQL, check_sql

    people = {p for f in films for p in (*f.actors, *f.writers, *(f.director or "").split(", ")) if p}
    not_films = frozenset({*people, *(g for f in films for g in f.genres), *(c for f in films for c in f.countries),
                           *(f.language for f in films if f.language)})
    not_film_keys = {_bare(n) for n in not_films}
    find_titles = _catalog_titles(films)
    figures: list[Figure] = []
    records: list[dict[str, Any]] = []

    with real_llm.RealOllama(parallel=1) as srv:
        cfg = LLMConfig(base_url=srv.base_url, models=(real_llm.MODEL_NAME,), first_token_timeout_s=120,
                        total_timeout_s=180, json_timeout_s=90, answer_tokens=ANSWER_TOKENS)
        cascade = ChatCascade(cfg, pool=HostPool(hosts=cfg.hosts, parallel=1, cooldown_s=0))

        async def raw(messages: list[Any]) -> tuple[str, float | None, float, int | None, int]:
            """The model's own reply over the wire (streamed, with the num_ctx and num_predict the
            cascade would send): text, first-token ms, total ms, prompt tokens the server counted,
            num_ctx. Raw, so an answer the gate would refuse is still timed and judged."""
            fitted = fit_prompt(messages, num_predict=ANSWER_TOKENS, max_ctx=cfg.max_ctx)
            body = {"model": real_llm.MODEL_NAME, "stream": True,
                    "messages": [{"role": ROLES[m.type], "content": m.content} for m in fitted.messages],
                    "options": {"num_ctx": fitted.num_ctx, "num_predict": ANSWER_TOKENS}}
            parts: list[str] = []
            first, counted = None, None
            t0 = time.perf_counter()
            async with httpx.AsyncClient(base_url=srv.base_url, timeout=300) as client, \
                    client.stream("POST", "/api/chat", json=body) as reply:
                async for line in reply.aiter_lines():
                    if not line.strip():
                        continue
                    chunk = json.loads(line)
                    piece = (chunk.get("message") or {}).get("content") or ""
                    if piece and first is None:
                        first = (time.perf_counter() - t0) * 1000
                    parts.append(piece)
                    if chunk.get("done"):
                        counted = chunk.get("prompt_eval_count")
            return "".join(parts), first, (time.perf_counter() - t0) * 1000, counted, fitted.num_ctx

        async def answer(kind: str, question: str, rows: list[dict[str, Any]], anchor: str | None) -> dict[str, Any]:
            state = State(question=question, hits=rows, route="similar" if anchor else "semantic")
            messages = answer_messages(state)
            names = KnownNames(allowed=(anchor,) if anchor else (), not_films=not_films)
            text, first, total, counted, num_ctx = await raw(messages)
            problem = answer_problem(text, messages, names=names)  # what the cascade's gate decides
            # the graph's check_citations on the same text: a false flag names no invented film
            checked = check_citations(text, rows, catalog_titles=find_titles(text),
                                      allowed=list(names.allowed), not_films=not_films)
            row_keys = {_bare(r["title"]) for r in rows}
            rec: dict[str, Any] = {
                "kind": kind, "question": question, "rows": len(rows), "prompt_tokens": counted,
                "num_ctx": num_ctx, "first_token_ms": None if first is None else round(first, 1),
                "total_ms": round(total, 1), "used": problem is None, "reason": problem, "text": text,
                "flagged": checked.flagged,
                "false_flags": [n for n in checked.flagged if _bare(n) in not_film_keys | row_keys],
            }
            records.append(rec)
            return rec

        # 1. latency by prompt size (the closest-matches prompt over n course films)
        for n in ROW_COUNTS:
            rows = [_row(i, f) for i, f in enumerate(films[:n], 1)]
            rec = await answer("size", "a film about leaving home?", rows, None)
            label = f"{n} rows ({rec['prompt_tokens']} prompt tokens, num_ctx {rec['num_ctx']})"
            figures += [
                Figure(section=SECTION, name=f"first token, {label}", value=rec["first_token_ms"] or float("nan"), unit="ms"),
                Figure(section=SECTION, name=f"answer total, {label}", value=rec["total_ms"], unit="ms"),
            ]

        # 2. the gate and the citation check on ordinary questions
        for question, anchor, pick in QUESTIONS:
            rows = [_row(i, f) for i, f in enumerate((f for f in films if pick(f)), 1)][:8]
            if rows:
                await answer("question", question, rows, anchor)

        fell = [r for r in records if not r["used"]]
        reasons = Counter(r["reason"] for r in fell)
        flagged = [n for r in records for n in r["flagged"]]
        false = [n for r in records for n in r["false_flags"]]
        figures.append(Figure(section=SECTION, name=f"gate fallback rate ({len(fell)} of {len(records)} answers)",
                              value=100.0 * len(fell) / max(1, len(records)), unit="%"))
        figures += [Figure(section=SECTION, name=f"gate: unusable answer: {reason}", value=count, unit="answers")
                    for reason, count in sorted(reasons.items(), key=lambda kv: -kv[1])]
        figures.append(Figure(section=SECTION, name=f"false flags ({len(false)} of {len(flagged)} flagged names)",
                              value=100.0 * len(false) / len(flagged) if flagged else 0.0, unit="%",
                              target="0", ok=not false))

        # 3. SQL drafting validity: the product's drafting prompt, its guard and its on-question check
        accepted = on_question = both = 0
        for question, filters in DRAFTS:
            sql, verdict, problem = None, None, None
            try:
                done = await cascade.complete_json(sql_messages(State(question=question), row_cap=50), schema=SQL_SCHEMA)
                sql = extract_sql(done.text, done.data)
            except LLMUnavailable as exc:
                verdict = exc.fallbacks[-1].reason
            if sql:
                try:
                    check_sql(sql)
                    verdict = "accepted"
                except UnsafeSQL as exc:
                    verdict = f"rejected: {exc}"
                problem = draft_problem(sql, question=question, filters=filters, examples=SQL_EXAMPLES)
                try:
                    sqlglot.parse_one(sql, read="postgres")
                except sqlglot.errors.ParseError:
                    problem = "it does not parse"  # draft_problem leaves parse errors to the guard
            ok_guard, ok_question = verdict == "accepted", bool(sql) and problem is None
            accepted += ok_guard
            on_question += ok_question
            both += ok_guard and ok_question
            records.append({"kind": "draft", "question": question, "sql": sql, "verdict": verdict, "off_question": problem})
        n = len(DRAFTS)
        figures += [
            Figure(section=SECTION, name="SQL drafts accepted by the guard", value=100.0 * accepted / n, unit="%"),
            Figure(section=SECTION, name="SQL drafts on-question", value=100.0 * on_question / n, unit="%"),
            Figure(section=SECTION, name="SQL drafts accepted and on-question", value=100.0 * both / n, unit="%"),
        ]

        # 4. four at once against a server that serves one at a time
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
        unusable = sum(1 for r in results if isinstance(r, LLMUnavailable)
                       and all(f.reason.startswith("unusable") for f in r.fallbacks))
        figures += [
            Figure(section=SECTION, name="4 at once: timed out for queueing", value=timeouts, unit="questions",
                   target="0", ok=timeouts == 0),
            Figure(section=SECTION, name="4 at once: answered by the model", value=len(waits), unit="questions"),
            Figure(section=SECTION, name="4 at once: fell back (unusable answer)", value=unusable, unit="questions"),
            Figure(section=SECTION, name="4 at once: longest wait for the slot", value=max(waits, default=0.0), unit="ms"),
            Figure(section=SECTION, name="4 at once: all done", value=(time.perf_counter() - t0) * 1000, unit="ms"),
        ]
        await cascade.aclose()
    return figures, records
