"""The graph through LangGraph with fake dependencies: plans run, SQL for aggregates, memory,
reducers across turns, run-context options, truthful extractive wording, citations.

Tests that pin the graph's behaviour for one exact plan script the rule reader (`scripted`);
the rest go through the real rules (`chatbot.understand.read_plan`)."""

import pytest
from graph_fakes import MOVIES, FakeCatalog, FakeChat, FakeEmbedder, FakeGuard
from langgraph.checkpoint.memory import InMemorySaver

from chatbot.answer import AnswerEvent, Fallback, StepEvent, TokenEvent
from chatbot.api import Chatbot
from chatbot.deps import Deps
from chatbot.extractive import NO_LLM_CONFIGURED_NOTE
from chatbot.llm import NO_LLM_NOTE, LLMUnavailable
from chatbot.state import checkpoint_serde
from retrieval.plan import Filters, Names, QueryPlan, Range, Sort


def bot(chat=None, guard=None, catalog=None, checkpointer=None, **kw):
    # LLM plan filling (on by default) is tested on its own below; elsewhere the fake is not asked
    kw.setdefault("llm_routing", False)
    deps = Deps(catalog=catalog or FakeCatalog(), embedder=FakeEmbedder(), chat=chat, sql=guard, **kw)
    return Chatbot(deps, checkpointer=checkpointer)


def ids(answer):
    return [c.id for c in answer.citations]


SPIELBERG = Filters(directors=Names(all_of=("Steven Spielberg",)))


@pytest.fixture
def scripted(monkeypatch):
    """question -> the QueryPlan the rule reader returns for it."""
    plans: dict[str, QueryPlan] = {}

    def read(question, vocab, *, titles, has_previous):
        return plans[question]

    monkeypatch.setattr("chatbot.nodes.read_plan", read)
    return plans


# --- through the real rules ------------------------------------------------------------------


async def test_similar_route_without_llm_gives_extractive_answer_citing_every_row():
    catalog = FakeCatalog()
    a = await bot(catalog=catalog, k=2).aask("movies like Finding Nemo")
    assert catalog.calls[0] == ("similar", ("Finding Nemo", 2003, "cosine", 6))  # 3k candidates, k kept
    assert a.route == "similar" and a.model is None
    assert a.answer.splitlines()[0] == "Films in your catalog closest to Finding Nemo (2003):"
    assert ids(a) == [2, 3]
    assert a.notes == [NO_LLM_CONFIGURED_NOTE]
    assert list(a.timings_ms) == ["understand", "retrieve", "generate", "check_citations"]


async def test_a_set_question_runs_the_plan_over_the_whole_catalog_and_says_the_exact_count():
    catalog = FakeCatalog()
    a = await bot(catalog=catalog, k=1).aask("List every Steven Spielberg movie you have")
    kind, (plan, within, vectored, cap, _) = catalog.calls[-1]
    assert (kind, within, vectored, cap) == ("run_plan", None, False, 500)
    assert plan.filters.directors.all_of + plan.filters.people.all_of == ("Steven Spielberg",)
    assert ids(a) == [3, 4, 5]  # all three, though k is 1
    assert a.answer.splitlines()[0].startswith("3 films in your catalog match")
    assert a.plan_sql == "-- plan list" and a.sql is None


async def test_follow_up_applies_the_new_plan_to_every_previous_result():
    catalog = FakeCatalog()
    b = bot(catalog=catalog)
    first = await b.aask("List every Steven Spielberg movie you have", thread_id="t1")
    assert ids(first) == [3, 4, 5]
    second = await b.aask("which of those is the longest?", thread_id="t1")
    _, (plan, within, _, _, _) = catalog.calls[-1]
    assert second.route == "follow_up" and list(within) == [3, 4, 5]
    assert plan.sort == Sort(key="duration_min", desc=True)
    assert ids(second) == [4]  # Schindler's List, 195 min
    assert second.answer.startswith("The longest film among the previous results is **Schindler's List** (1993)")


