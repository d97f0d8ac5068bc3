"""The older route-and-filters reading (`understand`), kept while chatbot.nodes uses it."""

import pytest

from chatbot.understand import decade_range, understand

NEMO = (1, "Finding Nemo", 2003)
KONG = (9, "King Kong", 1933)


@pytest.mark.parametrize(
    ("question", "titles", "previous", "route", "filters", "sort", "limit"),
    [
        ("movies like Finding Nemo", [NEMO], False, "similar", {}, None, None),
        ("Movies similar to King Kong 1933", [KONG], False, "similar", {}, None, None),
        ("90s dramas directed by Spielberg", [], False, "structured",
         {"year_min": 1990, "year_max": 1999, "director": "Spielberg", "genres": ["Drama"]}, None, None),
        ("something about a heist in a casino, sorted by year", [], False, "structured", {}, {"key": "year", "desc": False}, None),
        ("which of those is the longest?", [], True, "follow_up", {}, {"key": "duration_min", "desc": True}, 1),
        ("which of those are from the 80s?", [], True, "follow_up", {"year_min": 1980, "year_max": 1989}, None, None),
        ("movies with Tom Hanks", [], False, "structured", {"actors": ["Tom Hanks"]}, None, None),
        ("films from 1994", [], False, "structured", {"year_min": 1994, "year_max": 1994}, None, None),
        ("comedies between 1980 and 1989", [], False, "structured", {"year_min": 1980, "year_max": 1989, "genres": ["Comedy"]}, None, None),
        ("how many films did Ridley Scott direct?", [], False, "structured", {"director": "Ridley Scott"}, None, None),
        ("a lonely robot cleans up a deserted Earth", [], False, "semantic", {}, None, None),
        ("I liked Finding Nemo, what should I watch?", [NEMO], False, "recommendation", {}, None, None),
        ("hello!", [], False, "chitchat", {}, None, None),
        ("thanks", [], True, "chitchat", {}, None, None),
        ("the 3 longest war films", [], False, "structured", {"genres": ["War"]}, {"key": "duration_min", "desc": True}, 3),
        ("Which Alfred Hitchcock movies are from the 50s?", [], False, "structured",
         {"year_min": 1950, "year_max": 1959, "people": ["Alfred Hitchcock"]}, None, None),
        ("Martin Scorsese films starring Robert De Niro", [], False, "structured",
         {"actors": ["Robert De Niro"], "people": ["Martin Scorsese"]}, None, None),
        ("Which films feature Morgan Freeman?", [], False, "structured", {"actors": ["Morgan Freeman"]}, None, None),
        ("which films feature a dog", [], False, "semantic", {}, None, None),
        ("Horror movies from the 80s", [], False, "structured", {"year_min": 1980, "year_max": 1989, "genres": ["Horror"]}, None, None),
    ],
)
def test_routes_and_filters(question, titles, previous, route, filters, sort, limit):
    u = understand(question, titles=titles, has_previous=previous)
    assert (u.route, u.filters, u.sort, u.limit) == (route, filters, sort, limit)


def test_follow_up_words_without_a_previous_turn_are_not_a_follow_up():
    assert understand("which of those is the longest?", titles=[], has_previous=False).route == "structured"


def test_similar_keeps_the_anchor_and_counting_is_detected():
    u = understand("Movies like Finding Nemo", titles=[NEMO], has_previous=False)
    assert u.anchors == [NEMO]
    assert understand("how many westerns are there?", titles=[], has_previous=False).count is True


def test_semantic_query_is_the_question_and_structured_query_drops_filler():
    assert understand("a heist in a casino", titles=[], has_previous=False).query == "a heist in a casino"
    assert understand("show me movies about a heist in a casino sorted by year", titles=[], has_previous=False).query == "a heist in a casino"


@pytest.mark.parametrize(("token", "span"), [("90s", (1990, 1999)), ("'80s", (1980, 1989)), ("1970s", (1970, 1979)), ("00s", (2000, 2009)), ("95s", None)])
def test_decades(token, span):
    assert decade_range(token) == span


def test_a_pasted_plot_is_semantic_even_with_years_and_names_in_it():
    plot = ("In 1985, teenager Marty McFly is sent back to 1955 in a time machine built by his friend "
            "Doc Brown, and must make sure his parents fall in love or he will never be born.")
    u = understand(plot, titles=[], has_previous=False)
    assert (u.route, u.filters, u.query) == ("semantic", {}, plot)
