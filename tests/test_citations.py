from chatbot.citations import FLAG, check_citations
from chatbot.extractive import extractive_answer

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
    text = extractive_answer(rows, route="structured", sort={"key": "year", "desc": True})
    assert text == (
        "2 films from your catalog match, by year:\n"
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