async def test_llm_answer_streams_tokens_and_flags_a_title_not_in_the_rows():
    chat = FakeChat(answers=["Try **Shark Tale** (2004) and **Jaws** (1975), or **The Meg** (2018)."])
    events = [e async for e in bot(chat=chat, k=2).astream("movies like Finding Nemo")]
    tokens = "".join(e.text for e in events if isinstance(e, TokenEvent))
    assert tokens.strip() == "Try **Shark Tale** (2004) and **Jaws** (1975), or **The Meg** (2018)."
    steps = [e.node for e in events if isinstance(e, StepEvent)]
    assert steps == ["understand", "retrieve", "generate", "check_citations"]
    final = events[-1].answer
    assert isinstance(events[-1], AnswerEvent)
    assert final.model == "fake:1b"
    assert ids(final) == [2, 3]
    assert "**The Meg** [not in the retrieved rows]" in final.answer
    assert final.notes == ["Not among the retrieved rows, so not verified: The Meg."]
    prompt = chat.stream_calls[0][1].content
    assert "<<<ROWS" in prompt and '"title": "Shark Tale"' in prompt
    assert "closest matches by meaning" in prompt  # nearest neighbours are not worded as a set


async def test_llm_down_at_start_answers_extractively_with_the_closest_matches():
    catalog = FakeCatalog()
    a = await bot(chat=FakeChat(up=False), catalog=catalog).aask("a clownfish father searches the ocean")
    assert a.model is None and a.route == "semantic"
    assert a.notes == [NO_LLM_NOTE]
    assert a.answer.splitlines()[0] == "The closest matches in your catalog:"
    assert len(a.citations) == 7
    assert catalog.calls[-1][0] == "search"


async def test_chitchat_skips_retrieval():
    catalog = FakeCatalog()
    a = await bot(catalog=catalog).aask("hello")
    assert a.route == "chitchat" and a.citations == [] and catalog.calls == []
    assert list(a.timings_ms) == ["understand", "generate", "check_citations"]


async def test_a_greeting_whose_model_reply_is_refused_gets_the_standard_reply_and_says_so():
    from chatbot.llm import LLMUnavailable
    from prompts.answer import CHITCHAT_REPLY

    class Refusing(FakeChat):
        async def stream(self, messages, **kw):
            raise LLMUnavailable([Fallback(model="fake:1b", reason="unusable answer: writes chat turns")])

    a = await bot(chat=Refusing()).aask("hello")
    assert a.route == "chitchat" and a.answer == CHITCHAT_REPLY and a.model is None
    assert a.notes == ["The model's answer was not usable (writes chat turns); this is the standard reply."]


# --- plans, scripted ---------------------------------------------------------------------------


async def test_a_set_over_the_cap_says_how_many_match_and_that_it_was_cut(scripted):
    scripted["everything"] = QueryPlan(intent="list")
    a = await bot(set_cap=2).aask("everything")
    assert a.answer.splitlines()[0] == (
        "7 films in your catalog match; the first 2 are listed (the most an answer lists):"
    )
    assert len(a.citations) == 2


async def test_a_count_is_the_sql_total_and_lists_the_rows(scripted):
    scripted["How many Spielberg films?"] = QueryPlan(intent="count", filters=SPIELBERG)
    a = await bot().aask("How many Spielberg films?")
    assert a.answer.splitlines()[0] == "Your catalog has 3 films that match (directed by Steven Spielberg):"
    assert ids(a) == [3, 4, 5]


async def test_a_superlative_is_computed_over_the_whole_catalog(scripted):
    scripted["the oldest film"] = QueryPlan(intent="superlative", sort=Sort(key="year"))
    a = await bot(k=1).aask("the oldest film")
    assert a.answer == "The oldest film in your catalog is **Jaws** (1975) — directed by Steven Spielberg; Thriller; 124 min."
    assert ids(a) == [3]


async def test_a_superlative_keeps_ties(scripted):
    tied = [*MOVIES, MOVIES[6].__class__(id=8, title="Heat", year=1995, score=0, duration_min=195)]
    scripted["the longest"] = QueryPlan(intent="superlative", sort=Sort(key="duration_min", desc=True))
    a = await bot(catalog=FakeCatalog(movies=tied)).aask("the longest")
    assert a.answer.splitlines()[0] == "2 films tie for the longest in your catalog:"
    assert ids(a) == [4, 8]


async def test_a_fact_leads_with_the_fact(scripted):
    scripted["Who directed Jaws, and how long is it?"] = QueryPlan(intent="fact", anchors=(3,), fields=("director", "duration_min"))
    a = await bot().aask("Who directed Jaws, and how long is it?")
    assert a.answer == "*Jaws* (1975) was directed by Steven Spielberg and runs 124 minutes (2 h 04 min)."
    assert ids(a) == [3]


