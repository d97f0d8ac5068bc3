"""The graph through LangGraph with fake dependencies: routes, SQL fallbacks, memory, citations."""

import pytest
from graph_fakes import FakeCatalog, FakeChat, FakeEmbedder, FakeGuard

from chatbot.answer import AnswerEvent, StepEvent, TokenEvent
from chatbot.api import Chatbot
from chatbot.deps import Deps
from chatbot.extractive import NO_LLM_CONFIGURED_NOTE
from prompts.route import ROUTE_SYSTEM


def bot(chat=None, guard=None, catalog=None, **kw):
    deps = Deps(catalog=catalog or FakeCatalog(), embedder=FakeEmbedder(), chat=chat, sql=guard, **kw)
    return Chatbot(deps)


def ids(answer):
    return [c.id for c in answer.citations]


async def test_similar_route_without_llm_gives_extractive_answer_citing_every_row():
    catalog = FakeCatalog()
    a = await bot(catalog=catalog, k=2).aask("movies like Finding Nemo")
    assert catalog.calls[0] == ("similar", ("Finding Nemo", 2003, "cosine", 6))  # 3k candidates, k kept
    assert a.route == "similar" and a.model is None
    assert a.answer.splitlines()[0] == "Films in your catalog closest to Finding Nemo (2003):"
    assert ids(a) == [2, 3]
    assert a.notes == [NO_LLM_CONFIGURED_NOTE]
    assert list(a.timings_ms) == ["understand", "embed", "retrieve", "generate", "check_citations"]


async def test_structured_without_sql_filters_and_sorts_in_retrieval():
    catalog = FakeCatalog()
    a = await bot(catalog=catalog).aask("90s dramas directed by Spielberg, sorted by year")
    kind, (_, mode, k, filters) = catalog.calls[-1]
    assert (kind, mode, k) == ("search", "hybrid", 50)
    assert (filters.year_min, filters.year_max, filters.director, filters.genres) == (1990, 1999, "Spielberg", ("Drama",))
    assert ids(a) == [4, 5]
    assert a.sql is None


async def test_follow_up_filters_and_sorts_the_previous_rows():
    b = bot()
    first = await b.aask("90s dramas directed by Spielberg", thread_id="t1")
    assert ids(first) == [4, 5]
    second = await b.aask("which of those is the longest?", thread_id="t1")
    assert second.route == "follow_up"
    assert ids(second) == [4]  # Schindler's List, 195 min
    assert second.rows[0]["title"] == "Schindler's List"


async def test_llm_answer_streams_tokens_and_flags_a_title_not_in_the_rows():
    chat = FakeChat(answers=["Try **Shark Tale** (2004) and **Jaws** (1975), or **The Meg** (2018)."])
    events = [e async for e in bot(chat=chat, k=2).astream("movies like Finding Nemo")]
    tokens = "".join(e.text for e in events if isinstance(e, TokenEvent))
    assert tokens.strip() == "Try **Shark Tale** (2004) and **Jaws** (1975), or **The Meg** (2018)."
    steps = [e.node for e in events if isinstance(e, StepEvent)]
    assert steps == ["understand", "embed", "retrieve", "generate", "check_citations"]
    final = events[-1].answer
    assert isinstance(events[-1], AnswerEvent)
    assert final.model == "fake:1b"
    assert ids(final) == [2, 3]
    assert "**The Meg** [not in the retrieved rows]" in final.answer
    assert final.notes == ["Not among the retrieved rows, so not verified: The Meg."]
    # rows are fenced as data in the prompt
    prompt = chat.stream_calls[0][1].content
    assert "<<<ROWS" in prompt and '"title": "Shark Tale"' in prompt


async def test_llm_down_at_start_answers_extractively_with_note():
    a = await bot(chat=FakeChat(up=False)).aask("a clownfish father searches the ocean")
    assert a.model is None
    assert a.notes == ["No LLM was reachable, so this answer lists the catalog rows directly."]
    assert len(a.citations) == 7


async def test_chitchat_skips_retrieval():
    catalog = FakeCatalog()
    a = await bot(catalog=catalog).aask("hello")
    assert a.route == "chitchat" and a.citations == [] and catalog.calls == []
    assert list(a.timings_ms) == ["understand", "generate", "check_citations"]


async def test_sql_path_good_draft_runs_checked_sql():
    rows = [{"id": 5, "title": "Saving Private Ryan", "year": 1998}]
    guard = FakeGuard(rows=rows)
    chat = FakeChat(answers=["Saving Private Ryan (1998) is the one."], drafts=["SELECT id, title, year FROM movies LIMIT 5"])
    a = await bot(chat=chat, guard=guard).aask("war films from 1998")
    assert guard.runs == [("SELECT id, title, year FROM movies LIMIT 5 /*checked*/", {})]
    assert a.sql == "SELECT id, title, year FROM movies LIMIT 5 /*checked*/"
    assert ids(a) == [5] and a.notes == []
    assert list(a.timings_ms) == ["understand", "embed", "draft_sql", "check_sql", "run_sql", "generate", "check_citations"]


