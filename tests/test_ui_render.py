"""Unit tests for chatbot/render.py: what the chat UI shows, and that catalog text stays inert."""

from __future__ import annotations

import re

import pytest

from chatbot.answer import Answer, Citation, Fallback
from chatbot.extractive import NO_LLM_CONFIGURED_NOTE
from chatbot.llm import NO_LLM_NOTE
from chatbot.render import (
    CARDS_UP_TO,
    answer_markdown,
    citation_numbers,
    code_spans,
    describe_error,
    escape_markdown,
    fenced,
    how_found,
    movie_cards,
    parse_chat_settings,
    poster_url,
    presentation,
    rows_table,
    safe_markdown,
    step_markdown,
)
from chatbot.settings import SettingsError


def test_safe_markdown_defuses_links_images_autolinks_and_html_but_keeps_formatting():
    text = "**Alien** ![p](http://evil.example/i.png) [site](https://evil.example) www.evil.example <img src=x> x@evil.example"
    assert safe_markdown(text) == (
        "**Alien** !\\[p\\](`http://evil.example/i.png`) \\[site\\](`https://evil.example`) "
        "`www.evil.example` \\<img src=x> `x@evil.example`"
    )


def test_safe_markdown_leaves_code_alone():
    text = "See `a[0]` and\n```sql\nSELECT genres[1] FROM movies\n```"
    assert safe_markdown(text) == text


def test_safe_markdown_keeps_escapes_as_they_are():
    # an escaped bracket is already literal; an escaped backtick must stay escaped (not live)
    assert safe_markdown("\\[x\\](y)") == "\\[x\\](y)"
    assert safe_markdown("\\` x `![p](http://e.x/p.png)`") == "\\` x `![p](http://e.x/p.png)`"


HOSTILE = [
    "` ![p](http://evil.example/p.png?q=leak) ``",  # one backtick "closed" by two: not code
    "``` ![p](http://evil.example/p.png)",  # a fence opener mid-line is not a fence... (it is at line start: code)
    "x ``` ![p](http://evil.example/p.png)",  # mid-line: literal backticks, live image
    "a `b` ![p](http://evil.example/p.png) `c",
    "\\` ![p](http://evil.example/p.png) `",
    "para `code\n\n![p](http://evil.example/p.png)` more",  # a code span cannot cross paragraphs
    "| a | b |\n|---|---|\n| `x|![p](http://evil.example/p.png)` | y |",  # pipes split cells
    "- item `one\n- ![p](http://evil.example/p.png) two`",
    "> `q\n![p](http://evil.example/p.png)`",
    "<img src=http://evil.example/p.png>",
    "[click](http://evil.example) and <http://evil.example> and www.evil.example and x@evil.example",
    "` http://evil.example ![p](http://evil.example/p.png)",
    "Title: Alien](http://evil.example) ![x](//evil.example/p.png)",
]


def _html_outside_code(markdown: str) -> str:
    from markdown_it import MarkdownIt

    html = MarkdownIt("commonmark").enable("table").render(markdown)
    return re.sub(r"<pre>.*?</pre>|<code>.*?</code>", "", html, flags=re.S)


@pytest.mark.parametrize("text", HOSTILE)
def test_safe_markdown_leaves_no_live_image_link_or_url_by_a_commonmark_parser(text):
    """What a CommonMark renderer makes of the defused text: no image, no link, no HTML, and
    no bare URL outside code (GFM would autolink it)."""
    outside = _html_outside_code(safe_markdown(text))
    assert "<img" not in outside and "<a " not in outside
    assert not re.search(r"https?://|www\.|@evil", outside), outside


# Each defeated an earlier defusing (found by fuzzing against markdown-it): an inserted URL fence
# touching a kept code span or an escaped backtick, a URL swallowing "\\`" or "](", lines of an
# HTML block or a link definition that join a paragraph once defused, a pipe splitting a URL span.
STRUCTURAL = [
    "`kept`https://evil.example/a.png)![p](https://evil.example/p.png)",
    "see https://evil.example/x![q](https://evil.example/q.png)\\` and `z`",
    "https://evil.example/p.png`` ![p](https://evil.example/p.png) ``",
    "a\\https://evil.example/x ![p](<https://evil.example/p.png>) b\\https://evil.example/y",
    "<section>` tail\n![p](https://evil.example/p.png)",
    "[ref]: https://evil.example/r.png\n    ![p](https://evil.example/p.png) <b>x</b>",
    "[ref]: https://evil.example/r.png\n\t![p](https://evil.example/p.png)",
    "| a | b |\n|---|---|\n| https://evil.example/x|![p](https://evil.example/p.png) | c |",
]