async def test_nothing_found_is_said_plainly_with_labelled_alternatives(scripted):
    scripted["Greta Gerwig films"] = QueryPlan(intent="list", filters=Filters(directors=Names(all_of=("Greta Gerwig",))))
    catalog = FakeCatalog()
    a = await bot(catalog=catalog).aask("Greta Gerwig films")
    lines = a.answer.splitlines()
    assert lines[:3] == [
        "No films in your catalog match: directed by Greta Gerwig.",
        "Not matches, but the closest by meaning:",
        "- **Finding Nemo** (2003) — directed by Andrew Stanton; Animation, Family; 100 min",
    ]
    assert catalog.calls[-1][0] == "search" and len(lines) == 2 + 5
    # the answer's set is empty; the alternatives are named, never flagged, never cited
    assert a.rows == [] and a.citations == [] and len(a.alternatives) == 5
    assert "[not in the retrieved rows]" not in a.answer


async def test_conditions_that_could_not_be_applied_are_said(scripted):
    plan = QueryPlan(intent="list", filters=Filters(duration_min=Range(max=90)), unapplied=("with a twist ending",))
    scripted["short films with a twist ending"] = plan
    a = await bot().aask("short films with a twist ending")
    assert a.answer.splitlines()[:2] == [
        "1 film in your catalog matches (running up to 90 min):",
        "I could not apply: with a twist ending.",
    ]


async def test_semantic_re_rank_embeds_only_when_the_plan_has_a_phrase(scripted):
    embedder = FakeEmbedder()
    scripted["thrillers"] = QueryPlan(intent="list", filters=Filters(genres=Names(all_of=("Thriller",))))
    scripted["thrillers about the sea"] = QueryPlan(intent="list", filters=Filters(genres=Names(all_of=("Thriller",))), semantic="the sea")
    b = Chatbot(Deps(catalog=FakeCatalog(), embedder=embedder))
    await b.aask("thrillers")
    assert embedder.texts == []
    a = await b.aask("thrillers about the sea")
    assert embedder.texts == ["the sea"] and "embed" in a.timings_ms


# --- structure: reducers across turns, options in the run context -----------------------------


class FailingChat(FakeChat):
    """Up, but every answer attempt fails with one fallback per turn."""

    async def stream(self, messages, *, on_token=None, on_restart=None, names=None):
        raise LLMUnavailable([Fallback(model="fake:1b", reason="HTTP 500")])


async def test_notes_fallbacks_and_timings_start_afresh_each_turn_through_the_checkpointer(scripted):
    for q in ("a shark terrorizes a beach town", "a heist in a casino"):
        scripted[q] = QueryPlan(intent="search", semantic=q)
    saver = InMemorySaver(serde=checkpoint_serde())
    b = bot(chat=FailingChat(), checkpointer=saver)
    first = await b.aask("a shark terrorizes a beach town", thread_id="r")
    second = await b.aask("a heist in a casino", thread_id="r")
    for a in (first, second):
        assert a.fallbacks == [Fallback(model="fake:1b", reason="HTTP 500")]  # not two
        assert a.notes == [NO_LLM_NOTE]
        assert list(a.timings_ms) == ["understand", "embed", "retrieve", "generate", "check_citations"]
    snapshot = await b.graph.aget_state({"configurable": {"thread_id": "r"}})
    assert snapshot.values["fallbacks"] == [Fallback(model="fake:1b", reason="HTTP 500")]  # revived as objects
    assert snapshot.values["turns"] == 2


async def test_ui_options_ride_in_the_run_context_and_the_vector_is_not_persisted(scripted):
    scripted["movies like Finding Nemo"] = QueryPlan(intent="similar", anchors=(1,))
    scripted["a shark"] = QueryPlan(intent="search", semantic="a shark")
    catalog = FakeCatalog()
    b = bot(catalog=catalog)
    await b.aask("movies like Finding Nemo", thread_id="o", options={"k": 2, "metric": "l2"})
    assert catalog.calls[0] == ("similar", ("Finding Nemo", 2003, "l2", 6))
    await b.aask("a shark", thread_id="o", options={"hybrid": False})
    assert catalog.calls[-1][1][1:3] == ("dense", 8)  # k back to the default: options are per question
    values = (await b.graph.aget_state({"configurable": {"thread_id": "o"}})).values
    assert not {"options", "vector", "k", "metric"} & set(values)


