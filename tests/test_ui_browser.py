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
    app_env,
    browser_missing,
    chromium,
    click,
    closed_port_url,
    page_text,
    running_app,
    wait_for,
)

from chatbot import examples
from retrieval.database import make_engine
from retrieval.ingest import ingest_demo
from retrieval.schema import create_schema

pytestmark = [
    pytest.mark.integration,
    pytest.mark.browser,
    pytest.mark.skipif(browser_missing() is not None, reason=browser_missing() or ""),
]

MODEL = "fake-ui:1b"
SQL_QUESTION = "Steven Spielberg films from the 1990s"  # the "Structured question" starter
PLOT_QUESTION = "A timid clownfish crosses the ocean to find his son"
DRAFTED_SQL = (
    "SELECT id, title, year, director, genres FROM movies WHERE director ILIKE '%spielberg%' "
    "AND year BETWEEN 1990 AND 1999 ORDER BY year LIMIT 50"
)
ANSWER = "Jurassic Park (1993) is the pick: dinosaurs on an island. [more](http://evil.example/x) ![p](http://evil.example/p.png)"
ANSWER_SHOWN = "Jurassic Park (1993) is the pick: dinosaurs on an island."
NEMO_ANSWER = "Finding Nemo (2003) is the one: a clownfish father crosses the ocean."


def _reply(request) -> str:
    """SQL drafting asks for JSON; everything else gets the answer naming a demo title."""
    if request.format:
        return json.dumps({"sql": DRAFTED_SQL})
    return NEMO_ANSWER if "clownfish" in request.last_user else ANSWER


@pytest.fixture(scope="module")
def demo_db(new_database, embedder) -> Iterator[str]:
    url = new_database("ui_browser")
    engine = make_engine(url)
    try:
        create_schema(engine)
        ingest_demo(engine, embedder)
    finally:
        engine.dispose()
    return url


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


def test_streamed_answer_steps_cards_feedback_and_resume(app_with_llm, demo_db, fake_llm, tmp_path):
    shot = tmp_path / "answer.png"
    with chromium(tmp_path) as driver:
        driver.get(app_with_llm)
        click(driver, wait_for(driver, lambda: driver.find_elements("id", "starter-structured-question"),
                               what="starters", screenshot=shot)[0])
        _wait_answer(driver, ANSWER_SHOWN, shot)
        text = page_text(driver)
        assert "Sources: [1] Jurassic Park (1993)" in text
        # one collapsible step per node the SQL path ran
        for node in ("understand", "embed", "draft_sql", "check_sql", "run_sql", "generate", "check_citations"):
            assert driver.find_elements("id", f"step-{node}"), node
        click(driver, driver.find_element("id", "step-check_sql"))
        wait_for(driver, lambda: "Guard verdict: accepted" in page_text(driver), what="guard verdict")
        # catalog/model text never becomes a live link or a remote image
        assert not driver.find_elements("css selector", "a[href*='evil.example'], img[src*='evil.example']")
        assert "http://evil.example/p.png" in page_text(driver)
        # movie cards with the cited row first, and the rows table
        cards = driver.find_elements("css selector", "[data-testid=movie-cards] .mr-card")
        assert cards and cards[0].text.startswith("Jurassic Park (1993)") and "cited [1]" in cards[0].text
        click(driver, driver.find_element("css selector", ".mr-table-toggle"))
        rows = wait_for(driver, lambda: driver.find_elements("css selector", "[data-testid=rows-table] tbody tr"))
        assert any("Jurassic Park" in r.text and "[1]" in r.text for r in rows)
        thread_url = driver.current_url
        assert "/thread/" in thread_url

        # thumbs up on the SQL answer -> a verified example ...
        click(driver, driver.find_elements("css selector", ".positive-feedback-off")[-1])
        click(driver, wait_for(driver, lambda: driver.find_elements("id", "submit-feedback"))[0])
        wait_for(driver, lambda: driver.find_elements("css selector", ".positive-feedback-on"), what="thumbs up")
        engine = make_engine(demo_db)
        try:
            wait_for(driver, lambda: examples.examples_for(engine, "user:local") == [(SQL_QUESTION, examples.example_sql(DRAFTED_SQL))],
                     timeout=15, what="verified example stored")
        finally:
            engine.dispose()
        driver.save_screenshot(str(shot))

        # ... that the next SQL draft is shown as a few-shot example
        before = len(fake_llm.chat_requests(MODEL))
        box = driver.find_element("id", "chat-input")
        box.send_keys("Steven Spielberg films from the 2000s")
        click(driver, driver.find_element("id", "chat-submit"))
        _wait_answer(driver, ANSWER_SHOWN, shot, count=2)
        drafts = [r for r in fake_llm.chat_requests(MODEL)[before:] if r.format]
        assert drafts, "no SQL drafting request"
        contents = [m["content"] for m in drafts[0].messages]
        i = contents.index(SQL_QUESTION)
        assert json.loads(contents[i + 1]) == {"sql": DRAFTED_SQL}
        assert contents[-1] == "Steven Spielberg films from the 2000s"

        # history: a new chat, then the thread from the sidebar comes back with its messages
        click(driver, driver.find_element("id", "new-chat-button"))
        wait_for(driver, lambda: driver.find_elements("id", "starter-structured-question"), what="new chat")
        thread_id = thread_url.rsplit("/", 1)[-1]
        link = wait_for(driver, lambda: [a for a in driver.find_elements("css selector", "a[href]")
                                         if thread_id in a.get_attribute("href")], what="thread in sidebar")[0]
        click(driver, link)
        wait_for(driver, lambda: page_text(driver).count(ANSWER_SHOWN) == 2 and driver.find_elements(
            "css selector", "[data-testid=movie-cards]"), what="resumed thread", screenshot=shot)
        resumed = page_text(driver)
        assert SQL_QUESTION in resumed and "Steven Spielberg films from the 2000s" in resumed
        assert driver.find_elements("css selector", ".positive-feedback-on")  # the thumbs came back too
        driver.save_screenshot(str(tmp_path / "resumed.png"))


