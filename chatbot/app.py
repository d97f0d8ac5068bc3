"""The Chainlit chat app, a thin shell over `chatbot.api.Chatbot` (run it with `movie-rag chat`).

Chainlit loads this file as a script and registers the callbacks below as it is imported, so
the module reads the settings once at import (auth has to be chosen before the server starts);
everything heavy (database, embedder, models) opens on first use.

- Answers stream from `Chatbot.astream`; each graph node becomes a collapsible step.
- The LangGraph thread id is the Chainlit thread id, so a resumed chat keeps its follow-ups.
- History and thumbs live in Postgres (schema `ui`, see chatbot/store.py).
- Without a password (MOVIE_RAG_PASSWORD) a header-auth callback signs everyone in as the local
  user: Chainlit keeps history only for an authenticated user.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from typing import Any

import chainlit as cl
import chainlit.server as cl_server
from chainlit.input_widget import Select, Slider, Switch, TextInput

from chatbot import compare_view, landing, render
from chatbot.answer import Answer, AnswerEvent, StepEvent, TokenEvent
from chatbot.settings import Settings, SettingsError
from retrieval.types import METRICS

log = logging.getLogger("movie_rag.app")

AUTHOR = landing.APP_NAME
"""The assistant's name on its messages (its avatar is public/avatars/marquee.svg)."""
LOCAL_USER = "local"


def _load_settings() -> tuple[Settings | None, str | None]:
    try:
        return Settings.from_env(), None
    except SettingsError as exc:
        return None, str(exc)


SETTINGS, SETTINGS_ERROR = _load_settings()


class _Runtime:
    """Process-wide state: one Chatbot (opened on first use), cascades per model order, and a
    sync engine for the UI tables."""

    def __init__(self, settings: Settings | None) -> None:
        self.settings = settings
        self.bot: Any = None
        self.engine: Any = None
        self.cascades: dict[tuple[str, ...], Any] = {}
        self.facts: landing.CatalogFacts | None = None
        self._lock: asyncio.Lock | None = None

    def require_settings(self) -> Settings:
        if self.settings is None:
            raise SettingsError(SETTINGS_ERROR or "The settings could not be read.")
        return self.settings

    async def chatbot(self) -> Any:
        if self.bot is not None:
            return self.bot
        settings = self.require_settings()
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self.bot is None:
                from chatbot.api import Chatbot

                self.bot = await Chatbot.open(settings)
        return self.bot

    def ui_engine(self) -> Any:
        """The catalog's engine, with the UI tables created (blocking; call in a thread)."""
        if self.engine is None:
            from chatbot import store, wiring

            engine = wiring.engine(self.require_settings())
            store.ensure_ui_schema(engine)
            self.engine = engine
        return self.engine

    async def deps_for(self, models: tuple[str, ...], owner: str) -> Any:
        """Deps for one person's question: the drafting prompt shows `owner`'s own verified SQL
        examples (and promoted ones), and the cascade tries `models` in order."""
        from functools import partial

        from chatbot.examples import examples_for
        from chatbot.wiring import VERIFIED_EXAMPLES_IN_PROMPT

        settings = self.require_settings()
        bot = await self.chatbot()
        engine = await asyncio.to_thread(self.ui_engine)
        changes: dict[str, Any] = {
            "examples": partial(examples_for, engine, owner, VERIFIED_EXAMPLES_IN_PROMPT), "owner": owner,
        }
        if settings.llm == "ollama" and models and models != tuple(settings.models):
            cascade = self.cascades.get(models)
            if cascade is None:
                from chatbot.llm import ChatCascade, LLMConfig

                cascade = self.cascades[models] = ChatCascade(LLMConfig.from_settings(settings.with_(models=models)))
            changes["chat"] = cascade
        return bot.with_deps(**changes)

    async def catalog_facts(self) -> landing.CatalogFacts | None:
        """What the landing page says about the catalog (read once); None if it cannot be read."""
        if self.facts is None:
            try:
                engine = await asyncio.to_thread(self.ui_engine)
                self.facts = await asyncio.to_thread(landing.catalog_facts, engine)
            except Exception as exc:
                log.warning("could not read the catalog for the landing page: %s", render.describe_error(exc))
                return None
        return self.facts

    async def llm_state(self, models: tuple[str, ...] = ()) -> tuple[bool, str]:
        """(an LLM is up, the one line the UI shows about it)."""
        settings = self.settings
        if settings is None or settings.llm != "ollama":
            return False, "Answering from the catalog (no LLM configured: MOVIE_RAG_LLM=none)."
        try:
            bot = await self.chatbot()
            up = bot.deps.chat is not None and await bot.deps.chat.available()
        except Exception:
            log.warning("could not probe the LLM", exc_info=True)
            up = False
        if not up:
            return False, f"Answering from the catalog: no LLM reachable at {settings.ollama_base_url}."
        shown = list(models or settings.models)
        rest = f" (then {', '.join(shown[1:])})" if len(shown) > 1 else ""
        return True, f"LLM: {shown[0]}{rest}, writing from the catalog rows it is given."

    async def aclose(self) -> None:
        for cascade in self.cascades.values():
            await cascade.aclose()
        self.cascades.clear()
        if self.bot is not None:
            await self.bot.aclose()
            self.bot = None