@pytest.mark.parametrize("text", STRUCTURAL)
def test_safe_markdown_inserted_code_spans_always_close(text):
    from chatbot.markup import _safe_markdown, live_markup

    assert live_markup(_safe_markdown(text)) == []  # the defusing itself holds, not only the net
    assert live_markup(safe_markdown(text)) == []


def test_safe_markdown_falls_back_to_escaping_every_line_when_anything_stays_live(monkeypatch):
    from chatbot import markup

    monkeypatch.setattr(markup, "_safe_markdown", lambda text: text)  # a defusing that does nothing
    out = markup.safe_markdown("**b** ![p](https://evil.example/p.png)\n<img src=https://evil.example/i.png>")
    assert out == ("\\*\\*b\\*\\* \\!\\[p\\]\\(`https://evil.example/p.png`\\)\n"
                   "\\<img src=`https://evil.example/i.png`\\>")
    assert markup.live_markup(out) == []


def test_live_markup_names_what_would_render():
    from chatbot.markup import live_markup

    assert live_markup("![p](https://e.example/p.png)") == ["image"]
    assert sorted(live_markup("<b>x</b> www.e.example")) == ["autolink", "html_inline", "html_inline"]
    assert live_markup("`www.e.example` \\[x\\](y)") == []


def test_code_spans_follow_commonmark():
    assert code_spans("a `b` c") == [(2, 5)]
    assert code_spans("` x ``") == []  # no closer of the same length
    assert code_spans("``a`b``") == [(0, 7)]
    assert code_spans("\\`a` `b`") == [(3, 6)]  # the escaped backtick opens nothing: "` `" is the span


def test_escape_markdown_escapes_everything_and_codes_urls():
    assert escape_markdown("A *b* | c_d http://x.y/z.") == "A \\*b\\* \\| c\\_d `http://x.y/z`\\."
    assert escape_markdown(None) == ""


def test_fenced_cannot_be_broken_out_of():
    assert fenced("SELECT '```'") == "````sql\nSELECT '```'\n````"


@pytest.mark.parametrize(("url", "expected"), [
    ("https://m.media-amazon.com/images/M/abc._V1_.jpg", "https://m.media-amazon.com/images/M/abc._V1_.jpg"),
    ("http://example.org/p.PNG", "http://example.org/p.PNG"),
    ("javascript:alert(1)//.jpg", None),
    ("https://example.org/page.html", None),
    ("https://example.org/a b.jpg", None),
    ("https://example.org/a\".jpg", None),
    ("//example.org/p.jpg", None),
    (None, None),
])
def test_poster_url_only_http_image_urls(url, expected):
    assert poster_url(url) == expected


def _answer(**kw):
    base = dict(
        answer="Try Alien.",
        citations=[Citation(id=7, title="Alien", year=1979), Citation(id=9, title="Heat", year=1995)],
        rows=[
            {"id": 9, "title": "Heat", "year": 1995, "director": "Michael Mann", "genres": ["Crime", "Drama"],
             "avg_rating": 4.25, "num_ratings": 12, "poster_url": "https://x.org/heat.jpg", "summary": "long"},
            {"id": 3, "title": "Up", "year": 2009, "director": None, "genres": [], "poster_url": "ftp://x/up.jpg"},
            {"id": 7, "title": "Alien [director's cut](http://evil)", "year": 1979, "genres": ["Horror"]},
        ],
        model="llama3.1:8b",
    )
    base.update(kw)
    return Answer(**base)


def test_answer_markdown_numbers_sources_and_shows_notes():
    answer = _answer(notes=["Not among the retrieved rows, so not verified: Jaws."])
    assert answer_markdown(answer) == (
        "Try Alien.\n\n*Not among the retrieved rows, so not verified: Jaws\\.*\n\n"
        "**Sources:** \\[1\\] Alien \\(1979\\) · \\[2\\] Heat \\(1995\\)"
    )


@pytest.mark.parametrize(("note", "reason"), [(NO_LLM_NOTE, "no LLM reachable"), (NO_LLM_CONFIGURED_NOTE, "LLM turned off")])
def test_answer_markdown_no_llm_line(note, reason):
    text = answer_markdown(_answer(model=None, notes=[note], citations=[]))
    assert text == f"Try Alien.\n\n> **Answering from the catalog without an LLM** ({reason})."