def test_chat_settings_apply_to_the_next_question(app_with_llm, fake_llm, tmp_path):
    shot = tmp_path / "settings.png"
    with chromium(tmp_path) as driver:
        driver.get(app_with_llm)
        click(driver, wait_for(driver, lambda: driver.find_elements("id", "chat-settings-open-modal"),
                               what="settings button", screenshot=shot)[0])
        models = wait_for(driver, lambda: driver.find_elements("id", "models"))[0]
        models.clear()
        models.send_keys("missing-ui:1b, " + MODEL)
        click(driver, driver.find_element("id", "sql_mode"))  # SQL mode off
        slider = driver.find_element("css selector", "[role=slider]")
        for _ in range(5):
            slider.send_keys("\ue012")  # arrow left: k 8 -> 3
        click(driver, driver.find_element("id", "confirm"))
        time.sleep(0.5)
        # k = 3 (a plot search retrieves k rows) and the model order (the missing model falls back)
        driver.find_element("id", "chat-input").send_keys(PLOT_QUESTION)
        click(driver, driver.find_element("id", "chat-submit"))
        _wait_answer(driver, NEMO_ANSWER, shot)
        assert "Sources: [1] Finding Nemo (2003)" in page_text(driver)
        click(driver, driver.find_element("id", "step-retrieve"))
        wait_for(driver, lambda: re.search(r"(?m)^3 rows retrieved: ", page_text(driver)), what="k = 3", screenshot=shot)
        click(driver, driver.find_element("id", "step-generate"))
        wait_for(driver, lambda: "Model: " + MODEL in page_text(driver), what="model line", screenshot=shot)
        assert "Fallbacks: missing-ui:1b (model not found)" in page_text(driver)
        assert [r.model for r in fake_llm.chat_requests()][-2:] == ["missing-ui:1b", MODEL]
        # SQL mode off: a structured question is answered by retrieval, with no SQL drafted
        driver.find_element("id", "chat-input").send_keys(SQL_QUESTION)
        click(driver, driver.find_element("id", "chat-submit"))
        _wait_answer(driver, ANSWER_SHOWN, shot)
        assert len(driver.find_elements("id", "step-retrieve")) == 2
        assert not driver.find_elements("id", "step-draft_sql")
        driver.save_screenshot(str(shot))


def test_no_llm_answers_from_the_catalog_and_errors_read_well(demo_db, tmp_path):
    shot = tmp_path / "no_llm.png"
    env = app_env(DATABASE_URL=demo_db, OLLAMA_BASE_URL=closed_port_url(), MOVIE_RAG_MODELS=MODEL,
                  MOVIE_RAG_HOME=str(tmp_path / "home"))
    with running_app(env, tmp_path) as url, chromium(tmp_path) as driver:
        driver.get(url)
        click(driver, wait_for(driver, lambda: driver.find_elements("id", "starter-similar-to-a-title"),
                               what="starters", screenshot=shot)[0])
        _wait_answer(driver, "Films in your catalog closest to Alien (1979):", shot)
        text = page_text(driver)
        assert "Answering from the catalog without an LLM (no LLM reachable)." in text
        assert "Sources: [1] " in text
        assert "Traceback" not in text
        driver.save_screenshot(str(shot))

    # The database down: a readable sentence in the chat, twice (the session stays usable).
    down = app_env(DATABASE_URL="postgresql://postgres:@/movies?host=" + str(tmp_path / "no-server"),
                   OLLAMA_BASE_URL=closed_port_url(), MOVIE_RAG_HOME=str(tmp_path / "home_down"))
    down_dir = tmp_path / "db_down"
    down_dir.mkdir()
    with running_app(down, down_dir) as url, chromium(down_dir) as driver:
        driver.get(url)
        for attempt in (1, 2):
            box = wait_for(driver, lambda: driver.find_elements("id", "chat-input"), what="composer")[0]
            box.send_keys(f"Movies similar to Alien, try {attempt}")
            click(driver, driver.find_element("id", "chat-submit"))
            wait_for(driver, lambda n=attempt: page_text(driver).count("The catalog database cannot be reached right now") == n,
                     what=f"database error {attempt}", screenshot=tmp_path / "db_down.png")
        text = page_text(driver)
        assert "Movies similar to Alien, try 2" in text and "Traceback" not in text
        assert "(connection is bad: connection to server on socket" in text  # the driver's words, unwrapped
        driver.save_screenshot(str(tmp_path / "db_down.png"))
