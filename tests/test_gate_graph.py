"""The usability gate and the on-question rules inside the graph: the real cascade (LangChain
fake chat models, no wire) judges answers with the catalog's title lookup, so an answer that
talks mostly about catalog films that are not its rows falls back; an LLM-filled plan that
undoes the rules' reading is not used."""

from __future__ import annotations

import pytest
from graph_fakes import FakeCatalog, FakeChat, FakeEmbedder
from test_llm import fake_cascade

from chatbot.answer import Fallback
from chatbot.api import Chatbot
from chatbot.deps import Deps
from chatbot.llm_hosts import forget_shared_pools
from retrieval.plan import Filters, Names, QueryPlan, Range

P, S = "primary:1b", "secondary:1b"
NEMO = "movies like Finding Nemo"  # FakeCatalog's neighbours at k=2: Shark Tale, Jaws


@pytest.fixture(autouse=True)
def _fresh_pools():
    forget_shared_pools()
    yield
    forget_shared_pools()


def bot(chat, **kw) -> Chatbot:
    return Chatbot(Deps(catalog=FakeCatalog(), embedder=FakeEmbedder(), chat=chat, k=2, **kw))


async def test_an_answer_about_catalog_films_that_are_not_its_rows_falls_back():
    # Plain prose, no bold or years: only the catalog lookup sees Casino, Schindler's List and
    # Saving Private Ryan as films (catalog rows, but not this answer's rows).
    drifting = "Shark Tale is fun. Better still are Casino, Schindler's List and Saving Private Ryan."
    good = "Shark Tale and Jaws both have sharks in them."
    a = await bot(fake_cascade({P: [drifting], S: [good]})).aask(NEMO)
    assert a.model == S and a.answer == good
    assert a.fallbacks == [Fallback(model=P, reason="unusable answer: mostly titles not among the rows")]
    assert [c.id for c in a.citations] == [2, 3]


async def test_one_other_catalog_film_is_flagged_not_refused_and_common_words_are_not_titles():
    # "casino" as a word, a director's name and a genre are not films; Casino as a title is
    text = "Shark Tale and Jaws (Steven Spielberg, a Thriller) beat a night at the casino; so does Casino."
    a = await bot(fake_cascade({P: [text]})).aask(NEMO)
    assert a.model == P and a.fallbacks == []
    assert a.notes == ["Not among the retrieved rows, so not verified: Casino."]
    assert a.answer.count("[not in the retrieved rows]") == 1


async def test_all_models_drifting_gives_the_extractive_answer_with_the_reason():
    drifting = "Casino, Schindler's List and Saving Private Ryan, or Shark Tale."
    a = await bot(fake_cascade({P: [drifting]})).aask(NEMO)
    assert a.model is None and [c.id for c in a.citations] == [2, 3]
    assert a.fallbacks == [Fallback(model=P, reason="unusable answer: mostly titles not among the rows")]
    assert "mostly titles not among the rows" in " ".join(a.notes)


RAINY = "dramas from the 90s for a rainy sunday"


@pytest.fixture
def scripted(monkeypatch):
    plans: dict[str, QueryPlan] = {}
    monkeypatch.setattr("chatbot.nodes.read_plan", lambda q, vocab, *, titles, has_previous: plans[q])
    return plans


async def test_an_llm_plan_that_drops_what_the_rules_found_keeps_the_rules_plan(scripted):
    rules = Filters(genres=Names(all_of=("Drama",)), year=Range(min=1990, max=1999))
    scripted[RAINY] = QueryPlan(intent="search", filters=rules, semantic="rainy sunday", confidence=0.2)
    wider = {"intent": "list", "filters": {"genres": {"all_of": ["Drama"]}, "year": {"min": 1980, "max": 1999}}}
    chat = FakeChat(answers=["**Schindler's List** (1993)."], plans=[wider])
    a = await bot(chat, llm_routing=True).aask(RAINY)
    assert a.fallbacks == [Fallback(model="fake:1b", reason="off-question plan: its year range 1980–1999 contradicts 1990–1999")]
    assert a.plan["filters"]["year"] == {"min": 1990.0, "max": 1999.0}


async def test_an_llm_plan_that_adds_to_the_rules_reading_is_used(scripted):
    rules = Filters(genres=Names(all_of=("Drama",)))
    scripted[RAINY] = QueryPlan(intent="search", filters=rules, semantic="rainy sunday", confidence=0.2)
    more = {"intent": "list", "filters": {"genres": {"all_of": ["Drama"]}, "year": {"min": 1990, "max": 1999}}}
    chat = FakeChat(answers=["**Schindler's List** (1993)."], plans=[more])
    a = await bot(chat, llm_routing=True).aask(RAINY)
    assert a.fallbacks == [] and a.plan["filters"]["year"]["min"] == 1990.0
