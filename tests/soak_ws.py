"""A chat session over the real Chainlit app's websocket, as the browser drives it (for `make soak`).

The browser logs in (`POST /auth/header`, which sets the auth cookie), opens socket.io on
`/ws/socket.io` with a session id (and the thread id when it resumes a chat), says
`connection_successful`, then sends each question as a `client_message` and reads the
`new_message` / `update_message` events until the `on_message` run of that question ends. `WsSession` does the same
with python-socketio's client, records the ids of the messages it sent and saw, and `persisted`
reads them back from the app's history tables (`ui.steps`), so nothing-lost is checked by id.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


@dataclass
class Turn:
    """One question as the client saw it."""

    question: str
    user_id: str
    """Id of the user message the client sent (a uuid4, as the browser makes)."""
    answer_id: str | None = None
    answer: str = ""
    error: bool = False
    seconds: float = 0.0
    shown: list[str] = field(default_factory=list)
    """Every assistant text the client got during the turn (Chainlit's own error messages too)."""
    events: list[str] = field(default_factory=list)
    """What the server sent during the turn (event, message type), for a failed turn's report."""


@dataclass
class WsSession:
    """One browser tab: a socket.io connection to the app, one chat thread."""

    url: str
    thread_id: str | None = None
    turns: list[Turn] = field(default_factory=list)
    resumed: bool = False
    _sio: Any = None
    _http: Any = None
    _events: asyncio.Queue[tuple[str, Any]] = field(default_factory=asyncio.Queue)

    async def open(self, *, resume: str | None = None, timeout: float = 30.0) -> None:
        import aiohttp
        import socketio

        self._http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))  # cookies of 127.0.0.1 too
        async with self._http.post(f"{self.url}/auth/header") as response:
            response.raise_for_status()
        cookie = "; ".join(f"{c.key}={c.value}" for c in self._http.cookie_jar)
        self._sio = socketio.AsyncClient(reconnection=False)
        for event in ("new_message", "update_message", "task_start", "task_end", "first_interaction",
                      "resume_thread", "stream_start", "stream_token", "delete_message"):
            self._sio.on(event, self._recorder(event))
        auth = {"clientType": "webapp", "sessionId": str(uuid.uuid4()), "threadId": resume, "userEnv": "{}"}
        await self._sio.connect(self.url, headers={"Cookie": cookie}, auth=auth, socketio_path="/ws/socket.io",
                                transports=["websocket"], wait_timeout=timeout)
        await self._sio.emit("connection_successful")
        if resume:
            self.thread_id = resume
            self.resumed = await self._wait_for("resume_thread", timeout) is not None

    def _recorder(self, event: str) -> Any:
        async def record(data: Any = None) -> None:
            await self._events.put((event, data))
        return record

    async def _wait_for(self, event: str, timeout: float) -> Any:
        deadline = asyncio.get_running_loop().time() + timeout
        while (left := deadline - asyncio.get_running_loop().time()) > 0:
            try:
                name, data = await asyncio.wait_for(self._events.get(), left)
            except TimeoutError:
                return None
            if name == event:
                return data if data is not None else True
        return None

    async def ask(self, question: str, *, timeout: float = 120.0) -> Turn:
        """Send one question and wait for the server to finish the turn (its `task_end`)."""
        loop = asyncio.get_running_loop()
        while not self._events.empty():  # what the chat start sent (settings, a task_end)
            self._events.get_nowait()
        turn = Turn(question=question, user_id=str(uuid.uuid4()))
        started = loop.time()
        message = {
            "id": turn.user_id, "threadId": self.thread_id or "", "type": "user_message", "name": "User",
            "output": question, "createdAt": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        }
        await self._sio.emit("client_message", {"message": message, "fileReferences": []})
        # The turn is the `on_message` run whose parent is this user message: it ends with that
        # run's update_message. (task_end is no guide: the chat start's tasks end at any time.)
        run_id: str | None = None
        deadline = started + timeout
        messages: dict[str, dict[str, Any]] = {}
        while (left := deadline - loop.time()) > 0:
            try:
                name, data = await asyncio.wait_for(self._events.get(), left)
            except TimeoutError:
                break
            if not isinstance(data, dict):
                turn.events.append(name)
                continue
            turn.events.append(f"{name}:{data.get('type')}:{len(data.get('output') or '')}")
            if name == "first_interaction" and data.get("thread_id"):
                self.thread_id = data["thread_id"]
            elif name == "new_message" and data.get("type") == "run" and data.get("parentId") == turn.user_id:
                run_id = data["id"]
            elif name == "update_message" and run_id is not None and data.get("id") == run_id:
                break
            elif name in ("new_message", "update_message") and data.get("type") == "assistant_message":
                if data.get("output"):
                    turn.shown.append(str(data["output"]))
                ours = run_id is not None and data.get("parentId") == run_id
                error = data.get("parentId") is None and _metadata(data).get("error")
                if ours or error or data.get("id") in messages:
                    messages.setdefault(data["id"], {}).update({k: v for k, v in data.items() if v is not None})
        turn.seconds = loop.time() - started
        shown = [m for m in messages.values() if (m.get("output") or "").strip()]
        if shown:
            last = shown[-1]
            turn.answer_id, turn.answer = last["id"], last["output"]
            turn.error = bool(_metadata(last).get("error"))
        else:
            turn.error = True
        self.turns.append(turn)
        return turn

    async def close(self) -> None:
        if self._sio is not None:
            with contextlib.suppress(Exception):
                await self._sio.disconnect()
        if self._http is not None:
            await self._http.close()


def _metadata(step: dict[str, Any]) -> dict[str, Any]:
    metadata = step.get("metadata") or {}
    if isinstance(metadata, str):
        with contextlib.suppress(ValueError):
            metadata = json.loads(metadata)
    return metadata if isinstance(metadata, dict) else {}


def persisted(db_url: str, sessions: list[WsSession]) -> dict[str, Any]:
    """Read every turn back from the app's history (ui.steps): the question under the id the
    client sent, and the answer it was shown under the id it was shown with, in the same thread."""
    import psycopg

    ids = [t.user_id for s in sessions for t in s.turns] + [t.answer_id for s in sessions for t in s.turns if t.answer_id]
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            'SELECT "id", "threadId", "type", coalesce("output", \'\') FROM ui.steps WHERE "id" = ANY(%s)', (ids,)
        ).fetchall()
    steps = {r[0]: r for r in rows}
    lost: list[str] = []
    for session in sessions:
        for turn in session.turns:
            question = steps.get(turn.user_id)
            if question is None or question[3] != turn.question or question[1] != session.thread_id:
                why = "missing" if question is None else f"stored in thread {question[1]} as {question[3][:40]!r}"
                lost.append(f"{session.thread_id}: question {turn.question!r} ({turn.user_id}: {why})")
            if turn.answer_id is None:
                continue
            answer = steps.get(turn.answer_id)
            if answer is None or not answer[3].strip() or answer[1] != session.thread_id:
                why = "missing" if answer is None else f"stored in thread {answer[1]} as {answer[3][:40]!r}"
                lost.append(f"{session.thread_id}: answer to {turn.question!r} ({turn.answer_id}: {why})")
    return {"checked": len(ids), "lost": lost[:20], "lost_count": len(lost)}
