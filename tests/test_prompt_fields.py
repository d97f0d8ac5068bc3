"""The answer prompt carries the row fields the question needs (chatbot.prompting.prompt_fields):
long structured sets without plots, so they fit the context; plots and cast where the answer says
why a film fits; every column of a drafted query's rows, its computed ones included."""

from __future__ import annotations

import json

from chatbot.prompting import PROMPT_FIELDS, answer_messages, prompt_fields, rows_block
from chatbot.state import State
from retrieval.plan import Filters, Names, QueryPlan, Range, Sort

ROW = {"id": 1, "title": "Jaws", "year": 1975, "director": "Steven Spielberg", "genres": ["Thriller"],
       "actors": ["Roy Scheider"], "duration_min": 124, "country": "USA", "language": "English",
       "summary": "A shark terrorizes a beach town. " * 10, "avg_rating": None}


def rows_of(state: State) -> list[dict]:
    user = answer_messages(state)[-1].content
    return [json.loads(line) for line in user.splitlines() if line.startswith("{")]


def test_a_structured_set_gets_what_it_filters_and_sorts_on_but_no_plot():
    plan = QueryPlan(intent="list", filters=Filters(genres=Names(all_of=("Thriller",)), year=Range(min=1970, max=1979),
                                                    countries=Names(all_of=("USA",))),
                     sort=Sort(key="duration_min", desc=True))
    state = State(question="70s American thrillers, longest first", plan=plan, hits=[ROW] * 40, route="structured")
    assert prompt_fields(state) == ("id", "title", "year", "director", "genres", "duration_min", "country")
    shown = rows_of(state)
    assert len(shown) == 40 and all("summary" not in r and "actors" not in r for r in shown)
    assert shown[0] == {"id": 1, "title": "Jaws", "year": 1975, "director": "Steven Spielberg", "genres": ["Thriller"],
                        "duration_min": 124, "country": "USA"}


def test_fields_the_plan_asks_for_and_people_it_filters_on():
    plan = QueryPlan(intent="list", filters=Filters(actors=Names(all_of=("Roy Scheider",))), fields=("language",))
    assert prompt_fields(State(question="q", plan=plan)) == (
        "id", "title", "year", "director", "genres", "language", "actors")


def test_similar_plot_search_and_facts_get_the_plot():
    similar = State(question="movies like Jaws", plan=QueryPlan(intent="similar", anchors=(1,)), route="similar")
    assert {"summary", "actors", "duration_min"} <= set(prompt_fields(similar) or ())
    plot = State(question="a shark", plan=QueryPlan(intent="search", semantic="a shark"), route="semantic")
    assert "summary" in (prompt_fields(plot) or ())
    fact = State(question="tell me about Jaws", plan=QueryPlan(intent="fact", anchors=(1,)), route="structured")
    assert prompt_fields(fact) == PROMPT_FIELDS
    assert prompt_fields(State(question="no plan")) == PROMPT_FIELDS


def test_a_drafted_querys_rows_keep_every_column_it_returned():
    state = State(question="which director made the most films with Tom Hanks", sql="SELECT director, count(*) AS films …",
                  hits=[{"director": "Ron Howard", "films": 3, "embedding": "[0.1,…]"}], route="structured")
    assert prompt_fields(state) is None
    assert rows_of(state) == [{"director": "Ron Howard", "films": 3}]
    assert rows_block([{"director": "Ron Howard", "films": 3}]) == '{"director": "Ron Howard"}'  # the fixed fields drop it
