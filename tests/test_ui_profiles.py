"""Embedding profiles in the chat: "compare profiles for X", the settings panel's profile and
what it changes in the graph's dependencies (fakes; the database side is in test_profiles.py)."""

from __future__ import annotations

import pytest

from chatbot import landing
from chatbot.compare_view import compare_request, starter, title_problem, view_markdown
from chatbot.deps import Deps, ProfileCatalog
from chatbot.render import parse_chat_settings
from retrieval.plan import QueryPlan


def test_compare_requests_are_read_and_other_messages_are_not():
    assert compare_request("Compare profiles for The Incredibles") == "The Incredibles"
    assert compare_request("compare the embedding models on \"Toy Story\"?") == "Toy Story"
    assert compare_request("  COMPARE EMBEDDINGS OF King Kong (1933). ") == "King Kong (1933)"
    assert compare_request(starter("Up (2009)")) == "Up (2009)"
    assert compare_request("compare profiles for") is None
    assert compare_request("Movies like The Incredibles") is None
    assert compare_request("which profiles compare best for Alien?") is None


def test_the_compare_starter_shows_only_when_another_profile_has_vectors():
    facts = landing.CatalogFacts(movies=3, popular="Alien", popular_year=1979)
    assert landing.starters(facts) == [("Movies like Alien", "Movies like Alien")]
    with_profile = landing.CatalogFacts(movies=3, popular="Alien", popular_year=1979, profiles=("wordllama",))
    assert landing.starters(with_profile)[-1] == ("Compare profiles for Alien (1979)",) * 2


def test_the_view_is_one_table_of_most_median_least_and_the_top_matches():
    def row(title, year, score):
        return {"id": 1, "title": title, "year": year, "score": score}

    cell = {"most": row("Up", 2009, 0.761), "median": row("The Bourne Ultimatum", 2007, 0.53),
            "least": row("Le notti di Cabiria", 1957, 0.104), "top": [row("Up", 2009, 0.761), row("Cars", 2006, 0.7)]}
    text = view_markdown("The Incredibles (2004)", {"minilm": {"cosine": cell}, "wordllama": {"cosine": cell}})
    assert text.splitlines() == [
        "**Embedding profiles compared for The Incredibles \\(2004\\)**",
        "",
        "| profile | metric | most similar | median | least similar |",
        "|---|---|---|---|---|",
        "| minilm | cosine | Up \\(2009\\) 76\u00a0% | The Bourne Ultimatum \\(2007\\) 53\u00a0% | Le notti di Cabiria \\(1957\\) 10\u00a0% |",
        "| wordllama | cosine | Up \\(2009\\) 76\u00a0% | The Bourne Ultimatum \\(2007\\) 53\u00a0% | Le notti di Cabiria \\(1957\\) 10\u00a0% |",
        "",
        "- **minilm** (all\\-MiniLM\\-L6\\-v2, cosine): Up, Cars",
        "- **wordllama** (wordllama l2\\_supercat, cosine): Up, Cars",
    ]
    # catalog text is data: a title cannot break the table or add markup
    odd = {**cell, "most": row("A|B *bold*", None, 0.5)}
    assert "| A\\|B \\*bold\\* 50\u00a0% |" in view_markdown("x", {"minilm": {"cosine": odd}})
    alone = view_markdown("Up", {"minilm": {"cosine": cell}})
    assert alone.endswith("*Only the default profile has vectors; `movie-rag profiles embed wordllama` adds another.*")


class RecordingCatalog:
    def __init__(self):
        self.calls = []

    def similar(self, title, **kw):
        self.calls.append(("similar", title, kw))
        return []

    def search(self, text, **kw):
        self.calls.append(("search", text, kw))
        return []

    def get(self, ids):
        self.calls.append(("get", ids, {}))
        return []

    def run_plan(self, plan, **kw):
        self.calls.append(("run_plan", plan.semantic, kw))
        return None

    engine = "the engine"

    def resolve(self, title, year=None):
        self.calls.append(("resolve", title, {"year": year}))
        return 7, title, year