def test_cards_cited_first_with_numbers_and_vetted_posters():
    answer = _answer()
    cards = movie_cards(answer.rows, citation_numbers(answer))
    assert [(c["title"], c["ref"], c["poster"], c["rating"]) for c in cards] == [
        ("Alien [director's cut](http://evil)", 1, None, None),
        ("Heat", 2, "https://x.org/heat.jpg", "4.2/5 (12)"),
        ("Up", None, None, None),
    ]
    assert cards[1]["genres"] == ["Crime", "Drama"] and cards[1]["director"] == "Michael Mann"


def test_rows_table_columns_cells_and_refs():
    answer = _answer()
    table = rows_table(answer.rows, citation_numbers(answer))
    assert table["columns"] == ["title", "year", "director", "genres", "rating", "ratings"]
    assert table["rows"][0] == {"ref": 2, "cells": ["Heat", "1995", "Michael Mann", "Crime, Drama", "4.25", "12"]}
    assert table["rows"][1] == {"ref": None, "cells": ["Up", "2009", "", "", "", ""]}


def test_rows_table_for_sql_aggregates():
    assert rows_table([{"director": "Steven Spielberg", "n": 10}]) == {
        "open": False, "total": None,
        "columns": ["director", "n"], "rows": [{"ref": None, "cells": ["Steven Spielberg", "10"]}],
    }


def test_rows_table_hides_columns_empty_in_every_row_and_states_the_total():
    rows = [{"id": 1, "title": "Alien", "year": 1979, "avg_rating": None, "num_ratings": None},
            {"id": 2, "title": "Heat", "year": 1995, "avg_rating": None, "num_ratings": None}]
    table = rows_table(rows, {1: 1}, open_=True, total=40)
    assert table["columns"] == ["title", "year"]  # no ratings loaded: no rating columns
    assert (table["open"], table["total"]) == (True, 40)
    assert rows_table(rows, total=2)["total"] is None  # every match is shown: no "of N"


def test_cards_carry_a_placeholder_for_posters_that_cannot_load():
    cards = movie_cards([{"id": 1, "title": "The Dark Knight"}, {"id": 2, "title": "Up"}, {"id": 3, "title": "The"}])
    assert [c["initials"] for c in cards] == ["DK", "U", "T"]
    assert all(0 <= c["hue"] < 360 for c in cards)
    assert movie_cards([{"id": 1, "title": "Up"}])[0]["hue"] == cards[1]["hue"]  # stable per title


def test_one_presentation_per_answer_kind():
    few = _answer()
    many = _answer(rows=[{"id": i, "title": f"T{i}"} for i in range(CARDS_UP_TO + 1)])
    assert presentation(few) == "cards"
    assert presentation(many) == "table"
    assert presentation(_answer(plan={"intent": "fact"})) == "text"
    assert presentation(_answer(plan={"intent": "count"})) == "text"
    assert presentation(_answer(rows=[])) == "text"
    # the cards and the table carry the citation numbers: no separate Sources line then
    assert "Sources" not in answer_markdown(few, sources=False)


def test_how_found_states_the_plan_k_metric_sql_and_timings_in_words():
    answer = _answer(
        route="similar", plan={"intent": "similar", "filters": {"exclude_ids": [7], "year": {"min": 1990}}},
        plan_sql="SELECT id FROM movies WHERE year >= %(y)s", timings_ms={"understand": 3.0, "retrieve": 40.0},
    )
    text = how_found(answer, {"retrieve": {"total": 12}}, k=5, metric="jaccard", hybrid=True)
    assert text.split("\n\n") == [
        "**Read as:** films similar to a title",
        "**Conditions:** leaving out the 1 title named; year 1990–…",
        "**Nearest films:** k = 5, metric jaccard, vector search",
        "**Matched:** 12 films in the whole catalog",
        "**SQL that ran (from the plan):**",
        "```sql\nSELECT id FROM movies WHERE year >= %(y)s\n```",
        "**Written by:** llama3\\.1:8b",
        "**Time:** 43 ms — reading the question 3 ms, searching the catalog 40 ms",
    ]
    assert "understand" not in text and "retrieve" not in text  # node names only in the debug view
    # the settings panel's embedding profile is named where it ranked the films
    assert "**Nearest films:** k = 5, metric jaccard, vector search, wordllama vectors" in how_found(
        answer, {}, k=5, metric="jaccard", hybrid=True, profile="wordllama").split("\n\n")
    assert "**Nearest films:** k = 5, by the blend of content, genres and co-liking" in how_found(
        answer, {}, k=5, metric="jaccard", hybrid=True, profile="blend").split("\n\n")
    assert "vectors" not in how_found(answer, {}, k=5, metric="jaccard", hybrid=True, profile="minilm")
    listing = how_found(_answer(plan={"intent": "list", "filters": {"directors": {"any_of": ["Michael Mann"]}},
                                      "sort": {"key": "duration_min", "desc": True}, "limit": 1}, model=None),
                        {}, k=8, metric="cosine", hybrid=True)
    assert "**Conditions:** directors any of: Michael Mann" in listing
    assert "**Sorted by:** minutes (highest first, keeping 1)" in listing
    assert "Nearest films" not in listing and "no model" in listing
    failed = how_found(_answer(fallbacks=[Fallback(model="a:1b", reason="timeout before first token"),
                                          Fallback(model="b_2", reason="HTTP 500")]), {}, k=8, metric="cosine", hybrid=True)
    assert "**Models that failed first:** a:1b (timeout before first token); b\\_2 (HTTP 500)" in failed
    groups = how_found(_answer(plan={"intent": "aggregate", "group": {"by": "genre", "measure": "avg", "field": "duration_min",
                                                                        "desc": True, "top": 1}}, model=None),
                       {"retrieve": {"total": 1}}, k=8, metric="cosine", hybrid=True).split("\n\n")
    assert groups[0] == "**Read as:** the average running time per genre, the top 1 \\(computed by the plan\\)"
    assert "**Groups:** 1" in groups and not any(line.startswith("**Matched:**") for line in groups)
    picked = how_found(_answer(plan={"intent": "aggregate", "group": {"by": "decade", "pick": {"key": "duration_min", "desc": True}}},
                               model=None), {}, k=8, metric="cosine", hybrid=True).split("\n\n")
    assert picked[0] == "**Read as:** per decade, the films with the highest running time"