RUNTIME = _Runtime(SETTINGS)


# --- persistence and auth ------------------------------------------------------------------------


@cl.data_layer
def _data_layer() -> Any:
    """Chainlit's SQLAlchemy data layer on our database; None (no history) if it cannot open."""
    from chatbot import store, wiring

    try:
        RUNTIME.ui_engine()
        return store.open_data_layer(wiring.database_url(RUNTIME.require_settings()))
    except Exception as exc:
        log.warning("chat history is off: %s", render.describe_error(exc))
        return None


if SETTINGS is not None and SETTINGS.auth_password:

    @cl.password_auth_callback
    async def _password_login(username: str, password: str) -> cl.User | None:
        expected = RUNTIME.require_settings().auth_password or ""
        if username.strip() and hmac.compare_digest(password.encode(), expected.encode()):
            return cl.User(identifier=username.strip(), metadata={"provider": "password"})
        return None

else:

    @cl.header_auth_callback
    async def _local_login(headers: Any) -> cl.User | None:
        return cl.User(identifier=LOCAL_USER, display_name="You", metadata={"provider": "local"})


@cl.on_app_shutdown
async def _shutdown() -> None:
    await RUNTIME.aclose()


# --- chat settings -------------------------------------------------------------------------------


METRIC_HELP = (
    "cosine: angle between the embeddings (the default); l2: straight-line distance; inner: dot "
    "product; l1: sum of coordinate differences; hamming / jaccard: on binary vectors (each "
    "coordinate's sign as one bit), fast and coarse."
)


PROFILE_HELP = (
    "Whose vectors rank 'movies like X', plot searches and sets ordered by a phrase ('90s comedies "
    "about friendship'): minilm is the default; the others are "
    "listed by `movie-rag profiles list` (compare them with 'Compare profiles for <title>'). "
    "blend (the default when MovieLens ratings are loaded): 'movies like X' by content, genres and "
    "what the same MovieLens users liked."
)


def _settings_widgets(
    current: dict[str, Any], llm_up: bool, llm_line: str, profiles: tuple[str, ...] = (), *, rated: bool = False,
) -> list[Any]:
    """The settings panel; what needs an LLM is disabled, with the reason, while none is up. The
    profile picker shows only when a profile besides the default has vectors (`profiles`) or
    MovieLens ratings are loaded (`rated`: the blend)."""
    s = SETTINGS or Settings()
    why_off = f"Off: {llm_line}" if not llm_up else None
    picker = []
    if profiles or rated:
        from chatbot.deps import BLEND
        from retrieval.profiles import DEFAULT_PROFILE

        names = [DEFAULT_PROFILE, *(p for p in profiles if p != DEFAULT_PROFILE), *([BLEND] if rated else [])]
        chosen = str(current.get("profile") or (BLEND if rated else DEFAULT_PROFILE))  # chatbot.wiring's default
        picker.append(Select(id="profile", label="Embedding profile", values=names,
                             initial_value=chosen if chosen in names else DEFAULT_PROFILE, description=PROFILE_HELP))
    return [*picker,
        Slider(id="k", label="Rows to retrieve (k)", initial=int(current.get("k", s.k)), min=1, max=50, step=1,
               description="How many nearest films a similarity or plot search shows."),
        Select(id="metric", label="Similarity metric", values=list(METRICS),
               initial_value=str(current.get("metric", "cosine")), description=METRIC_HELP),
        Switch(id="sql_mode", label="Let the model draft SQL for structured questions",
               initial=bool(current.get("sql_mode", s.sql_mode)) and llm_up, disabled=not llm_up,
               description=why_off or "For what a query plan cannot express; the SQL is checked and run read-only."),
        TextInput(id="models", label="Model order (comma list, primary first)",
                  initial=str(current.get("models", ", ".join(s.models))), disabled=not llm_up,
                  description=why_off or "The first model answers; the next ones take over on a timeout or error."),
        Switch(id="hybrid", label="Hybrid search (vector + keyword)", initial=bool(current.get("hybrid", True)),
               description="Plot searches mix embedding similarity with keyword matches; off: embeddings only."),
        Switch(id="debug", label="Show each internal stage (debug)", initial=bool(current.get("debug", False)),
               description="Adds the graph's own steps (understand, retrieve, …) under How I found this."),
    ]