def test_the_settings_profile_ranks_similar_and_search_by_its_vectors():
    catalog = RecordingCatalog()
    deps = Deps(catalog=catalog, embedder=None)  # type: ignore[arg-type]
    assert deps.with_options({"k": 3}).catalog is catalog
    chosen = deps.with_options({"profile": "wordllama", "metric": "hamming"})
    assert isinstance(chosen.catalog, ProfileCatalog) and chosen.profile == "wordllama"
    chosen.catalog.similar("Alien", year=1979, metric="hamming", k=24)
    chosen.catalog.search("a crew meets a creature", mode="hybrid", k=8, vector=[0.1] * 384)
    chosen.catalog.get([7])
    chosen.catalog.run_plan(QueryPlan(intent="list", semantic="friendship"), vector=[0.1] * 384, metric="hamming", k=8)
    assert catalog.calls == [
        ("similar", "Alien", {"year": 1979, "metric": "hamming", "k": 24, "profile": "wordllama"}),
        # the graph's vector is the default model's: the profile embeds the text itself
        ("search", "a crew meets a creature", {"mode": "hybrid", "k": 8, "profile": "wordllama"}),
        ("get", [7], {}),
        ("run_plan", "friendship", {"metric": "hamming", "k": 8, "profile": "wordllama"}),
    ]
    # another question with the default profile gets the plain catalog back, not a wrapper of a wrapper
    assert chosen.with_options({"profile": "minilm"}).catalog is catalog
    assert chosen.with_options({"profile": "minilm-plot"}).catalog.catalog is catalog


def test_the_settings_panel_profile_is_checked():
    options, _ = parse_chat_settings({"profile": "wordllama", "k": 4}, default_models=("m",))
    assert options == {"k": 4, "profile": "wordllama"}
    with pytest.raises(ValueError) as bad:
        parse_chat_settings({"profile": "bert"}, default_models=("m",))
    assert str(bad.value) == (
        "Embedding profile 'bert' is unknown; use one of minilm, minilm-course, minilm-plot, mpnet, wordllama or blend."
    )


def test_the_blend_setting_ranks_similar_titles_by_the_blend(monkeypatch):
    from retrieval import profiles_blend

    blended = []
    monkeypatch.setattr(profiles_blend, "blended_similar", lambda engine, anchor, *, k: blended.append((engine, anchor, k)) or [])
    catalog = RecordingCatalog()
    deps = Deps(catalog=catalog, embedder=None).with_options({"profile": "blend"})  # type: ignore[arg-type]
    deps.catalog.similar("Alien", year=1979, metric="cosine", k=24)
    deps.catalog.search("a crew meets a creature", mode="hybrid", k=8, vector=[0.1])
    assert blended == [("the engine", 7, 24)]
    assert catalog.calls == [
        ("resolve", "Alien", {"year": 1979}),
        # the blend knew no such film (it returned nothing): the film's vectors rank it
        ("similar", "Alien", {"year": 1979, "metric": "cosine", "k": 24}),
        # plot searches stay as they are, with the graph's vector
        ("search", "a crew meets a creature", {"mode": "hybrid", "k": 8, "vector": [0.1]}),
    ]
    assert parse_chat_settings({"profile": "blend"}, default_models=("m",))[0] == {"profile": "blend"}


def test_a_title_the_catalog_cannot_pin_down_gets_a_chat_sentence():
    from retrieval.types import AmbiguousTitle, UnknownTitle

    twice = AmbiguousTitle("King Kong", [(1, "King Kong", 1933), (2, "King Kong", 2005)])
    assert title_problem(twice) == ("2 films are titled 'King Kong': King Kong (1933); King Kong (2005). "
                                    "Say which, e.g. \u201cCompare profiles for King Kong (1933)\u201d.")
    assert compare_request("Compare profiles for King Kong (1933)") == "King Kong (1933)"
    assert title_problem(UnknownTitle("Alein", ["Alien"])) == "No movie titled 'Alein' in the catalog. Did you mean: Alien?"