def test_step_texts():
    assert step_markdown("understand", {
        "route": "structured", "query": "films", "anchors": [], "filters": {"year_min": 1990, "year_max": 1999, "director": "Spielberg"},
        "sort": {"key": "year", "desc": True}, "limit": 1, "llm_up": True, "use_sql": True,
    }) == (
        "**Route:** structured\n\n**Search text:** films\n\n**Filters:** years 1990–1999; director Spielberg\n\n"
        "**Sort:** year (descending), keep 1\n\n**LLM reachable:** yes · **SQL path:** yes"
    )
    assert step_markdown("check_sql", {"verdict": "rejected", "sql_reason": "DELETE is not allowed"}) == (
        "**Guard verdict:** rejected — DELETE is not allowed"
    )
    assert step_markdown("check_sql", {"verdict": "accepted", "sql_readable": "SELECT 1"}) == (
        "**Guard verdict:** accepted\n\n**SQL that will run:**\n\n```sql\nSELECT 1\n```"
    )
    assert step_markdown("retrieve", {"hits": [{"id": 1, "title": "Up", "year": 2009}]}) == "**1 row retrieved**: Up \\(2009\\)"
    assert step_markdown("generate", {"model": None, "fallbacks": [{"model": "a:1b", "reason": "timeout"}]}) == (
        "**Model:** none (answer written from the rows)\n\n**Fallbacks:** a:1b (timeout)"
    )


def test_parse_chat_settings():
    options, models = parse_chat_settings(
        {"k": 3.0, "metric": "l2", "sql_mode": False, "hybrid": True, "models": " b:1b, a:8b ,"}, default_models=("x",)
    )
    assert options == {"k": 3, "metric": "l2", "sql_mode": False, "hybrid": True}
    assert models == ("b:1b", "a:8b")
    assert parse_chat_settings({}, default_models=("x",)) == ({}, ("x",))


@pytest.mark.parametrize(("values", "message"), [
    ({"k": 0}, "Rows to retrieve (k) = 0 is out of range; pick 1 to 50."),
    ({"metric": "manhattan"}, "Similarity metric 'manhattan' is unknown; use one of cosine, l2, inner, l1, hamming, jaccard."),
    ({"models": " , "}, "Model order is empty; give a comma list such as llama3.1:8b, llama3.2:1b."),
])
def test_parse_chat_settings_errors(values, message):
    with pytest.raises(ValueError) as err:
        parse_chat_settings(values, default_models=("x",))
    assert str(err.value) == message


