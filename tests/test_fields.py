"""Row text cut before the answer prompt and the UI (chatbot.fields, used by prompting and render)."""

from __future__ import annotations

import json

from chatbot.fields import (
    FIELD_CHARS,
    ITEM_CHARS,
    LIST_ITEMS,
    TEXT_CHARS,
    cut_row,
    cut_text,
    cut_value,
)
from chatbot.prompting import rows_block
from chatbot.render import movie_cards, rows_table

HUGE = "x" * 100_000
ROW = {
    "id": 7, "title": "T" * 5000, "year": 1999, "director": "D" * 3000, "summary": "s " * 10_000,
    "genres": ["Drama"] * 500, "actors": ["A" * 900, "Tom Hanks"], "avg_rating": 3.5, "num_ratings": 12,
    "blob": HUGE,
}


def test_cut_text_keeps_what_fits_and_marks_a_cut():
    assert cut_text("Heat", 4) == "Heat"
    assert cut_text("Heat and dust", 8) == "Heat an…"
    assert len(cut_text(HUGE, 200)) == 200


def test_cut_value_by_kind():
    assert cut_value("title", "T" * 5000) == "T" * (FIELD_CHARS["title"] - 1) + "…"
    assert cut_value("director", "D" * 3000) == "D" * (TEXT_CHARS - 1) + "…"
    assert cut_value("genres", ["Drama"] * 500) == ["Drama"] * LIST_ITEMS
    assert cut_value("actors", ("A" * 900, "Tom Hanks")) == ("A" * (ITEM_CHARS - 1) + "…", "Tom Hanks")
    assert cut_value("n", {"k": HUGE}) == cut_text(str({"k": HUGE}), TEXT_CHARS)
    assert [cut_value("x", v) for v in (None, True, 3, 2.5)] == [None, True, 3, 2.5]
    assert cut_row({"a": "short", "b": 1}) == {"a": "short", "b": 1}


def test_the_answer_prompt_shows_cut_rows():
    (line,) = rows_block([ROW]).splitlines()
    shown = json.loads(line)
    assert shown == {k: v for k, v in cut_row(ROW).items() if k != "blob"}  # blob: not a prompt field
    assert len(shown["summary"]) == FIELD_CHARS["summary"] and shown["summary"].endswith("…")
    assert len(line) < 2500


def test_cards_and_table_show_cut_rows():
    (card,) = movie_cards([ROW])
    assert card["title"] == cut_value("title", ROW["title"]) and len(card["director"]) == TEXT_CHARS
    assert card["genres"] == ["Drama"] * 3
    table = rows_table([ROW])
    assert "blob" in table["columns"]
    assert all(len(cell) <= 120 for cell in table["rows"][0]["cells"])
    assert table["rows"][0]["cells"][table["columns"].index("title")] == "T" * 120
