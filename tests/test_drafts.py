"""Off-question SQL drafts (chatbot.drafts): copies of few-shot examples, dropped or contradicted
constraints, genres in a person's column, repairs that repeat the rejected SQL."""

from __future__ import annotations

import pytest

from chatbot.drafts import draft_problem, normalize_sql
from prompts.sql import SQL_EXAMPLES
from retrieval.plan import Filters, Names, Range

SPIELBERG_90S_DRAMAS = Filters(
    year=Range(min=1990, max=1999), genres=Names(all_of=("Drama",)), directors=Names(all_of=("Steven Spielberg",))
)
Q = "90s dramas directed by Steven Spielberg"
HANKS_EXAMPLE = SQL_EXAMPLES[2]


def sql(where: str) -> str:
    return f"SELECT id, title, year FROM movies WHERE {where} ORDER BY year LIMIT 50"


@pytest.mark.parametrize(
    ("draft", "problem"),
    [
        (HANKS_EXAMPLE[1], "it drops the director Steven Spielberg (it copies the example for 'the five longest films with Tom Hanks')"),
        (sql("director ILIKE '%war%' AND year BETWEEN 1990 AND 1999 AND 'Drama' = ANY(genres)"), "it drops the director Steven Spielberg"),
        (sql("director ILIKE '%spielberg%' AND year BETWEEN 1990 AND 1999"), "it drops the genre Drama"),
        (sql("director ILIKE '%spielberg%' AND 'Drama' = ANY(genres)"), "it drops the year constraint"),
        (sql("director ILIKE '%spielberg%' AND year >= 1980 AND 'Drama' = ANY(genres)"), "its year range 1980–… contradicts 1990–1999"),
        (sql("director ILIKE '%spielberg%' AND year > 1989 AND year < 2000 AND 'Drama' = ANY(genres)"), None),
        # the example written for almost this question keeps every constraint: it may run
        (SQL_EXAMPLES[0][1], None),
    ],
)
def test_drafts_must_keep_what_the_rules_found(draft, problem):
    assert draft_problem(draft, question=Q, filters=SPIELBERG_90S_DRAMAS, examples=SQL_EXAMPLES) == problem


def test_a_genre_in_a_person_column_and_actors_in_unnest():
    war = Filters(genres=Names(all_of=("War",)))
    assert draft_problem(sql("director ILIKE '%war%'"), question="war films", filters=war) == (
        "it matches the genre 'war' against director"
    )
    hanks = Filters(actors=Names(all_of=("Tom Hanks",)))
    ok = "SELECT id, title, year FROM movies WHERE EXISTS (SELECT 1 FROM unnest(actors) a WHERE a ILIKE '%hanks%') LIMIT 5"
    assert draft_problem(ok, question="films with Tom Hanks", filters=hanks) is None
    assert draft_problem(ok.replace("hanks", "drama"), question="films with Tom Hanks", filters=hanks) == (
        "it drops the actor Tom Hanks"
    )
    # what Gemma 3 270M drafted for "which director made the most films with Tom Hanks"
    wrong_column = ("SELECT id, title, year FROM movies WHERE director ILIKE '%tom hanks%' "
                    "AND duration_min BETWEEN 1980 AND 2015 ORDER BY duration_min DESC NULLS LAST LIMIT 5")
    assert draft_problem(wrong_column, question="which director made the most films with Tom Hanks", filters=hanks) == (
        "it looks for the actor Tom Hanks in director"
    )
    # a director named where the question names him, and an actor in unnest: both fine
    both = Filters(actors=Names(all_of=("Tom Hanks",)), directors=Names(all_of=("Steven Spielberg",)))
    assert draft_problem(ok.replace("LIMIT", "AND director ILIKE '%spielberg%' LIMIT"), question="q", filters=both) is None


def test_example_copies_without_constraints_and_repeated_repairs():
    copied = draft_problem(HANKS_EXAMPLE[1], question="the longest films", filters=Filters(), examples=SQL_EXAMPLES)
    assert copied == "it copies the example for 'the five longest films with Tom Hanks'"
    assert draft_problem(HANKS_EXAMPLE[1], question=HANKS_EXAMPLE[0], examples=SQL_EXAMPLES) is None
    rejected = ["SELECT id FROM movies  LIMIT 5;"]
    assert draft_problem("select id from movies limit 5", question="x", rejected=rejected) == (
        "the repair repeats the rejected SQL"
    )
    assert normalize_sql(" SELECT  1 ;") == "select 1"


@pytest.mark.parametrize(
    ("where", "filters", "problem"),
    [
        # years where minutes belong, with the years the rules found kept elsewhere or not at all
        ("director ILIKE '%spielberg%' AND duration_min BETWEEN 1990 AND 1999 AND 'Drama' = ANY(genres)",
         SPIELBERG_90S_DRAMAS, "it compares duration_min with 1990, which reads as a year"),
        ("duration_min > 1980", None, "it compares duration_min with 1980, which reads as a year"),
        # minutes where a year belongs, a year where a rating belongs
        ("year < 90", Filters(), "it compares year with 90, which reads as a running time in minutes"),
        ("avg_rating >= 2001", Filters(), "it compares avg_rating with 2001, which reads as a year"),
        ("duration_min BETWEEN 90 AND 120 AND year >= 1990 AND avg_rating > 3.5", Filters(), None),
        # a country in language, a genre in country
        ("language ILIKE '%france%'", Filters(countries=Names(all_of=("France",))), "it looks for the country France in language"),
        ("country = 'Comedy'", Filters(genres=Names(all_of=("Comedy",))), "it looks for the genre Comedy in country"),
        ("country ILIKE '%france%' AND language = 'French'", Filters(countries=Names(all_of=("France",))), None),
        # a person the rules found as director, matched against the title
        ("title ILIKE '%spielberg%'", Filters(directors=Names(all_of=("Steven Spielberg",))),
         "it looks for the director Steven Spielberg in title"),
    ],
)
def test_column_mix_ups_are_off_question(where, filters, problem):
    assert draft_problem(sql(where), question="q", filters=filters) == problem


def test_an_llm_plan_keeps_what_the_rules_found():
    from chatbot.drafts import plan_problem

    rules = SPIELBERG_90S_DRAMAS
    assert plan_problem(rules, rules) is None
    more = rules.model_copy(update={"duration_min": Range(max=120), "countries": Names(all_of=("USA",))})
    assert plan_problem(more, rules) is None  # it may add to the rules' reading
    assert plan_problem(rules.model_copy(update={"year": Range(min=1989, max=2000)}), rules) is None  # slack
    assert plan_problem(rules.model_copy(update={"year": Range(min=1980)}), rules) == (
        "its year range 1980–… contradicts 1990–1999")
    assert plan_problem(rules.model_copy(update={"year": Range()}), rules) == "it drops the year constraint"
    assert plan_problem(rules.model_copy(update={"genres": Names(any_of=("Drama", "War"))}), rules) is None
    assert plan_problem(rules.model_copy(update={"genres": Names()}), rules) == "it drops the genre Drama"
    swapped = rules.model_copy(update={"directors": Names(), "actors": Names(all_of=("Steven Spielberg",))})
    assert plan_problem(swapped, rules) == "it looks for the director Steven Spielberg in another role"
    assert plan_problem(rules.model_copy(update={"directors": Names()}), rules) == "it drops the director Steven Spielberg"
    titled = Filters(title="Alien")
    assert plan_problem(Filters(), titled) == "it drops the title 'Alien'"
    assert plan_problem(Filters(title="alien"), titled) is None
