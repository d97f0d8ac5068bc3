""""Compare profiles for X" in the chat UI end to end: `movie-rag chat` as a subprocess (no LLM
reachable) on the demo catalog with the wordllama profile embedded, driven by headless Chromium.
The message and the button under a "movies like X" answer both bring the table and the charts."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import ui_fixtures as ui

pytestmark = ui.BROWSER_TESTS


@pytest.fixture(scope="module")
def profiled_db(new_database, embedder, tmp_path_factory) -> Iterator[str]:
    from retrieval.profiles import PROFILES
    from retrieval.profiles_models import load_wordllama
    from retrieval.profiles_store import embed_profile

    wordllama = load_wordllama(tmp_path_factory.mktemp("wl"))
    return ui.demo_database(new_database, embedder, "ui_compare",
                            then=lambda engine: embed_profile(engine, PROFILES["wordllama"], wordllama))


def _charts(driver):  # type: ignore[no-untyped-def]
    """The inline chart images that have loaded (a broken image has no natural width)."""
    return [img for img in driver.find_elements("css selector", "img")
            if (img.get_attribute("naturalWidth") or "0") not in ("0", "") and int(img.get_attribute("naturalWidth")) > 300]


def test_compare_profiles_from_a_message_and_from_the_similar_answers_button(profiled_db, tmp_path):
    facts = ui.catalog_facts(profiled_db)
    assert facts.profiles == ("wordllama",)
    env = ui.app_env(DATABASE_URL=profiled_db, OLLAMA_BASE_URL=ui.closed_port_url(), MOVIE_RAG_HOME=str(tmp_path / "home"))
    shot = tmp_path / "compare.png"
    with ui.running_app(env, tmp_path) as url, ui.chromium(tmp_path) as driver:
        driver.get(url)
        starter = f"Compare profiles for {facts.popular} ({facts.popular_year})"
        ui.wait_for(driver, lambda: starter in ui.page_text(driver), what="the compare starter", screenshot=shot)
        ui.send_message(driver, f"compare profiles for {facts.popular} ({facts.popular_year})", shot)
        ui.wait_for(driver, lambda: len(_charts(driver)) >= 3, what="three charts", screenshot=shot)
        text = ui.page_text(driver)
        assert f"Embedding profiles compared for {facts.popular} ({facts.popular_year})" in text
        table = driver.find_elements("css selector", "table")[-1].text
        assert [line.split()[:2] for line in table.splitlines()[1:]] == [
            ["minilm", "cosine"], ["minilm", "hamming"], ["wordllama", "cosine"], ["wordllama", "hamming"]]
        ui.send_message(driver, f"Movies like {facts.popular}", shot)
        button = ui.wait_for(driver, lambda: driver.find_elements(
            "xpath", "//button[contains(., 'Compare embedding profiles')]"), what="the compare button", screenshot=shot)
        ui.click(driver, button[0])
        ui.wait_for(driver, lambda: len(_charts(driver)) >= 6, what="three more charts", screenshot=shot)
        assert ui.page_text(driver).count("Embedding profiles compared for") == 2
        driver.save_screenshot(str(shot))
    assert "Traceback" not in (tmp_path / "app.log").read_text()
