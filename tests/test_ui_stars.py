"""Stars clicked on a movie card in the chat UI land in Postgres and are there after the app
restarts: `movie-rag chat` as a subprocess (no LLM reachable) on the demo catalog, driven by
headless Chromium. The rows behind the click and the restart are read back from person_ratings."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from ui_fixtures import (
    BROWSER_TESTS,
    app_env,
    catalog_facts,
    chromium,
    click,
    closed_port_url,
    demo_database,
    page_text,
    running_app,
    send_message,
    wait_for,
)

from retrieval.database import make_engine

pytestmark = BROWSER_TESTS


@pytest.fixture(scope="module")
def demo_db(new_database, embedder) -> Iterator[str]:
    return demo_database(new_database, embedder, "ui_stars")


def _stored(url: str) -> list[tuple[str, int, float]]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(
                "SELECT owner, movie_id, rating FROM person_ratings ORDER BY movie_id"))]
    finally:
        engine.dispose()


def _three_cards(driver, question: str, shot: Path) -> list:  # type: ignore[no-untyped-def]
    """Ask `question` with k = 3 (settings panel), so the answer shows movie cards."""
    wait_for(driver, lambda: driver.find_elements("id", "chat-input"), what="composer", screenshot=shot)
    click(driver, wait_for(driver, lambda: driver.find_elements("id", "chat-settings-open-modal"), what="settings")[0])
    slider = wait_for(driver, lambda: driver.find_elements("css selector", "[role=slider]"))[0]
    for _ in range(5):
        slider.send_keys("\ue012")  # arrow left: k 8 -> 3
    click(driver, driver.find_element("id", "confirm"))
    time.sleep(0.5)
    send_message(driver, question, shot)
    return wait_for(driver, lambda: driver.find_elements("css selector", "[data-testid=movie-cards] .mr-card"),
                    what="movie cards", screenshot=shot)


def _lit(card) -> int:  # type: ignore[no-untyped-def]
    return len(card.find_elements("css selector", ".mr-star.mr-on"))


def test_stars_clicked_on_a_card_are_stored_and_shown_after_a_restart(demo_db, tmp_path):
    facts = catalog_facts(demo_db)
    question = f"Movies like {facts.popular}"
    env = app_env(DATABASE_URL=demo_db, OLLAMA_BASE_URL=closed_port_url(), MOVIE_RAG_HOME=str(tmp_path / "home"))
    shot = tmp_path / "stars.png"

    first = tmp_path / "first"
    first.mkdir()
    with running_app(env, first) as url, chromium(first) as driver:
        driver.get(url)
        cards = _three_cards(driver, question, shot)
        assert len(cards) == 3 and all(_lit(c) == 0 for c in cards)
        movie_id = int(cards[0].get_attribute("data-movie-id"))
        click(driver, cards[0].find_elements("css selector", ".mr-star")[3])  # the 4th star
        assert wait_for(driver, lambda: [r for r in _stored(demo_db) if r[1] == movie_id], what="stored rating",
                        screenshot=shot)
        assert _lit(cards[0]) == 4
        driver.save_screenshot(str(shot))
    [(owner, stored_id, stars)] = _stored(demo_db)
    assert (stored_id, stars) == (movie_id, 4.0)
    assert owner.startswith("user:")  # auth off: everyone is the local user, so not per thread
    assert "Traceback" not in (first / "app.log").read_text()

    # A new app process, a new chat: the same card shows the person's 4 stars.
    second = tmp_path / "second"
    second.mkdir()
    with running_app(env, second) as url, chromium(second) as driver:
        driver.get(url)
        cards = _three_cards(driver, question, second / "stars.png")
        mine = [c for c in cards if int(c.get_attribute("data-movie-id")) == movie_id]
        assert len(mine) == 1 and _lit(mine[0]) == 4, page_text(driver)
        assert all(_lit(c) == 0 for c in cards if c is not mine[0])
    assert _stored(demo_db) == [(owner, movie_id, 4.0)]