async def _send_settings(current: dict[str, Any]) -> None:
    llm_up, llm_line = await RUNTIME.llm_state(tuple(cl.user_session.get("models") or ()))
    facts = await RUNTIME.catalog_facts()
    widgets = _settings_widgets(current, llm_up, llm_line, facts.profiles if facts else (), rated=bool(facts and facts.rated))
    values = await cl.ChatSettings(widgets).send()
    _remember_settings(values)


def _remember_settings(values: dict[str, Any]) -> str | None:
    """Validate and keep the settings for the next question; the error sentence if invalid."""
    try:
        options, models = render.parse_chat_settings(values, default_models=(SETTINGS or Settings()).models)
    except ValueError as exc:
        return str(exc)
    cl.user_session.set("options", options)
    cl.user_session.set("models", list(models))
    return None


@cl.on_settings_update
async def _settings_changed(values: dict[str, Any]) -> None:
    problem = _remember_settings(values)
    if problem:
        await cl.Message(content=f"**Settings not applied:** {render.escape_markdown(problem)}", author=AUTHOR).send()


# --- chat lifecycle ------------------------------------------------------------------------------


@cl.set_starters
async def _starters(user: Any = None, language: Any = None) -> list[cl.Starter]:
    """Questions about films that are in the loaded catalog (none while it cannot be read)."""
    facts = await RUNTIME.catalog_facts()
    return [cl.Starter(label=label, message=message) for label, message in landing.starters(facts)] if facts else []


@cl_server.app.get("/movie-rag/about")
async def _about() -> dict[str, Any]:
    """The landing line (public/movie-rag.js shows it above the starters)."""
    facts = await RUNTIME.catalog_facts()
    llm_up, llm_line = await RUNTIME.llm_state()
    line = landing.description(facts) if facts else "The catalog database cannot be reached right now."
    return {"name": landing.APP_NAME, "description": line, "llm": llm_line, "llm_up": llm_up}


# Chainlit's catch-all page route was registered first: put ours ahead of it.
cl_server.app.router.routes.insert(0, cl_server.app.router.routes.pop())


@cl.on_chat_start
async def _chat_start() -> None:
    cl.user_session.set("answers", {})
    cl.user_session.set("turns", 0)
    await _send_settings({})


@cl.on_chat_resume
async def _chat_resume(thread: Any) -> None:
    metadata = thread.get("metadata") or {}
    if isinstance(metadata, str):
        import json

        metadata = json.loads(metadata)
    saved = metadata.get("chat_settings") or {}
    cl.user_session.set("answers", {})
    asked = sum(1 for step in thread.get("steps", []) if step.get("type") == "user_message")
    cl.user_session.set("turns", asked)
    await _send_settings(saved if isinstance(saved, dict) else {})


@cl.on_message
async def _on_message(message: cl.Message) -> None:
    """Anything that escapes a turn is one sentence too (Chainlit alone would show str(exc): the
    driver's words, mid-restart)."""
    try:
        await _handle_message(message)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        log.warning("message failed: %r", message.content, exc_info=True)
        await _send_error(exc)