def test_routers_name_only_graph_nodes():
    from typing import get_args, get_type_hints

    from chatbot import nodes
    from chatbot.graph import NODE_NAMES

    for router in (nodes.after_understand, nodes.after_draft, nodes.after_check, nodes.after_run):
        targets = get_args(get_type_hints(router)["return"])
        assert targets and set(targets) <= set(NODE_NAMES)


# --- free-form SQL: aggregates only ------------------------------------------------------------

AVERAGE = "average running time of Spielberg films"


@pytest.fixture
def aggregate(scripted):
    scripted[AVERAGE] = QueryPlan(intent="aggregate", filters=SPIELBERG)
    return scripted


async def test_an_aggregate_drafts_guarded_sql_and_answer_carries_both_sqls(aggregate):
    guard = FakeGuard(rows=[{"avg_minutes": 162.7}])
    draft = "SELECT avg(duration_min) AS avg_minutes FROM movies WHERE director ILIKE '%spielberg%'"
    chat = FakeChat(answers=["About 163 minutes."], drafts=[draft])
    a = await bot(chat=chat, guard=guard).aask(AVERAGE)
    assert guard.runs == [(draft + " /*checked*/", {})]
    assert (a.sql, a.sql_draft) == (draft + " /*checked*/", draft)
    assert a.rows == [{"avg_minutes": 162.7}] and a.notes == []
    assert chat.json_calls[0][-1].content == AVERAGE
    assert chat.json_calls[0][0].content.startswith("You translate a question")
    assert list(a.timings_ms) == ["understand", "draft_sql", "check_sql", "run_sql", "generate", "check_citations"]


async def test_a_list_question_never_drafts_sql_even_with_an_llm(scripted):
    scripted["Spielberg films"] = QueryPlan(intent="list", filters=SPIELBERG)
    chat = FakeChat(answers=["**Jaws** (1975)."])
    a = await bot(chat=chat, guard=FakeGuard()).aask("Spielberg films")
    assert chat.json_calls == [] and a.sql is None and a.plan_sql == "-- plan list"


async def test_sql_rows_without_ids_are_cited_by_title_and_year(aggregate):
    guard = FakeGuard(rows=[{"title": "Jaws", "year": 1975}, {"title": "Totally Fake Movie", "year": 1999}])
    chat = FakeChat(answers=["**Jaws** (1975) and Totally Fake Movie (1999)."], drafts=["SELECT title, year FROM movies WHERE director ILIKE '%Spielberg%'"])
    a = await bot(chat=chat, guard=guard).aask(AVERAGE)
    assert ids(a) == [3]
    assert a.rows[0] == {"id": 3, "title": "Jaws", "year": 1975}
    # an SQL row is never flagged, even where the catalog does not know it
    assert "[not in the retrieved rows]" not in a.answer


async def test_sql_rejected_then_repaired_sends_reason_back(aggregate):
    guard = FakeGuard(rows=[{"avg": 162.7}])
    chat = FakeChat(answers=["163."], drafts=["DROP TABLE movies", "SELECT avg(duration_min) AS avg FROM movies WHERE director ILIKE '%Spielberg%'"])
    a = await bot(chat=chat, guard=guard).aask(AVERAGE)
    assert len(chat.json_calls) == 2
    assert "Your previous SQL was rejected: Only SELECT statements are allowed." in chat.json_calls[1][-1].content
    assert a.sql == "SELECT avg(duration_min) AS avg FROM movies WHERE director ILIKE '%Spielberg%' /*checked*/"


async def test_sql_rejected_twice_falls_back_to_the_plan_with_note(aggregate):
    chat = FakeChat(answers=["**Jaws** (1975)."], drafts=["DROP TABLE movies", "SELECT * FROM movies WHERE embedding @> ANY('Jaws')"])
    a = await bot(chat=chat, guard=FakeGuard()).aask(AVERAGE)
    assert a.sql is None and a.sql_draft is None
    assert a.notes == ["The drafted SQL was rejected (The @> operator cannot be used on embeddings.). Answered from the query plan instead."]
    assert [r["id"] for r in a.rows] == [3, 4, 5]
    assert a.plan["unapplied"] == [
        "the calculation asked for (no drafted SQL could be used); these are the films it would be computed over"]


