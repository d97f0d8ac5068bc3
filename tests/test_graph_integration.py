"""The real graph end to end: embedded Postgres with the course catalog, the real catalog search,
SQL guard and Postgres checkpointer, and the real ChatOllama cascade talking to the loopback fake."""

from __future__ import annotations

import asyncio
import time

import pytest
from ollama_fake import OllamaFake

from chatbot.api import Chatbot
from chatbot.extractive import NO_LLM_CONFIGURED_NOTE, NO_LLM_NOTE
from chatbot.settings import Settings
from chatbot.wiring import open_deps

pytestmark = pytest.mark.integration

PRIMARY, SECOND, SMALL = "llama3.1:8b", "llama3.2:3b", "llama3.2:1b"


@pytest.fixture
def fake():
    with OllamaFake() as f:
        yield f


def settings_for(db: str, fake: OllamaFake | None, **kw) -> Settings:
    base = fake.base_url if fake else "http://127.0.0.1:9"  # port 9: nothing listens
    return Settings(database_url=db, ollama_base_url=base, models=(PRIMARY, SECOND, SMALL), **kw)


async def open_bot(settings: Settings) -> Chatbot:
    deps, checkpointer, closers = await open_deps(settings)
    return Chatbot(deps, checkpointer=checkpointer, closers=closers)


def titles(answer):
    return [(c.title, c.year) for c in answer.citations]


async def test_similar_route_without_llm(course_db):
    async with await open_bot(settings_for(course_db, None, llm="none", k=5)) as bot:
        a = await bot.aask("movies like Finding Nemo")
    assert a.route == "similar" and a.model is None and a.notes == [NO_LLM_CONFIGURED_NOTE]
    assert len(a.citations) == 5 and ("Finding Nemo", 2003) not in titles(a)
    assert a.answer.startswith("Films in your catalog closest to Finding Nemo (2003):")
    # every cited row is a real row of the answer
    assert [c.id for c in a.citations] == [r["id"] for r in a.rows]


async def test_structured_route_without_sql_finds_the_exact_set(course_db):
    async with await open_bot(settings_for(course_db, None, llm="none")) as bot:
        a = await bot.aask("90s dramas directed by Spielberg, sorted by year")
    assert a.route == "structured"
    assert titles(a) == [("Schindler's List", 1993), ("Saving Private Ryan", 1998)]


async def test_recommendation_route_seeds_from_the_named_film(course_db):
    async with await open_bot(settings_for(course_db, None, llm="none", k=5)) as bot:
        a = await bot.aask("I liked Toy Story, what should I watch?")
    assert a.route == "recommendation"
    assert a.answer.startswith("Recommended from your catalog for fans of Toy Story:")
    # no ratings in this catalog: the films nearest the liked one's embedding, itself excluded
    assert len(a.citations) == 5 and ("Toy Story", 1995) not in titles(a)
    assert ("Toy Story 2", 1999) in titles(a)


async def test_chitchat_route_answers_without_rows(course_db, fake):
    fake.script(PRIMARY, default="Hi! Ask me about the films in your catalog.")
    async with await open_bot(settings_for(course_db, fake)) as bot:
        a = await bot.aask("hello")
    assert (a.route, a.answer, a.model, a.citations, a.rows) == (
        "chitchat", "Hi! Ask me about the films in your catalog.", PRIMARY, [], []
    )
    assert list(a.timings_ms) == ["understand", "generate", "check_citations"]


async def test_follow_up_uses_previous_ids_and_thread_resumes_after_rebuild(course_db):
    s = settings_for(course_db, None, llm="none")
    async with await open_bot(s) as bot:
        first = await bot.aask("movies with Tom Hanks", thread_id="resume-1")
    assert ("Forrest Gump", 1994) in titles(first)
    # a new process: new pool, new graph, same database
    async with await open_bot(s) as bot:
        second = await bot.aask("which of those is the longest?", thread_id="resume-1")
    assert second.route == "follow_up"
    assert len(second.citations) == 1
    first_ids = {c.id for c in first.citations}
    assert second.citations[0].id in first_ids
    longest = max((r for r in first.rows), key=lambda r: r.get("duration_min") or 0)
    assert second.citations[0].id == longest["id"]


async def test_llm_answer_streams_and_hallucinated_title_is_flagged(course_db, fake):
    fake.script(PRIMARY, default="You could watch **Jaws** (1975) or **Sharknado 7** (2029).")
    async with await open_bot(settings_for(course_db, fake)) as bot:
        a = await bot.aask("a shark terrorizes a beach town")
    assert a.model == PRIMARY and a.fallbacks == []
    assert ("Jaws", 1975) in titles(a)
    assert "**Sharknado 7** [not in the retrieved rows]" in a.answer
    assert a.notes == ["Not among the retrieved rows, so not verified: Sharknado 7."]
    prompt = fake.chat_requests(PRIMARY)[0].messages[-1]["content"]
    assert "<<<ROWS" in prompt and '"title": "Jaws"' in prompt


async def test_hung_primary_falls_back_within_budget(course_db, fake):
    fake.script(PRIMARY, failure="hang")
    fake.script(SECOND, default="**Jaws** (1975) fits.")
    s = settings_for(course_db, fake, first_token_timeout_s=1.0, llm_timeout_s=5.0)
    async with await open_bot(s) as bot:
        t0 = time.perf_counter()
        a = await bot.aask("a shark terrorizes a beach town")
        elapsed = time.perf_counter() - t0
    assert a.model == SECOND
    assert [f.model for f in a.fallbacks] == [PRIMARY]
    assert elapsed < 5.0  # the hang cost the first-token timeout, not the whole budget


