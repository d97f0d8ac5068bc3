from chatbot.citations import FLAG, check_citations
from chatbot.extractive import extractive_answer
from retrieval.plan import QueryPlan, Sort

ROWS = [
    {"id": 1, "title": "Jaws", "year": 1975},
    {"id": 2, "title": "Jaws 2", "year": 1978},
    {"id": 3, "title": "Heat", "year": 1995},
]


def test_rows_named_are_cited_in_row_order_and_unknown_bold_title_is_flagged():
    r = check_citations("**Heat** (1995) and **Jaws** (1975). Also **The Meg** (2018).", ROWS, catalog_titles=["Heat", "Jaws"])
    assert r.cited == [{"id": 1, "title": "Jaws", "year": 1975}, {"id": 3, "title": "Heat", "year": 1995}]
    assert r.flagged == ["The Meg"]
    assert r.answer == f"**Heat** (1995) and **Jaws** (1975). Also **The Meg**{FLAG} (2018)."


def test_catalog_title_that_is_not_a_row_is_flagged_even_unformatted():
    r = check_citations("1. Heat (1995)\n2. Collateral (2004)", ROWS, catalog_titles=["Heat", "Collateral"])
    assert r.cited == [{"id": 3, "title": "Heat", "year": 1995}]
    assert r.flagged == ["Collateral"]


def test_title_inside_a_longer_row_title_and_question_anchor_are_not_flagged():
    r = check_citations("If you liked **Finding Nemo**, watch **Jaws 2** (1978).", ROWS,
                        catalog_titles=["Jaws 2", "Jaws", "Finding Nemo"], allowed=["Finding Nemo"])
    assert r.flagged == []
    assert [c["id"] for c in r.cited] == [2]


def test_labels_and_numbers_in_bold_are_not_titles():
    r = check_citations("**Note:** nothing else. **1995** was a good year for **Heat**.", ROWS, catalog_titles=["Heat"])
    assert r.flagged == [] and [c["id"] for c in r.cited] == [3]


def test_extractive_answer_lists_rows_and_passes_its_own_check():
    rows = [
        {"id": 3, "title": "Heat", "year": 1995, "director": "Michael Mann", "genres": ["Crime", "Drama"], "duration_min": 170},
        {"id": 1, "title": "Jaws", "year": 1975},
    ]
    text = extractive_answer(rows, route="structured", plan=QueryPlan(intent="list", sort=Sort(key="year", desc=True)))
    assert text == (
        "2 films in your catalog match, by year:\n"
        "1. **Heat** (1995) — directed by Michael Mann; Crime, Drama; 170 min\n"
        "2. **Jaws** (1975)"
    )
    checked = check_citations(text, rows, catalog_titles=["Heat", "Jaws"])
    assert checked.flagged == [] and [c["id"] for c in checked.cited] == [3, 1]
    assert extractive_answer([], route="semantic") == "I found no film in your catalog that matches."


def test_very_short_catalog_titles_in_prose_are_not_flagged_but_bold_ones_are():
    r = check_citations("1. **Signs** (2002) — directed by M. Night Shyamalan", [{"id": 9, "title": "Signs", "year": 2002}], catalog_titles=["Signs", "M"])
    assert r.flagged == []
    r = check_citations("Watch **Up** (2009).", [{"id": 9, "title": "Signs", "year": 2002}], catalog_titles=["Up"])
    assert r.flagged == ["Up"]


def test_a_title_followed_by_a_year_in_prose_is_flagged_even_when_the_catalog_lacks_it():
    rows = [{"id": 7, "title": "Memento", "year": 2000}]
    r = check_citations("Christopher Nolan made Memento (2000) and also Totally Fake Movie (1999).", rows, catalog_titles=["Memento"])
    assert r.flagged == ["Totally Fake Movie"]
    assert r.cited == [{"id": 7, "title": "Memento", "year": 2000}]
    assert r.answer.endswith(f"Totally Fake Movie{FLAG} (1999).")


def test_a_title_among_the_rows_is_never_flagged_however_it_is_presented():
    rows = [{"id": 1, "title": "Gone with the Wind", "year": 1939}, {"id": 2, "title": "The Kid", "year": 1921}]
    text = 'The oldest is The Kid (1921); the longest, "Gone with the Wind" (1939), then **Gone with the Wind**.'
    r = check_citations(text, rows, catalog_titles=["The Kid", "Gone with the Wind"])
    assert r.flagged == [] and [c["id"] for c in r.cited] == [1, 2]


def test_genres_and_people_in_bold_are_not_films():
    rows = [{"id": 4, "title": "Jumanji", "year": 1995, "actors": ["Robin Williams"]}]
    text = "An **Action** pick with **Robin Williams**: **Jumanji** (1995). Also **Hook** (1991)."
    r = check_citations(text, rows, catalog_titles=["Jumanji"], not_films=["Action", "Robin Williams", "Adventure"])
    assert r.flagged == ["Hook"]


def test_sql_rows_without_an_id_are_not_flagged_but_cannot_be_cited():
    r = check_citations("**Heat** (1995).", [{"title": "Heat", "year": 1995}])
    assert r.flagged == [] and r.cited == []


def test_catalog_titles_in_prose_are_judged_only_where_written_as_titles():
    rows = [{"id": 1, "title": "Jaws", "year": 1975}]
    found = ["Patton", "Alien", "Gravity", "Titanic", "The Godfather", "Schindler's List"]
    people = ["Paula Patton", "Roy Scheider"]

    def flagged(text):
        return check_citations(text, rows, catalog_titles=found, not_films=people).flagged

    # a common word, a word inside a catalog person's name, a one-word title opening a sentence
    assert flagged("Jaws has an alien feel. Paula Patton is not in it. Gravity pulls the boat down.") == []
    assert flagged("the godfather of shark films, schindler's list of victims") == []
    # written as titles: flagged, also without the article and with an apostrophe
    assert flagged("Jaws, like Titanic, is about the sea; Alien too.") == ["Alien", "Titanic"]
    assert flagged("Jaws beats Godfather and Schindler's List.") == ["The Godfather", "Schindler's List"]
    # a list head or a year presents even a sentence-opening one-word title
    assert flagged("1. Jaws\n2. Gravity") == ["Gravity"]
    assert flagged("Gravity (2013) is not Jaws.") == ["Gravity"]