@pytest.mark.parametrize(
    ("rows", "note"),
    [
        (RuntimeError("The query ran longer than 2000 ms and was cancelled."), "The query ran longer than 2000 ms and was cancelled. Answered from the query plan instead."),
        ([], "The drafted SQL found no rows. Answered from the query plan instead."),
    ],
)
async def test_sql_execution_error_or_zero_rows_falls_back(aggregate, rows, note):
    chat = FakeChat(answers=["**Jaws** (1975)."], drafts=["SELECT id, title, year FROM movies WHERE director ILIKE '%Spielberg%' LIMIT 5"])
    a = await bot(chat=chat, guard=FakeGuard(rows=rows)).aask(AVERAGE)
    assert a.sql is None and a.notes == [note] and [r["id"] for r in a.rows] == [3, 4, 5]


async def test_an_aggregate_without_an_llm_says_what_it_could_not_compute(aggregate):
    a = await bot().aask(AVERAGE)
    assert a.answer.splitlines()[:2] == [
        "3 films in your catalog match (directed by Steven Spielberg):",
        "I could not apply: the calculation asked for (it needs an LLM to draft SQL); these are the films it would be computed over.",
    ]


async def test_a_rating_superlative_counts_films_enough_users_rated_and_says_so(scripted):
    from dataclasses import replace

    from chatbot.plans import MIN_RATINGS

    rated = [replace(MOVIES[2], avg_rating=5.0, num_ratings=1), replace(MOVIES[3], avg_rating=4.5, num_ratings=MIN_RATINGS),
             replace(MOVIES[4], avg_rating=4.0, num_ratings=300)]
    best = QueryPlan(intent="superlative", sort=Sort(key="avg_rating", desc=True))
    scripted["the best rated film"] = best
    a = await bot(catalog=FakeCatalog(movies=rated)).aask("the best rated film")
    assert ids(a) == [4]  # not Jaws's single 5-star rating
    assert a.answer.startswith(f"The highest-rated film in your catalog (with ratings from {MIN_RATINGS} users or more)")
    assert any(f"fewer than {MIN_RATINGS} users" in n for n in a.notes)
    # a bound the question sets is kept; a catalog where no film has that many ratings gets its top
    scripted["best with any rating"] = best.model_copy(update={"filters": Filters(num_ratings=Range(min=1))})
    assert ids(await bot(catalog=FakeCatalog(movies=rated)).aask("best with any rating")) == [3]
    few = [replace(m, num_ratings=2) for m in rated]
    b = await bot(catalog=FakeCatalog(movies=few)).aask("the best rated film")
    assert ids(b) == [3] and not any("fewer than" in n for n in b.notes)


async def test_a_recommendation_with_nothing_to_start_from_is_the_best_rated_with_enough_ratings(scripted):
    from dataclasses import replace

    from chatbot.plans import MIN_RATINGS

    rated = [replace(MOVIES[2], avg_rating=5.0, num_ratings=1), replace(MOVIES[3], avg_rating=4.5, num_ratings=MIN_RATINGS),
             replace(MOVIES[4], avg_rating=4.0, num_ratings=300)]
    scripted["what should I watch tonight?"] = QueryPlan(intent="recommend")
    a = await bot(catalog=FakeCatalog(movies=rated)).aask("what should I watch tonight?")
    assert ids(a) == [4, 5]  # not a title search for "tonight", not a single 5-star rating
    assert a.answer.splitlines()[0] == (
        f"Recommended from your catalog, the best rated first (with ratings from {MIN_RATINGS} users or more):")
    assert a.plan is not None and a.plan["sort"] == {"key": "avg_rating", "desc": True}


async def test_a_follow_up_on_a_superlative_asks_about_the_set_it_was_taken_from():
    catalog = FakeCatalog()
    b = bot(catalog=catalog)
    first = await b.aask("the longest Spielberg film", thread_id="s")
    assert ids(first) == [4]  # Schindler's List
    second = await b.aask("and the shortest?", thread_id="s")
    assert ids(second) == [3]  # Jaws, among every Spielberg film, not among the one row shown
    assert second.answer.startswith("The shortest film in your catalog (directed by Steven Spielberg) is **Jaws**")
    counted = await b.aask("how many are there?", thread_id="s")
    assert counted.answer.startswith("Your catalog has 3 films that match (directed by Steven Spielberg)")