async def test_all_models_down_gives_extractive_answer(course_db, fake):
    for m in (PRIMARY, SECOND, SMALL):
        fake.script(m, status=500)
    async with await open_bot(settings_for(course_db, fake)) as bot:
        a = await bot.aask("a shark terrorizes a beach town")
    assert a.model is None
    assert [f.model for f in a.fallbacks] == [PRIMARY, SECOND, SMALL]
    assert a.notes == [NO_LLM_NOTE]
    assert ("Jaws", 1975) in titles(a)


async def test_no_ollama_listening_gives_extractive_answer(course_db):
    async with await open_bot(settings_for(course_db, None)) as bot:
        a = await bot.aask("a shark terrorizes a beach town")
    assert a.model is None and a.notes == [NO_LLM_NOTE] and ("Jaws", 1975) in titles(a)


GOOD_SQL = (
    "SELECT id, title, year FROM movies WHERE director ILIKE '%spielberg%' "
    "AND year BETWEEN 1990 AND 1999 AND 'Drama' = ANY(genres) ORDER BY year LIMIT 50"
)


def sql_reply(*drafts: str) -> list[str]:
    import json

    return [json.dumps({"sql": d}) for d in drafts]


async def test_sql_path_good_draft(course_db, fake):
    fake.script(PRIMARY, queue=sql_reply(GOOD_SQL), default="**Schindler's List** (1993) and **Saving Private Ryan** (1998).")
    async with await open_bot(settings_for(course_db, fake)) as bot:
        a = await bot.aask("90s dramas directed by Spielberg")
    assert a.sql is not None and "ILIKE '%spielberg%'" in a.sql
    assert [r["title"] for r in a.rows] == ["Schindler's List", "Saving Private Ryan"]
    assert titles(a) == [("Schindler's List", 1993), ("Saving Private Ryan", 1998)]
    assert a.notes == []


async def test_sql_rejected_then_repaired(course_db, fake):
    bad = "SELECT title FROM movies WHERE embedding @> ANY('Finding Nemo')"
    fake.script(PRIMARY, queue=sql_reply(bad, GOOD_SQL), default="**Schindler's List** (1993).")
    async with await open_bot(settings_for(course_db, fake)) as bot:
        a = await bot.aask("90s dramas directed by Spielberg")
    drafts = fake.chat_requests(PRIMARY)
    assert "Your previous SQL was rejected:" in drafts[1].messages[-1]["content"]
    assert a.sql is not None and len(a.rows) == 2


async def test_sql_rejected_twice_falls_back_with_note(course_db, fake):
    bad = "DELETE FROM movies"
    fake.script(PRIMARY, queue=sql_reply(bad, bad), default="**Schindler's List** (1993).")
    async with await open_bot(settings_for(course_db, fake)) as bot:
        a = await bot.aask("90s dramas directed by Spielberg")
    assert a.sql is None
    assert len(a.notes) == 1 and a.notes[0].startswith("The drafted SQL was rejected (")
    assert a.notes[0].endswith("); answered from vector search instead.")
    assert titles(a) == [("Schindler's List", 1993)]  # the scripted answer, over the fallback rows
    assert {r["title"] for r in a.rows} == {"Schindler's List", "Saving Private Ryan"}


@pytest.mark.parametrize(
    ("draft", "note"),
    [
        ("SELECT id, title, year FROM movies WHERE year = 1800 LIMIT 5",
         "The drafted SQL found no rows; answered from vector search instead."),
        ("SELECT id, title, year, 1 / (year - year) AS boom FROM movies LIMIT 5",
         "The database rejected the query: division by zero. Answered from vector search instead."),
    ],
)
async def test_sql_zero_rows_or_execution_error_fall_back(course_db, fake, draft, note):
    fake.script(PRIMARY, queue=sql_reply(draft), default="**Schindler's List** (1993).")
    async with await open_bot(settings_for(course_db, fake)) as bot:
        a = await bot.aask("90s dramas directed by Spielberg")
    assert a.sql is None and a.notes == [note]
    assert ("Schindler's List", 1993) in titles(a)


async def test_eight_concurrent_questions_against_a_slow_model(course_db, fake):
    fake.script(PRIMARY, default="**Jaws** (1975).", first_token_delay=0.3, max_concurrency=1)
    s = settings_for(course_db, fake, first_token_timeout_s=1.0, llm_timeout_s=20.0)
    async with await open_bot(s) as bot:
        answers = await asyncio.gather(*(bot.aask(f"a shark terrorizes a beach town #{i}") for i in range(8)))
    assert [a.model for a in answers] == [PRIMARY] * 8
    assert all(a.fallbacks == [] for a in answers)


async def test_llm_routing_through_ollama_format(course_db, fake):
    import json

    route = {"route": "structured", "year_min": 1990, "year_max": 1999, "genres": ["Drama"],
             "director": "Steven Spielberg", "actors": []}
    fake.script(PRIMARY, queue=[json.dumps(route)], default="**Schindler's List** (1993).")
    s = settings_for(course_db, fake, llm_routing=True, sql_mode=False)
    async with await open_bot(s) as bot:
        a = await bot.aask("what did the man behind E.T. make about serious matters in that decade of grunge")
    first = fake.chat_requests(PRIMARY)[0]
    assert first.format["properties"]["route"]["enum"] == ["semantic", "structured", "recommendation", "chitchat"]
    assert a.route == "structured"
    assert [(r["title"], r["year"]) for r in a.rows] == [("Schindler's List", 1993), ("Saving Private Ryan", 1998)]