async def _handle_message(message: cl.Message) -> None:
    question = (message.content or "").strip()
    if not question:
        await cl.Message(content="Ask something about your movies.", author=AUTHOR).send()
        return
    if SETTINGS is None:
        await _send_error(SettingsError(SETTINGS_ERROR or "unknown settings problem"))
        return
    facts = RUNTIME.facts
    seed = landing.follow_up_seed(facts) if facts else None
    if (title := compare_view.compare_request(question)) is not None:
        await _compare(title)
        return
    if question == landing.FOLLOW_UP and seed and not cl.user_session.get("turns"):
        await cl.Message(content=f"*Nothing to follow up on yet, so first:* **{render.escape_markdown(seed)}**",
                         author=AUTHOR).send()
        if not await _answer(seed):
            return
    await _answer(question)


@cl.on_feedback
async def _on_feedback(feedback: Any) -> None:
    """Thumbs are stored by the data layer; a thumbs-up on an SQL answer also keeps the question
    and the guard's form of its SQL as this person's verified example (chatbot/examples.py)."""
    from chatbot import examples, store

    answers = cl.user_session.get("answers") or {}
    try:
        engine = await asyncio.to_thread(RUNTIME.ui_engine)
        meta = answers.get(feedback.forId)
        if meta is None:  # a resumed chat: read what the step stored
            stored = await asyncio.to_thread(store.step_metadata, engine, feedback.forId)
            meta = stored.get("answer") or stored
        if feedback.value == 1 and meta.get("sql") and meta.get("question"):
            await asyncio.to_thread(
                examples.save_example, engine, owner=_owner(), question=meta["question"], sql=meta["sql"],
                thread_id=feedback.threadId, step_id=feedback.forId,
            )
        elif feedback.value == 0:
            await asyncio.to_thread(examples.remove_example, engine, owner=_owner(), step_id=feedback.forId)
    except Exception:
        log.warning("could not record feedback on %s", feedback.forId, exc_info=True)


# --- one answer ----------------------------------------------------------------------------------


async def _answer(question: str) -> bool:
    """Stream one answer into the chat; False (after showing why) if it failed."""
    options = dict(cl.user_session.get("options") or {})
    turn = _Turn(debug=bool(options.pop("debug", False)))
    try:
        bot = await RUNTIME.chatbot()
        models = tuple(cl.user_session.get("models") or ())
        deps = await RUNTIME.deps_for(models, _owner())
        answer = await turn.stream(bot, question, options, deps)
        await turn.finish(answer, deps.with_options(options))
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        log.warning("question failed: %r", question, exc_info=True)
        await turn.discard()
        await _send_error(exc)
        return False

    msg = turn.message()
    elements = await _answer_elements(answer, (turn.details.get("retrieve") or {}).get("total"))
    msg.content = render.answer_markdown(answer, sources=not elements, view=render.presentation(answer))
    msg.elements = elements
    msg.actions = _compare_actions(answer, (turn.details.get("understand") or {}).get("anchors") or [])
    msg.metadata = {
        "question": question, "sql": _accepted_draft(answer), "executed_sql": answer.sql,
        "route": answer.route, "model": answer.model,
    }
    await msg.send()
    # Chainlit puts the thumbs on the run step (on_message) that holds the message: keep the
    # answer's facts under both ids, and on the run step so they are stored with it.
    answers = cl.user_session.get("answers") or {}
    answers[msg.id] = msg.metadata
    run = cl.context.current_run
    if run is not None:
        answers[run.id] = msg.metadata
        run.metadata = {**(run.metadata or {}), "answer": msg.metadata}
    cl.user_session.set("answers", answers)
    turns = int(cl.user_session.get("turns") or 0)
    cl.user_session.set("turns", turns + 1)
    if turns == 0:
        await _name_thread(answer, (turn.details.get("understand") or {}).get("anchors") or [], question)
    return True


async def _name_thread(answer: Answer, anchors: list[dict[str, Any]], question: str) -> None:
    """Name the chat from what its first answer found (render.thread_title), numbered when
    this person already has a chat of that name; the sidebar shows it at once."""
    from chainlit.data import get_data_layer

    from chatbot import store

    layer = get_data_layer()
    user = cl.user_session.get("user")
    thread_id = cl.context.session.thread_id
    if layer is None or user is None:
        return
    title = render.thread_title(answer, anchors, question)
    try:
        engine = await asyncio.to_thread(RUNTIME.ui_engine)
        title = await asyncio.to_thread(store.unique_title, engine, user.identifier, thread_id, title)
    except Exception:
        log.warning("could not compare chat names; naming it %r", title, exc_info=True)
    await layer.update_thread(thread_id, name=title)
    await cl.context.emitter.emit("first_interaction", {"interaction": title, "thread_id": thread_id})


