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
