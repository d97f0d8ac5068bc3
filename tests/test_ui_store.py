"""UI persistence against the real embedded Postgres: the `ui` schema, verified SQL examples
(and that they reach the SQL drafting prompt), and Chainlit's data layer storing a chat that
comes back whole (messages, steps, cards, thumbs) — history resume without a browser."""

from __future__ import annotations

import json
import sys
import uuid

import pytest

from chatbot import store
from chatbot.prompting import sql_messages
from chatbot.state import State
from prompts.sql import SQL_EXAMPLES
from retrieval.database import make_engine

pytestmark = pytest.mark.integration


@pytest.fixture
def ui_db(new_database):
    url = new_database("ui")
    engine = make_engine(url)
    store.ensure_ui_schema(engine)
    store.ensure_ui_schema(engine)  # idempotent
    try:
        yield url, engine
    finally:
        engine.dispose()


def test_verified_examples_saved_refreshed_removed(ui_db):
    _, engine = ui_db
    assert store.verified_examples(engine) == []
    store.save_verified_example(engine, question="Spielberg in the 90s", sql="SELECT 1", thread_id="t1", step_id="s1")
    store.save_verified_example(engine, question="Nolan films", sql="SELECT 2", step_id="s2")
    store.save_verified_example(engine, question=" Spielberg in the 90s ", sql="SELECT 1 ", step_id="s3")  # same pair
    assert store.verified_examples(engine) == [("Spielberg in the 90s", "SELECT 1"), ("Nolan films", "SELECT 2")]
    assert store.verified_examples(engine, limit=1) == [("Spielberg in the 90s", "SELECT 1")]
    assert store.remove_verified_example(engine, step_id="s2") == 1
    assert store.verified_examples(engine) == [("Spielberg in the 90s", "SELECT 1")]
    with pytest.raises(ValueError):
        store.save_verified_example(engine, question=" ", sql="SELECT 1")


def test_verified_examples_without_tables_is_empty(new_database):
    engine = make_engine(new_database("ui_none"))
    try:
        assert store.verified_examples(engine) == []
    finally:
        engine.dispose()


def test_verified_example_follows_the_built_in_examples_in_the_sql_prompt(ui_db):
    _, engine = ui_db
    store.save_verified_example(engine, question="Heist films before 1970", sql="SELECT id, title FROM movies WHERE year < 1970 LIMIT 50")
    messages = sql_messages(State(question="Crime films of the 90s"), 50, store.verified_examples(engine))
    pairs = [(m.type, m.content) for m in messages[1:]]
    n = len(SQL_EXAMPLES)
    assert pairs[2 * n] == ("human", "Heist films before 1970")
    assert pairs[2 * n + 1] == ("ai", '{"sql": "SELECT id, title FROM movies WHERE year < 1970 LIMIT 50"}')
    assert pairs[-1] == ("human", "Crime films of the 90s")


def test_asyncpg_connect_args_for_socket_and_tcp_urls():
    assert store.asyncpg_connect_args("postgresql://postgres:@/movies?host=/tmp/pg%20data") == {
        "server_settings": {"search_path": "ui"}, "host": "/tmp/pg data", "user": "postgres", "database": "movies",
    }
    assert store.asyncpg_connect_args("postgres://u:p%40ss@db.example:6543/cat?sslmode=require") == {
        "server_settings": {"search_path": "ui"}, "host": "db.example", "port": 6543, "user": "u",
        "password": "p@ss", "database": "cat", "ssl": "require",
    }


@pytest.fixture
def chainlit_root(tmp_path, monkeypatch):
    """Chainlit writes config into its app root when first imported: keep that in tmp_path."""
    if "chainlit.config" not in sys.modules:
        monkeypatch.setenv("CHAINLIT_APP_ROOT", str(tmp_path))
        monkeypatch.chdir(tmp_path)
    return tmp_path


async def test_chat_history_round_trip_through_the_data_layer(ui_db, chainlit_root):
    url, engine = ui_db
    from chainlit.context import init_http_context
    from chainlit.element import CustomElement
    from chainlit.types import Feedback, Pagination, ThreadFilter
    from chainlit.user import User

    layer = store.open_data_layer(url)
    try:
        user = await layer.create_user(User(identifier="local", metadata={"provider": "local"}))
        assert user is not None and user.identifier == "local"
        thread_id = str(uuid.uuid4())
        init_http_context(thread_id=thread_id)  # the data layer only writes at once outside a socket
        await layer.update_thread(thread_id, name="Spielberg", user_id=user.id, metadata={"chat_settings": {"k": 3}})
        question_id, run_id, answer_id = (str(uuid.uuid4()) for _ in range(3))
        await layer.create_step({
            "id": question_id, "threadId": thread_id, "name": "local", "type": "user_message", "streaming": False,
            "output": "Steven Spielberg films from the 1990s", "createdAt": "2026-01-01T10:00:00.000Z", "metadata": {},
        })
        await layer.create_step({
            "id": run_id, "threadId": thread_id, "parentId": question_id, "name": "on_message", "type": "run",
            "streaming": False, "output": "", "createdAt": "2026-01-01T10:00:00.100Z",
            "metadata": {"answer": {"question": "Steven Spielberg films from the 1990s", "sql": "SELECT 1"}},
        })
        await layer.create_step({
            "id": answer_id, "threadId": thread_id, "parentId": run_id, "name": "movie-rag", "type": "assistant_message",
            "streaming": False, "output": "Jurassic Park (1993) fits.", "createdAt": "2026-01-01T10:00:01.000Z",
            "metadata": {"route": "structured"}, "tags": ["sql"],
        })
        cards = CustomElement(name="MovieCards", props={"movies": [{"id": 2, "title": "Jurassic Park", "ref": 1}]},
                              display="inline", thread_id=thread_id, for_id=answer_id)
        await layer.create_element(cards)
        feedback_id = await layer.upsert_feedback(Feedback(forId=run_id, value=1, threadId=thread_id))

        thread = await layer.get_thread(thread_id)
        assert thread is not None and thread["name"] == "Spielberg"
        assert [(s["type"], s["output"]) for s in thread["steps"]] == [
            ("user_message", "Steven Spielberg films from the 1990s"),
            ("run", ""),
            ("assistant_message", "Jurassic Park (1993) fits."),
        ]
        assert thread["steps"][1]["feedback"]["value"] == 1 and thread["steps"][1]["feedback"]["id"] == feedback_id
        [element] = thread["elements"]
        assert (element["name"], element["forId"], element["props"]) == (
            "MovieCards", answer_id, {"movies": [{"id": 2, "title": "Jurassic Park", "ref": 1}]},
        )
        metadata = thread["metadata"]
        assert (metadata if isinstance(metadata, dict) else json.loads(metadata)) == {"chat_settings": {"k": 3}}
        assert await layer.get_thread_author(thread_id) == "local"

        listed = await layer.list_threads(Pagination(first=10), ThreadFilter(userId=user.id))
        assert [t["id"] for t in listed.data] == [thread_id]

        # What the app's feedback handler reads back after a restart.
        assert store.step_metadata(engine, run_id) == {
            "answer": {"question": "Steven Spielberg films from the 1990s", "sql": "SELECT 1"}
        }
    finally:
        await layer.engine.dispose()