async def _answer_elements(answer: Answer, total: Any = None) -> list[Any]:
    """One primary view per answer kind (render.presentation): cards for a few films, an
    unfolded table with the count for a long set, the text alone for facts; the rows table is
    always one click away, and every card and row carries its citation number."""
    if not answer.rows:
        return []
    numbers = render.citation_numbers(answer)
    kind = render.presentation(answer)
    elements: list[Any] = []
    if kind == "cards":
        cards = render.movie_cards(answer.rows, numbers, limit=render.CARDS_UP_TO)
        stars = await asyncio.to_thread(_stars)
        for card in cards:
            card["mine"] = stars.get(card["id"])
        elements.append(cl.CustomElement(name="MovieCards", props={"movies": cards}, display="inline"))
    table = render.rows_table(answer.rows, numbers, open_=kind == "table", total=total)
    elements.append(cl.CustomElement(name="RowsTable", props=table, display="inline"))
    return elements


def _accepted_draft(answer: Answer) -> str | None:
    """The model's draft the guard accepted and that ran (a thumbs-up keeps it in the guard's form)."""
    return answer.sql_draft if answer.sql else None


# --- embedding profiles side by side (chatbot/compare_view.py) ------------------------------------


def _compare_actions(answer: Answer, anchors: list[dict[str, Any]]) -> list[cl.Action]:
    """A "Compare embedding profiles" button under a "movies like X" answer, when a profile
    besides the default has vectors."""
    facts = RUNTIME.facts
    if answer.route != "similar" or len(anchors) != 1 or not (facts and facts.profiles):
        return []
    anchor = anchors[0]
    return [cl.Action(name="compare_profiles", label="Compare embedding profiles", icon="chart-column",
                      payload={"title": anchor.get("title"), "year": anchor.get("year")},
                      tooltip="The most, median and least similar film per profile and metric, with charts")]


@cl.action_callback("compare_profiles")
async def _compare_action(action: cl.Action) -> None:
    payload = action.payload or {}
    if isinstance(payload.get("title"), str):
        year = payload.get("year")
        await _compare(payload["title"], year if isinstance(year, int) else None)


async def _compare(title: str, year: int | None = None) -> None:
    """The course's table and charts for one title, as a message with the PNGs inline."""
    from retrieval.types import AmbiguousTitle, UnknownTitle

    try:
        engine = await asyncio.to_thread(RUNTIME.ui_engine)
        view, pngs = await asyncio.to_thread(compare_view.compare_pngs, engine, title, year=year)
    except (UnknownTitle, AmbiguousTitle) as exc:
        await cl.Message(content=render.escape_markdown(compare_view.title_problem(exc)), author=AUTHOR).send()
        return
    except Exception as exc:
        log.warning("compare failed for %r", title, exc_info=True)
        await _send_error(exc)
        return
    images = [cl.Image(content=data, name=name, mime="image/png", display="inline", size="large")
              for name, data in pngs]
    await cl.Message(content=view.markdown, elements=images, author=AUTHOR).send()


# --- a person's own stars (retrieval/users.py: person_ratings) ------------------------------------


def _owner() -> str:
    """Whose stars these are: the signed-in user (everyone is the local user with auth off), or
    the thread when there is no user."""
    user = cl.user_session.get("user")
    identifier = getattr(user, "identifier", None)
    return f"user:{identifier}" if identifier else f"thread:{cl.context.session.thread_id}"


def _stars() -> dict[int, float]:
    """The person's own stars for the cards; none (the cards still show) when the database is
    away: stars decorate an answer, they must not fail it or show the driver's words."""
    from retrieval.users import ratings_of

    try:
        return ratings_of(RUNTIME.ui_engine(), _owner())
    except Exception as exc:
        log.warning("cards shown without the person's stars: %s", render.describe_error(exc))
        return {}