async def test_sql_rejected_then_repaired_sends_reason_back():
    guard = FakeGuard(rows=[{"id": 3, "title": "Jaws", "year": 1975}])
    chat = FakeChat(answers=["Jaws (1975)."], drafts=["DROP TABLE movies", "SELECT id, title, year FROM movies LIMIT 1"])
    a = await bot(chat=chat, guard=guard).aask("films from 1975")
    assert len(chat.json_calls) == 2
    assert "Your previous SQL was rejected: Only SELECT statements are allowed." in chat.json_calls[1][-1].content
    assert a.sql == "SELECT id, title, year FROM movies LIMIT 1 /*checked*/" and ids(a) == [3]


async def test_sql_rejected_twice_falls_back_to_retrieval_with_note():
    chat = FakeChat(answers=["Jaws (1975)."], drafts=["DROP TABLE movies", "SELECT * FROM movies WHERE embedding @> ANY('Jaws')"])
    a = await bot(chat=chat, guard=FakeGuard()).aask("films from 1975")
    assert a.sql is None
    assert a.notes == ["The drafted SQL was rejected (The @> operator cannot be used on embeddings.); answered from vector search instead."]
    assert ids(a) == [3]


@pytest.mark.parametrize(
    ("rows", "note"),
    [
        (RuntimeError("The query ran longer than 2000 ms and was cancelled."), "The query ran longer than 2000 ms and was cancelled. Answered from vector search instead."),
        ([], "The drafted SQL found no rows; answered from vector search instead."),
    ],
)
async def test_sql_execution_error_or_zero_rows_falls_back(rows, note):
    chat = FakeChat(answers=["Jaws (1975)."], drafts=["SELECT id, title, year FROM movies LIMIT 5"])
    a = await bot(chat=chat, guard=FakeGuard(rows=rows)).aask("films from 1975")
    assert a.sql is None and a.notes == [note] and ids(a) == [3]


async def test_a_name_before_films_becomes_a_director_filter_when_the_catalog_knows_a_director():
    catalog = FakeCatalog()
    a = await bot(catalog=catalog).aask("Steven Spielberg films from the 90s")
    _, (_, _, _, filters) = catalog.calls[-1]
    assert (filters.director, filters.people, filters.year_min, filters.year_max) == ("Steven Spielberg", (), 1990, 1999)
    assert ids(a) == [4, 5]


def test_sort_rows_keeps_ties_of_a_superlative():
    from chatbot.nodes import sort_rows

    rows = [{"id": 1, "d": 184}, {"id": 2, "d": 120}, {"id": 3, "d": 184}, {"id": 4, "d": None}]
    assert [r["id"] for r in sort_rows(rows, {"key": "d", "desc": True}, 1)] == [1, 3]
    assert [r["id"] for r in sort_rows(rows, {"key": "d", "desc": False}, 2)] == [2, 1, 3]
    assert [r["id"] for r in sort_rows(rows, {"key": "d", "desc": False}, None)] == [2, 1, 3, 4]


def test_similar_prefers_neighbours_with_a_summary_when_the_anchor_has_one():
    from dataclasses import replace

    from graph_fakes import MOVIES

    from chatbot.nodes import prefer_described

    stub, described = replace(MOVIES[1], summary=None), replace(MOVIES[2], summary="A shark.")
    assert prefer_described([stub, described], anchored=True) == [described, stub]
    assert prefer_described([stub, described], anchored=False) == [stub, described]


async def test_an_empty_catalog_says_how_to_load_one():
    from chatbot.nodes import EMPTY_CATALOG

    a = await bot(catalog=FakeCatalog(movies=[])).aask("a heist in a casino")
    assert a.answer == EMPTY_CATALOG and a.citations == []


RAINY = "something for a rainy sunday afternoon"



async def test_llm_routing_is_off_by_default():
    chat = FakeChat(answers=["Jaws (1975)."])
    a = await bot(chat=chat).aask(RAINY)
    assert a.route == "semantic" and chat.json_calls == []


async def test_llm_routing_turns_a_signal_free_question_structured_with_checked_filters():
    catalog = FakeCatalog()
    chat = FakeChat(answers=["Schindler's List (1993)."], routes=[
        {"route": "structured", "year_min": 1990, "year_max": 1999, "genres": ["drama", "Space Opera"],
         "director": None, "actors": [], "junk": 1},
    ])
    a = await bot(chat=chat, catalog=catalog, llm_routing=True).aask(RAINY)
    assert a.route == "structured"
    _, (_, _, k, filters) = catalog.calls[-1]
    assert (k, filters.year_min, filters.year_max, filters.genres, filters.director) == (50, 1990, 1999, ("Drama",), None)
    assert ids(a) == [4]
    assert [m.content for m in chat.json_calls[0]] == [ROUTE_SYSTEM, RAINY]


@pytest.mark.parametrize(
    ("reply", "route"),
    [
        ({"route": "structured", "year_min": "1990", "genres": []}, "semantic"),  # nothing usable
        ({"route": "similar"}, "semantic"),  # needs a catalog title the rules did not find
        ({"route": "chitchat"}, "chitchat"),
    ],
)
async def test_llm_routing_only_takes_what_it_can_use(reply, route):
    chat = FakeChat(answers=["Hello."], routes=[reply])
    a = await bot(chat=chat, llm_routing=True).aask(RAINY)
    assert a.route == route


async def test_llm_routing_is_not_asked_when_the_rules_found_a_signal():
    chat = FakeChat(answers=["Jaws (1975)."])
    a = await bot(chat=chat, llm_routing=True).aask("thrillers from the 70s")
    assert a.route == "structured" and chat.json_calls == []
