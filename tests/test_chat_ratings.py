"""chatbot.understand.ratings: ratings stated in chat, read by rules over catalog titles."""

from __future__ import annotations

import pytest

from chatbot.understand.ratings import confirmation, read_ratings

CATALOG = {"heat": (1, "Heat", 1995), "alien": (2, "Alien", 1979), "titanic": (3, "Titanic", 1997)}


def find(text_: str):
    return [row for key, row in CATALOG.items() if key in text_.lower()]


@pytest.mark.parametrize("text_, want", [
    ("I loved Heat and Alien, hated Titanic", {"Heat": 5.0, "Alien": 5.0, "Titanic": 1.0}),
    ("I hated Titanic", {"Titanic": 1.0}),
    ("rate Alien 5 stars", {"Alien": 5.0}),
    ("I'd give Titanic 2 stars but I liked Alien", {"Titanic": 2.0, "Alien": 4.0}),
    ("I didn't like Titanic", {"Titanic": 2.0}),
    ("loved Heat. hated Titanic", {"Heat": 5.0, "Titanic": 1.0}),
    ("I gave Heat four out of five", {"Heat": 4.0}),
    ("recommend me films like Heat", {}),
    ("movies I would like if I liked Heat", {}),
    ("who directed Alien?", {}),
])
def test_stated_ratings(text_, want):
    assert {r.title: r.stars for r in read_ratings(text_, find)} == want


def test_a_later_statement_about_a_film_wins():
    assert [(r.title, r.stars) for r in read_ratings("I liked Heat, actually I loved Heat", find)] == [("Heat", 5.0)]


def test_the_confirmation_names_exactly_what_was_stored():
    got = read_ratings("I loved Heat, hated Titanic", find)
    assert confirmation(got) == ("Noted your ratings: *Heat* (1995) 5 stars, *Titanic* (1997) 1 star. "
                                 "I'll use them when you ask for recommendations.")
