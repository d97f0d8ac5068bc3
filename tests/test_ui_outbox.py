"""Nothing lost in an outage: chatbot.store.Outbox (unit, with a scripted writer) and the chat
data layer against an embedded Postgres that is stopped mid-chat and started again."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from ui_fixtures import start_server_in_subprocess

from chatbot.store import Outbox, is_write
from retrieval.database import is_unreachable


class Writer:
    """A database stand-in: `down` makes every write fail as a stopped server does."""

    def __init__(self) -> None:
        self.down = False
        self.rows: list[tuple[str, dict]] = []
        self.refuse: set[str] = set()
        self.batches: list[int] = []

    async def run(self, query: str, params: dict) -> int:
        if self.down:
            raise ConnectionRefusedError("[Errno 111] Connect call failed")
        if query in self.refuse:
            raise ValueError(f"duplicate key in {query}")
        self.rows.append((query, params))
        return 1

    async def run_batch(self, writes: list[tuple[str, dict]]) -> None:
        """All or nothing, as one transaction is."""
        if self.down:
            raise ConnectionRefusedError("[Errno 111] Connect call failed")
        if any(query in self.refuse for query, _ in writes):
            raise ValueError("duplicate key in the batch")
        self.batches.append(len(writes))
        self.rows += writes


async def test_outbox_writes_at_once_while_the_database_is_up():
    db = Writer()
    box = Outbox(db.run)
    assert await box.write("INSERT a", {"n": 1}) == 1
    assert db.rows == [("INSERT a", {"n": 1})] and box.pending == 0


async def test_outbox_keeps_writes_in_order_while_down_and_writes_them_when_back():
    db = Writer()
    box = Outbox(db.run, first_retry_s=0.01, max_retry_s=0.02)
    db.down = True
    params = {"n": 1}
    assert await box.write("INSERT thread", params) is None
    params["n"] = 99  # the caller's dict changing later does not change what was kept
    assert await box.write("INSERT step", {"n": 2}) is None
    await asyncio.sleep(0.05)  # retries while down keep everything
    assert box.pending == 2 and db.rows == []
    db.down = False
    # a write arriving while others wait queues behind them, even though the database is back
    assert await box.write("INSERT step", {"n": 3}) is None
    await asyncio.wait_for(box.drained(), 2)
    assert db.rows == [("INSERT thread", {"n": 1}), ("INSERT step", {"n": 2}), ("INSERT step", {"n": 3})]
    assert box.pending == 0
    assert await box.write("INSERT step", {"n": 4}) == 1  # straight through again


async def test_outbox_drops_a_kept_write_the_database_refuses_and_goes_on():
    db = Writer()
    box = Outbox(db.run, first_retry_s=60)
    db.down = True
    await box.write("INSERT bad", {})
    await box.write("INSERT good", {})
    db.down, db.refuse = False, {"INSERT bad"}
    assert await box.flush() is True
    assert db.rows == [("INSERT good", {})]


async def test_a_backlog_drains_in_batches_in_order():
    db = Writer()
    box = Outbox(db.run, run_batch=db.run_batch, batch_size=4, first_retry_s=60)
    db.down = True
    for n in range(10):
        await box.write("INSERT step", {"n": n})
    db.down = False
    assert await box.flush() is True
    assert db.batches == [4, 4, 2] and [p["n"] for _, p in db.rows] == list(range(10))


async def test_a_refused_batch_is_retried_one_by_one_dropping_only_the_refused_write():
    db = Writer()
    box = Outbox(db.run, run_batch=db.run_batch, batch_size=3, first_retry_s=60)
    db.down = True
    for query in ("INSERT a", "INSERT bad", "INSERT c", "INSERT d", "INSERT e"):
        await box.write(query, {})
    db.down, db.refuse = False, {"INSERT bad"}
    assert await box.flush() is True
    # the first three one at a time (no half-written batch), then the rest as one batch again
    assert [q for q, _ in db.rows] == ["INSERT a", "INSERT c", "INSERT d", "INSERT e"] and db.batches == [2]


async def test_outbox_passes_other_errors_to_the_caller():
    db = Writer()
    db.refuse = {"INSERT bad"}
    with pytest.raises(ValueError):
        await Outbox(db.run).write("INSERT bad", {})


def test_is_write_and_is_unreachable():
    assert is_write("\n    INSERT INTO steps") and is_write("update threads") and is_write(" DELETE FROM x")
    assert not is_write("SELECT * FROM users") and not is_write("WITH x AS (DELETE FROM y) SELECT 1")
    assert is_unreachable(ConnectionRefusedError()) and is_unreachable(FileNotFoundError())

    class AdminShutdown(Exception):
        sqlstate = "57P01"

    class Unique(Exception):
        sqlstate = "23505"

    try:
        try:
            raise AdminShutdown("terminating connection due to administrator command")
        except AdminShutdown as inner:
            raise RuntimeError("wrapped") from inner
    except RuntimeError as exc:
        assert is_unreachable(exc)
    assert not is_unreachable(Unique("duplicate key")) and not is_unreachable(ValueError("x"))


@pytest.mark.integration
async def test_chat_written_during_an_outage_is_stored_when_the_database_is_back(tmp_path, monkeypatch):
    """Stop the server mid-chat: the thread and messages written meanwhile are kept, and come
    back whole (with their user) once it runs again."""
    import psycopg

    from chatbot import store
    from retrieval.database import embedded_server, make_engine, stop_embedded

    if "chainlit.config" not in __import__("sys").modules:
        monkeypatch.setenv("CHAINLIT_APP_ROOT", str(tmp_path))
        monkeypatch.chdir(tmp_path)
    from chainlit.context import init_http_context
    from chainlit.types import Pagination, ThreadFilter
    from chainlit.user import User

    pgdata = tmp_path / "pgdata"
    with embedded_server(pgdata) as url:
        engine = make_engine(url)
        store.ensure_ui_schema(engine)
        engine.dispose()
        layer = store.open_data_layer(url)
        layer.outbox.first_retry_s = layer.outbox.max_retry_s = 0.2
        try:
            user = await layer.create_user(User(identifier="local", metadata={"provider": "local"}))
            assert user is not None
            before = str(uuid.uuid4())
            init_http_context(thread_id=before)
            await layer.update_thread(before, name="before", user_id=user.id, metadata={"chat_settings": {"k": 3}})

            stop_embedded(pgdata)
            with pytest.raises(psycopg.OperationalError):
                psycopg.connect(url, connect_timeout=2).close()
            thread_id = str(uuid.uuid4())
            init_http_context(thread_id=thread_id)
            # what Chainlit does on a first message: the user (cached), the thread, the steps
            assert (await layer.get_user("local")) == user
            await layer.create_step({
                "id": (q := str(uuid.uuid4())), "threadId": thread_id, "name": "local", "type": "user_message",
                "streaming": False, "output": "Movies like Alien", "createdAt": "2026-01-01T10:00:00.000Z", "metadata": {},
            })
            await layer.update_thread(thread_id, name="Movies like Alien", user_id=user.id)
            await layer.create_step({
                "id": str(uuid.uuid4()), "threadId": thread_id, "parentId": q, "name": "movie-rag",
                "type": "assistant_message", "streaming": False, "createdAt": "2026-01-01T10:00:01.000Z",
                "output": "The catalog is restarting; your conversation will be saved when it is back.", "metadata": {},
            })
            await layer.update_thread(before, metadata={"chat_settings": {"k": 5}})
            assert layer.outbox.pending >= 4

            assert start_server_in_subprocess(pgdata) == url
            await asyncio.wait_for(layer.outbox.drained(), 30)
            assert layer.outbox.pending == 0
            thread = await layer.get_thread(thread_id)
            assert thread is not None and thread["name"] == "Movies like Alien"
            assert [(s["type"], s["output"]) for s in thread["steps"]] == [
                ("user_message", "Movies like Alien"),
                ("assistant_message", "The catalog is restarting; your conversation will be saved when it is back."),
            ]
            assert await layer.get_thread_author(thread_id) == "local"
            listed = await layer.list_threads(Pagination(first=10), ThreadFilter(userId=user.id))
            assert {t["id"] for t in listed.data} == {before, thread_id}
            kept = await layer.get_thread(before)
            assert kept is not None and kept["name"] == "before"  # a metadata update keeps the name
            meta = kept["metadata"]
            assert (meta if isinstance(meta, dict) else __import__("json").loads(meta)) == {"chat_settings": {"k": 5}}
        finally:
            await layer.engine.dispose()