@cl.action_callback("rate_movie")
async def _rate_movie(action: cl.Action) -> None:
    """Stars clicked on a movie card (MovieCards.jsx); 0 forgets the rating."""
    from retrieval.users import rate

    payload = action.payload or {}
    try:
        movie_id, stars = int(payload["movie_id"]), float(payload["rating"])
    except (KeyError, TypeError, ValueError):
        log.warning("ignored a malformed rating: %r", payload)
        return
    if not 0 <= stars <= 5:
        return
    await asyncio.to_thread(rate, RUNTIME.ui_engine(), _owner(), movie_id, stars or None)


class _Turn:
    """One question's stream: one "How I found this" step (opened first, so it sits above the
    answer; filled in when the answer is done), the answer message from its first token. With
    the debug setting on, each graph node also shows as a child step under its own name."""

    def __init__(self, *, debug: bool = False) -> None:
        self.msg: cl.Message | None = None
        self.found: cl.Step | None = None
        self.debug = debug
        self.raw = ""
        self.shown = ""
        self.details: dict[str, dict[str, Any]] = {}
        self.elapsed: dict[str, float] = {}

    def message(self) -> cl.Message:
        if self.msg is None:
            from chainlit.utils import utc_now

            self.msg = cl.Message(content="", author=AUTHOR)
            # Ordered after the step that came before the first token (the UI sorts by time).
            self.msg.created_at = utc_now()
        return self.msg

    async def stream(self, bot: Any, question: str, options: dict[str, Any], deps: Any) -> Answer:
        final: Answer | None = None
        thread_id = cl.context.session.thread_id
        parent = cl.context.current_step
        self.found = cl.Step(name=render.HOW_FOUND, type="tool", show_input=False, parent_id=parent.id if parent else None)
        self.found.output = "Reading the question…"
        await self.found.send()
        async for event in bot.astream(question, thread_id=thread_id, options=options, deps=deps):
            if isinstance(event, TokenEvent):
                await self._token(event.text)
            elif isinstance(event, StepEvent):
                self.details[event.node] = dict(event.detail)
                self.elapsed[event.node] = self.elapsed.get(event.node, 0.0) + event.elapsed_ms
                if event.node == "restart":
                    self.raw, self.shown = "", "…"
                    if self.msg is not None:
                        await self.msg.stream_token(self.shown, is_sequence=True)
                if self.debug:
                    await _send_step(event, self.found.id)
            elif isinstance(event, AnswerEvent):
                final = event.answer
        if final is None:
            raise RuntimeError("the answer stream ended without an answer")
        return final

    async def finish(self, answer: Answer, used: Any) -> None:
        """Fill in "How I found this" with what ran (`used`: the Deps the question ran with)."""
        if self.found is None:
            return
        self.found.output = render.how_found(
            answer, self.details, k=int(getattr(used, "k", 8)), metric=str(getattr(used, "metric", "cosine")),
            hybrid=bool(getattr(used, "hybrid", True)), elapsed_ms=self.elapsed, profile=getattr(used, "profile", None),
        )
        await self.found.update()

    async def discard(self) -> None:
        for item in (self.msg, self.found):
            if item is not None:
                await item.remove()

    async def _token(self, text: str) -> None:
        msg = self.message()
        self.raw += text
        safe = render.safe_markdown(self.raw)
        if self.shown and safe.startswith(self.shown):
            await msg.stream_token(safe[len(self.shown):])
        else:  # the first token, or a late character changed how earlier text is defused
            await msg.stream_token(safe, is_sequence=True)
        self.shown = safe


async def _send_step(event: StepEvent, parent_id: str) -> None:
    """The debug view: one graph node, under its internal name."""
    step = cl.Step(name=event.node, type="tool", show_input=False, parent_id=parent_id)
    step.output = render.step_markdown(event.node, event.detail) + f"\n\n*{event.elapsed_ms:.0f} ms*"
    await step.send()


async def _send_error(exc: BaseException) -> None:
    """The error as one sentence, outside the question's run so it carries no thumbs (Chainlit
    puts feedback buttons on the last assistant message inside a run)."""
    msg = cl.Message(content=render.describe_error(exc, outage=RUNTIME.engine is not None), author=AUTHOR)
    msg.parent_id = None
    msg.metadata = {"error": True}
    await msg.send()