# --- the LLM filling the plan ----------------------------------------------------------------

RAINY = "something for a rainy sunday afternoon"


def test_llm_plan_filling_is_on_by_default():
    from chatbot.settings import Settings

    assert Deps(catalog=FakeCatalog(), embedder=FakeEmbedder()).llm_routing is True
    assert Settings().llm_routing is True


async def test_llm_plan_filling_can_be_turned_off(scripted):
    scripted[RAINY] = QueryPlan(intent="search", semantic=RAINY, confidence=0.2)
    chat = FakeChat(answers=["**Jaws** (1975)."])
    a = await bot(chat=chat, llm_routing=False).aask(RAINY)
    assert a.route == "semantic" and chat.json_calls == []


async def test_a_plot_search_the_rules_read_asks_no_llm_for_a_plan(scripted):
    heist = "movies about a heist that goes wrong"
    scripted[heist] = QueryPlan(intent="search", semantic="a heist that goes wrong")
    chat = FakeChat(answers=["**Jaws** (1975)."])
    a = await bot(chat=chat, llm_routing=True).aask(heist)
    assert a.route == "semantic" and chat.json_calls == []


async def test_an_llm_plan_that_drops_a_condition_the_rules_read_is_refused(scripted):
    q = "spielberg stuff for a rainy day"
    scripted[q] = QueryPlan(intent="search", filters=SPIELBERG, semantic="for a rainy day", confidence=0.3)
    reply = {"intent": "list", "filters": {"genres": {"all_of": ["Drama"]}}}
    catalog = FakeCatalog()
    chat = FakeChat(answers=["**Jaws** (1975)."], plans=[reply])
    a = await bot(chat=chat, catalog=catalog, llm_routing=True).aask(q)
    _, (plan, *_) = catalog.calls[-1]
    assert plan.filters.directors.all_of == ("Steven Spielberg",) and plan.filters.genres.is_empty()
    assert a.fallbacks == [Fallback(model="fake:1b", reason="off-question plan: it drops the director Steven Spielberg")]


async def test_llm_fills_the_same_plan_and_every_value_is_checked_against_the_catalog(scripted):
    scripted[RAINY] = QueryPlan(intent="search", semantic=RAINY, confidence=0.2)
    reply = {
        "intent": "list", "anchors": [99],
        "filters": {"year": {"min": 1990, "max": 1999}, "genres": {"all_of": ["drama"]},
                    "directors": {"all_of": ["Nobody Atall"]}},
    }
    catalog = FakeCatalog()
    chat = FakeChat(answers=["**Schindler's List** (1993)."], plans=[reply])
    a = await bot(chat=chat, catalog=catalog, llm_routing=True).aask(RAINY)
    _, (plan, *_) = catalog.calls[-1]
    assert plan.filters.genres.all_of == ("Drama",) and plan.filters.directors.all_of == ()
    assert plan.anchors == () and plan.unapplied == ("director 'Nobody Atall' (not in your catalog)",)
    assert a.route == "structured" and [r["id"] for r in a.rows] == [4, 5, 7]
    assert a.plan["filters"]["genres"] == {"all_of": ["Drama"]}
    prompt = chat.stream_calls[0][1].content
    assert "could not be applied" in prompt and "Nobody Atall" in prompt


async def test_an_llm_reply_that_is_not_a_plan_keeps_the_rules_plan(scripted):
    scripted[RAINY] = QueryPlan(intent="search", semantic=RAINY, confidence=0.2)
    chat = FakeChat(answers=["**Jaws** (1975)."], plans=[{"intent": "dance"}])
    a = await bot(chat=chat, llm_routing=True).aask(RAINY)
    assert a.route == "semantic" and a.fallbacks == [Fallback(model="fake:1b", reason="reply is not a query plan")]


async def test_llm_is_not_asked_when_the_rules_are_sure(scripted):
    scripted["thrillers from the 70s"] = QueryPlan(intent="list", filters=Filters(genres=Names(all_of=("Thriller",)), year=Range(min=1970, max=1979)))
    chat = FakeChat(answers=["**Jaws** (1975)."])
    a = await bot(chat=chat, llm_routing=True).aask("thrillers from the 70s")
    assert a.route == "structured" and chat.json_calls == []


# --- small pure pieces -------------------------------------------------------------------------