def test_describe_error_sentences():
    assert describe_error(SettingsError("MOVIE_RAG_K='x' is not a number; give a positive int.")) == (
        "**The configuration has a problem:** MOVIE\\_RAG\\_K='x' is not a number; give a positive int\\. "
        "Fix it (environment or `.env`) and restart `movie-rag chat`."
    )
    try:
        try:
            raise ConnectionRefusedError("connection refused")
        except ConnectionRefusedError as inner:
            raise RuntimeError("pool failed") from inner
    except RuntimeError as exc:
        text, outage = describe_error(exc), describe_error(exc, outage=True)
    assert text.startswith("**The catalog database cannot be reached right now.** Check that PostgreSQL")
    assert "connection refused" not in text  # the driver's words stay in the log
    assert outage == (
        "The catalog is restarting; your conversation will be saved when it is back. Ask again in a moment."
    )
    assert describe_error(KeyError("x")) == (
        "**Something went wrong while answering** (KeyError: 'x'). It is logged; please try again or rephrase."
    )


def _planned(plan: dict) -> Answer:
    return Answer(answer="", citations=[], route="structured", sql=None, rows=[], model=None, fallbacks=[],
                  timings_ms={}, plan=plan)


def test_thread_title_names_what_the_turn_found_not_the_words():
    from chatbot.render import TITLE_MAX, thread_title

    alien = [{"id": 7, "title": "Alien", "year": 1979}]
    assert thread_title(_planned({"intent": "similar", "anchors": [7]}), alien, "movies similar to alien pls") == "Films like Alien"
    assert thread_title(_planned({"intent": "recommend", "anchors": [7]}), alien) == "Picks for fans of Alien"
    assert thread_title(_planned({"intent": "fact", "anchors": [7]}), alien) == "About Alien"
    spielberg = {"directors": {"any_of": ["Steven Spielberg"]}, "year": {"min": 1990, "max": 1999}}
    assert thread_title(_planned({"intent": "list", "filters": spielberg}), [], "90s spielberg?") == "Steven Spielberg films, 1990s"
    assert thread_title(_planned({"intent": "superlative", "filters": {"genres": {"all_of": ["Drama"]}},
                                  "sort": {"key": "avg_rating", "desc": True}, "limit": 5})) == "Top-rated drama films"
    assert thread_title(_planned({"intent": "count", "filters": {"genres": {"all_of": ["Comedy"]}, "year": {"max": 1979}}})) == (
        "How many comedy films, before 1980")
    assert thread_title(_planned({"intent": "list", "filters": {"actors": {"all_of": ["Tom Hanks"]},
                                                                "year": {"min": 1994, "max": 1994}}})) == "Films with Tom Hanks, 1994"
    assert thread_title(_planned({"intent": "search", "semantic": "a heist that goes wrong"})) == "Films about a heist that goes wrong"
    # nothing nameable in the plan: the question, on one line, shortened
    assert thread_title(_planned({"intent": "chitchat"}), [], "hello\n  there") == "hello there"
    long = thread_title(_planned({"intent": "aggregate"}), [], "word " * 40)
    assert len(long) == TITLE_MAX and long.endswith("…")


def test_an_answer_from_the_rows_is_shown_once_the_table_or_cards_hold_the_list():
    from chatbot.extractive import extractive_answer
    from chatbot.render import unlisted

    rows = [{"id": i, "title": f"Film {i}", "year": 1990 + i, "director": "Someone"} for i in range(1, 9)]
    anchors = [{"id": 99, "title": "Alien", "year": 1979}]
    text = extractive_answer(rows, route="similar", anchors=anchors)
    assert text.count("\n") == 8  # the CLI/API answer lists every row
    answer = Answer(answer=text, citations=[Citation(id=r["id"], title=r["title"], year=r["year"]) for r in rows],
                    route="similar", sql=None, rows=rows, model=None, fallbacks=[], timings_ms={}, plan={"intent": "similar"})
    assert presentation(answer) == "table"
    shown = answer_markdown(answer, sources=False, view="table")
    assert shown.split("\n\n")[0] == "Films in your catalog closest to Alien (1979) — 8 films, in the table below."
    assert "Film 3" not in shown
    # a lead that already counts keeps its count; caveats and the SQL stay
    counted = "3 films in your catalog match (genre Drama):\n1. **A**\n2. **B**\n3. **C**\n\nFound with this SQL:\n```sql\nSELECT 1\n```"
    assert unlisted(counted, "cards") == (
        "3 films in your catalog match (genre Drama); below.\n\nFound with this SQL:\n```sql\nSELECT 1\n```")
    assert unlisted("Jaws (1975) runs 124 minutes.", "cards") == "Jaws (1975) runs 124 minutes."
    # a model's prose is the model's: never cut
    written = Answer(answer="1. Film 1 is great.", citations=[], route="similar", sql=None, rows=rows, model="m",
                     fallbacks=[], timings_ms={}, plan={"intent": "similar"})
    assert answer_markdown(written, sources=False, view="table").startswith("1. Film 1 is great")