def test_similar_prefers_neighbours_with_a_summary_when_the_anchor_has_one():
    from dataclasses import replace

    from chatbot.nodes import prefer_described

    stub, described = replace(MOVIES[1], summary=None), replace(MOVIES[2], summary="A shark.")
    assert prefer_described([stub, described], anchored=True) == [described, stub]
    assert prefer_described([stub, described], anchored=False) == [stub, described]


async def test_an_empty_catalog_says_how_to_load_one():
    from chatbot.nodes import EMPTY_CATALOG

    a = await bot(catalog=FakeCatalog(movies=[])).aask("a heist in a casino")
    assert a.answer == EMPTY_CATALOG and a.citations == []


def test_one_json_parser_for_every_reply():
    from chatbot.prompting import extract_sql, parse_json_object, parse_plan

    assert parse_json_object('```json\n{"sql": "SELECT 1"}\n```') == {"sql": "SELECT 1"}
    assert parse_json_object('Sure! Here it is: {"intent": "list"} Hope that helps.') == {"intent": "list"}
    with pytest.raises(ValueError, match="invalid JSON"):
        parse_json_object("no json here")
    assert extract_sql('```json\n{"sql": " SELECT 1 "}\n```', None) == "SELECT 1"
    assert extract_sql("Here: SELECT id FROM movies", None) == "SELECT id FROM movies"
    assert parse_plan('{"intent": "count"}', None) == QueryPlan(intent="count")
    assert parse_plan('{"intent": "count", "bogus": 1}', None) is None  # model_validate, extra forbidden


# --- the answer gate through the graph (the real cascade over a LangChain fake model) ----------


def gated_chat(*replies: str):
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage

    from chatbot.llm import ChatCascade, LLMConfig
    from chatbot.llm_hosts import HostPool

    def factory(*, model: str, base_url: str, client_kwargs: dict) -> GenericFakeChatModel:
        return GenericFakeChatModel(messages=iter([AIMessage(r) for r in replies]))

    cfg = LLMConfig(base_url="http://fake:1", models=("fake:1b",))
    return ChatCascade(cfg, chat_factory=factory, pool=HostPool(hosts=cfg.hosts))


async def test_an_answer_of_mostly_invented_titles_falls_back_to_the_extractive_answer():
    invented = "Try **Shark Tale** (2004), **Monsters, Inc.** (2001) or **Toy Story** (1995)."
    a = await bot(chat=gated_chat(invented), k=2).aask("movies like Finding Nemo")
    assert a.model is None
    assert a.fallbacks == [Fallback(model="fake:1b", reason="unusable answer: mostly titles not among the rows")]
    assert a.notes == ["The model's answer was not usable (mostly titles not among the rows); answered from the catalog rows instead."]
    assert a.answer.splitlines()[0] == "Films in your catalog closest to Finding Nemo (2003):"
    assert ids(a) == [2, 3]


async def test_the_gate_knows_the_catalogs_genres_people_and_the_anchor():
    # bold genre, director and anchor: none is an invented film, so the model's answer stands
    answer = "Like **Finding Nemo**, **Shark Tale** (2004) is **Animation**, by **Vicky Jenson**."
    a = await bot(chat=gated_chat(answer), k=2).aask("movies like Finding Nemo")
    assert (a.model, a.fallbacks, a.notes) == ("fake:1b", [], [])
    assert a.answer == answer and ids(a) == [2]


def test_group_answers_say_ties_as_ties_and_a_cut_as_a_cut():
    from chatbot.extractive import grouped
    from retrieval.plan import Group

    def rows(*counts):
        return [{"name": f"W{i}", "films": n, "value": float(n), "ids": []} for i, n in enumerate(counts, 1)]

    top1 = QueryPlan(intent="aggregate", group=Group(by="writer", desc=True, top=1))
    assert grouped(rows(9, 9), top1, 2, False) == "**W1** and **W2** are tied as the writers with the most films in your catalog: 9 films each."
    top2 = QueryPlan(intent="aggregate", group=Group(by="writer", desc=True, top=2))
    assert grouped(rows(9, 8, 8), top2, 3, False).splitlines() == [
        "The 3 writers with the most films in your catalog (ties at the last place kept):",
        "1. **W1** — 9 films", "2. **W2** — 8 films", "3. **W3** — 8 films",
    ]
