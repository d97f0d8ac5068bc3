"""What the chat UI shows, as pure functions: one text per graph step, the answer, the rows table
and the movie-card props, all built on chatbot/markup.py's safe markdown (re-exported here). No
Chainlit import, so tests need no server.

Safety rule: text that comes from the catalog (titles, summaries, anything a model copied from
them) never becomes a live link, image or HTML. Answer text keeps its formatting (bold, lists,
code) but loses link/image syntax and autolinked URLs; table and card text is escaped outright.
Posters are shown only as elements, from http(s) image URLs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from chatbot.answer import Answer, Fallback
from chatbot.extractive import NO_LLM_CONFIGURED_NOTE
from chatbot.fields import cut_row, cut_value
from chatbot.llm import NO_LLM_NOTE
from chatbot.markup import (  # noqa: F401  (code_spans, escape_line, live_markup: re-exported)
    code_spans,
    escape_line,
    escape_markdown,
    fenced,
    live_markup,
    safe_markdown,
)

NO_LLM_LINE = "Answering from the catalog without an LLM"
"""The visible line under an answer written without a model (issue: not an error)."""

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".gif", ".avif")

def poster_url(url: object) -> str | None:
    """`url` when it is an http(s) URL of an image file, else None (never rendered)."""
    if not isinstance(url, str) or not url or any(c.isspace() or c in "\"'<>\\" for c in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return url if parts.path.lower().endswith(IMAGE_EXTENSIONS) else None


def title_year(title: object, year: object) -> str:
    return f"{title} ({year})" if year else str(title)


# --- steps -------------------------------------------------------------------------------------


def _rows_list(hits: Sequence[Mapping[str, Any]], limit: int = 12) -> str:
    names = [escape_markdown(title_year(cut_value("title", h.get("title")), h.get("year"))) for h in hits[:limit] if h.get("title")]
    more = f"; … {len(hits) - limit} more" if len(hits) > limit else ""
    return "; ".join(names) + more


def _fallbacks(fallbacks: Iterable[Fallback | Mapping[str, Any]]) -> str:
    """Answer.fallbacks (objects) or a step's detail (the same, as plain data) in one line."""
    pairs = ((f.model, f.reason) if isinstance(f, Fallback) else (f.get("model"), f.get("reason")) for f in fallbacks)
    return "; ".join(f"{escape_markdown(model)} ({escape_markdown(reason)})" for model, reason in pairs)


def _filters(filters: Mapping[str, Any]) -> str:
    bits = []
    lo, hi = filters.get("year_min"), filters.get("year_max")
    if lo or hi:
        bits.append(f"years {lo or '…'}–{hi or '…'}")
    if filters.get("genres"):
        bits.append("genres " + ", ".join(map(str, filters["genres"])))
    if filters.get("director"):
        bits.append(f"director {filters['director']}")
    if filters.get("actors"):
        bits.append("actors " + ", ".join(map(str, filters["actors"])))
    return escape_markdown("; ".join(bits)) if bits else "none"


def step_markdown(node: str, detail: Mapping[str, Any]) -> str:
    """What one graph node did, for its collapsible step."""
    lines: list[str] = []
    if node == "understand":
        lines.append(f"**Route:** {escape_markdown(detail.get('route'))}")
        if detail.get("query"):
            lines.append(f"**Search text:** {escape_markdown(detail['query'])}")
        if detail.get("anchors"):
            lines.append("**Titles named:** " + _rows_list(detail["anchors"]))
        lines.append(f"**Filters:** {_filters(detail.get('filters') or {})}")
        sort = detail.get("sort")
        if sort:
            order = "descending" if sort.get("desc") else "ascending"
            lines.append(f"**Sort:** {escape_markdown(sort.get('key'))} ({order})"
                         + (f", keep {detail['limit']}" if detail.get("limit") else ""))
        lines.append(f"**LLM reachable:** {'yes' if detail.get('llm_up') else 'no'} · "
                     f"**SQL path:** {'yes' if detail.get('use_sql') else 'no'}")
    elif node == "embed":
        dims = detail.get("dimensions")
        lines.append(f"Embedded the search text ({dims} dimensions)." if dims else "Embedded the search text.")
    elif node == "retrieve":
        hits = detail.get("hits") or []
        lines.append(f"**{len(hits)} row{'s' if len(hits) != 1 else ''} retrieved**" + (": " + _rows_list(hits) if hits else "."))
    elif node == "draft_sql":
        if detail.get("sql_draft"):
            lines += ["**Drafted SQL:**", fenced(detail["sql_draft"])]
        else:
            lines.append("No SQL was drafted.")
        if detail.get("fallbacks"):
            lines.append("**Fallbacks:** " + _fallbacks(detail["fallbacks"]))
    elif node == "check_sql":
        if detail.get("verdict") == "accepted":
            lines.append("**Guard verdict:** accepted")
            checked = detail.get("sql_readable") or detail.get("sql_checked")
            if checked:
                lines += ["**SQL that will run:**", fenced(checked)]
        else:
            lines.append(f"**Guard verdict:** rejected — {escape_markdown(detail.get('sql_reason'))}")
    elif node == "run_sql":
        hits = detail.get("hits") or []
        if detail.get("sql"):
            lines += ["**Executed SQL:**", fenced(detail["sql"])]
            lines.append(f"**{len(hits)} row{'s' if len(hits) != 1 else ''}**" + (": " + _rows_list(hits) if hits else ""))
        else:
            lines.append("The drafted SQL gave no usable rows; falling back to vector search.")
    elif node == "generate":
        model = detail.get("model")
        lines.append(f"**Model:** {escape_markdown(model)}" if model else "**Model:** none (answer written from the rows)")
        if detail.get("fallbacks"):
            lines.append("**Fallbacks:** " + _fallbacks(detail["fallbacks"]))
    elif node == "check_citations":
        cited = detail.get("citations") or []
        lines.append("**Cited:** " + (_rows_list(cited, limit=20) if cited else "none"))
        for note in detail.get("notes") or []:
            lines.append(f"*{escape_markdown(note)}*")
    elif node == "restart":
        lines.append(f"A model failed mid-answer ({escape_markdown(detail.get('reason'))}); the answer starts over.")
    else:
        lines.append(escape_markdown(detail))
    return "\n\n".join(lines)


# --- the answer -------------------------------------------------------------------------------


def answered_without_llm(answer: Answer) -> bool:
    return answer.model is None and any(n in (NO_LLM_NOTE, NO_LLM_CONFIGURED_NOTE) for n in answer.notes)


def citation_numbers(answer: Answer) -> dict[int, int]:
    """Row id -> its number in the Sources line (1-based, in citation order)."""
    numbers: dict[int, int] = {}
    for c in answer.citations:
        numbers.setdefault(c.id, len(numbers) + 1)
    return numbers


_LISTED_ROW = re.compile(r"^\d+\. ")


def unlisted(text: str, view: str) -> str:
    """The extractive answer without its numbered list of rows, for when the cards or the
    table (`view`) show those rows: the lead line keeps (or gains) the count and says where the
    films are; caveats and the SQL stay. The CLI and API keep the full list."""
    lines = text.split("\n")
    kept = [line for line in lines if not _LISTED_ROW.match(line)]
    n = len(lines) - len(kept)
    if not n or not kept:
        return text
    where = "in the table below" if view == "table" else "below"
    first = kept[0].rstrip().removesuffix(":")
    counted = re.search(rf"\b{n}\b", first) is not None
    kept[0] = f"{first}; {where}." if counted else f"{first} — {n} film{'s' if n != 1 else ''}, {where}."
    return "\n".join(kept)


def answer_markdown(answer: Answer, *, sources: bool = True, view: str = "text") -> str:
    """The final message: the safe answer, the no-LLM line, its notes and (unless the cards or
    the rows table show them, with the same numbers) the numbered sources. With `view` cards or
    table, an answer written from the rows leaves its list to that view (each answer once)."""
    text = answer.answer.strip()
    if answer.model is None and view in ("cards", "table"):
        text = unlisted(text, view)
    parts = [safe_markdown(text)]
    if answered_without_llm(answer):
        reason = "LLM turned off" if NO_LLM_CONFIGURED_NOTE in answer.notes else "no LLM reachable"
        parts.append(f"> **{NO_LLM_LINE}** ({reason}).")
    notes = [n for n in answer.notes if n not in (NO_LLM_NOTE, NO_LLM_CONFIGURED_NOTE)]
    parts += [f"*{escape_markdown(n)}*" for n in notes]
    if answer.citations and sources:
        numbers = citation_numbers(answer)
        seen: set[int] = set()
        refs = []
        for c in answer.citations:
            if c.id not in seen:
                seen.add(c.id)
                refs.append(f"\\[{numbers[c.id]}\\] {escape_markdown(title_year(cut_value('title', c.title), c.year))}")
        parts.append("**Sources:** " + " · ".join(refs))
    return "\n\n".join(p for p in parts if p)


# Columns the rows table leaves out (long text, internals).
_HIDDEN_COLUMNS = frozenset({
    "id", "ids", "score", "distance", "summary", "actors", "poster_url", "writers", "embedding", "embedding_text",
})
_PREFERRED_COLUMNS = ("title", "year", "director", "genres", "avg_rating", "num_ratings", "duration_min")
_COLUMN_LABELS = {"avg_rating": "rating", "num_ratings": "ratings", "duration_min": "minutes"}


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value[:4])) + (" …" if len(value) > 4 else "")
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".")
    return " ".join(str(value).split())[:120]


def _ref(numbers: Mapping[int, int], row: Mapping[str, Any]) -> int | None:
    row_id = row.get("id")
    return numbers.get(row_id) if isinstance(row_id, int) else None


def rows_table(
    rows: Sequence[Mapping[str, Any]], numbers: Mapping[int, int] | None = None, *, open_: bool = False,
    total: int | None = None,
) -> dict[str, Any]:
    """Props for the RowsTable element: column labels and string cells (React escapes them);
    `ref` is the row's number in the citations, if cited. Columns empty in every row (ratings
    when none are loaded) are left out; `open` shows the table unfolded (a long set's primary
    view); `total` is how many films matched when more than the rows shown."""
    numbers = numbers or {}
    rows = [cut_row(r) for r in rows]  # chatbot.fields: the prompt's cut, then the cell's own
    keys: list[str] = [k for k in _PREFERRED_COLUMNS if any(k in r for r in rows)]
    for row in rows:
        keys += [k for k in row if k not in keys and k not in _HIDDEN_COLUMNS]
    keys = [k for k in keys if any(_cell(r.get(k)) for r in rows)]
    return {
        "open": open_,
        "total": total if isinstance(total, int) and total > len(rows) else None,
        "columns": [_COLUMN_LABELS.get(k, k) for k in keys],
        "rows": [
            {"ref": _ref(numbers, row), "cells": [_cell(row.get(k)) for k in keys]}
            for row in rows
        ],
    }


def initials(title: str) -> str:
    """Up to two letters for a poster placeholder ("The Dark Knight" -> "DK")."""
    words = [w for w in re.findall(r"[^\W_]+", title) if w.lower() not in ("the", "a", "an")] or re.findall(r"[^\W_]+", title)
    return "".join(w[0] for w in words[:2]).upper() or "?"


def title_hue(title: str) -> int:
    """A stable colour (HSL hue, 0-359) per title for its placeholder."""
    import zlib

    return zlib.crc32(title.encode("utf-8")) % 360


def movie_cards(rows: Sequence[Mapping[str, Any]], numbers: Mapping[int, int] | None = None, limit: int = 12) -> list[dict[str, Any]]:
    """Props for the MovieCards element: plain values (React escapes them), posters vetted,
    cited rows first with their Sources number."""
    numbers = numbers or {}
    cards = []
    for row in map(cut_row, rows):  # chatbot.fields: long titles, names, genres cut
        if not row.get("title"):
            continue
        rating = row.get("avg_rating")
        votes = row.get("num_ratings")
        cards.append({
            "id": row.get("id"),
            "title": str(row["title"]),
            "year": row.get("year"),
            "director": row.get("director"),
            "genres": [str(g) for g in (row.get("genres") or [])][:3],
            "rating": (f"{float(rating):.1f}/5" + (f" ({votes})" if votes else "")) if isinstance(rating, (int, float)) else None,
            "poster": poster_url(row.get("poster_url")),
            "initials": initials(str(row["title"])),
            "hue": title_hue(str(row["title"])),
            "ref": _ref(numbers, row),
        })
    cards.sort(key=lambda c: c["ref"] or len(rows) + 1)  # cited first, in Sources order
    return cards[:limit]


# --- what the UI reads back ---------------------------------------------------------------------


def parse_chat_settings(values: Mapping[str, Any], *, default_models: Sequence[str]) -> tuple[dict[str, Any], tuple[str, ...]]:
    """Graph options (k, metric, sql_mode, hybrid, profile; debug for the UI) and the model order from the chat-settings
    panel; ValueError with a sentence naming the setting when one is unusable."""
    from retrieval.types import METRICS

    options: dict[str, Any] = {}
    if values.get("k") is not None:
        try:
            k = int(float(values["k"]))
        except (TypeError, ValueError):
            raise ValueError(f"Rows to retrieve (k) = {values['k']!r} is not a number; pick 1 to 50.") from None
        if not 1 <= k <= 50:
            raise ValueError(f"Rows to retrieve (k) = {k} is out of range; pick 1 to 50.")
        options["k"] = k
    if values.get("metric") is not None:
        if values["metric"] not in METRICS:
            raise ValueError(f"Similarity metric {values['metric']!r} is unknown; use one of {', '.join(METRICS)}.")
        options["metric"] = values["metric"]
    for key in ("sql_mode", "hybrid", "debug"):
        if values.get(key) is not None:
            options[key] = bool(values[key])
    if values.get("profile") is not None:
        from retrieval.profiles import PROFILES

        if values["profile"] not in (*PROFILES, "blend"):
            raise ValueError(f"Embedding profile {values['profile']!r} is unknown; use one of {', '.join(PROFILES)} or blend.")
        options["profile"] = values["profile"]
    models = tuple(default_models)
    if values.get("models") is not None:
        models = tuple(m.strip() for m in str(values["models"]).split(",") if m.strip())
        if not models:
            raise ValueError("Model order is empty; give a comma list such as llama3.1:8b, llama3.2:1b.")
    return options, models


OUTAGE = "The catalog is restarting; your conversation will be saved when it is back."
"""What the chat says when the database went away after the app had reached it."""


def describe_error(exc: BaseException, *, outage: bool = False) -> str:
    """One readable paragraph for the chat (never a traceback, never the driver's words): what
    failed and what to do. `outage`: the database answered before, so it is restarting."""
    from chatbot.settings import SettingsError
    from retrieval.database import DatabaseError, is_unreachable

    chain: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None and seen not in chain:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    if any(isinstance(e, SettingsError) for e in chain):
        first = next(e for e in chain if isinstance(e, SettingsError))
        return (f"**The configuration has a problem:** {escape_markdown(first)} "
                "Fix it (environment or `.env`) and restart `movie-rag chat`.")
    if isinstance(exc, ValueError) and "question is empty" in str(exc):
        return escape_markdown(exc)
    if outage and is_unreachable(exc):
        return f"{OUTAGE} Ask again in a moment."
    if any(_is_database_error(e) or isinstance(e, DatabaseError) for e in chain):
        # the driver's words go to the log (the caller logs exc), not to the person
        return ("**The catalog database cannot be reached right now.** "
                "Check that PostgreSQL is running (`movie-rag db status`) or that DATABASE_URL is right, "
                "then ask again.")
    return (f"**Something went wrong while answering** ({escape_markdown(type(exc).__name__)}: "
            f"{escape_markdown(_first_line(exc))}). It is logged; please try again or rephrase.")


def _is_database_error(exc: BaseException) -> bool:
    module = type(exc).__module__.split(".")[0]
    if module in ("psycopg", "psycopg_pool", "asyncpg"):
        return True
    if module == "sqlalchemy":
        from sqlalchemy.exc import DBAPIError
        from sqlalchemy.exc import TimeoutError as PoolTimeout

        return isinstance(exc, (DBAPIError, PoolTimeout))
    return isinstance(exc, (ConnectionRefusedError, ConnectionResetError))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    return line[:200]


# --- "How I found this": one collapsible step per answer -------------------------------------------

HOW_FOUND = "How I found this"
"""The one collapsible step under each answer."""

STAGE_WORDS = {
    "understand": "reading the question", "embed": "embedding the text", "retrieve": "searching the catalog",
    "draft_sql": "drafting SQL", "check_sql": "checking the SQL", "run_sql": "running the SQL",
    "generate": "writing the answer", "check_citations": "checking the titles", "restart": "starting over",
}
"""Graph node -> what it did, in people's words (node names only appear in the debug view)."""

_INTENT_WORDS = {
    "list": "every film that matches", "fact": "facts about the titles named", "count": "how many films match",
    "superlative": "the top films by a sort", "similar": "films similar to a title", "search": "a plot or mood search",
    "recommend": "recommendations", "aggregate": "a computation a plan cannot express (drafted SQL)",
    "chitchat": "conversation, no catalog search",
}
_NEAREST = frozenset({"similar", "search", "recommend"})
_FIGURE_WORDS = {"duration_min": "running time", "avg_rating": "rating", "num_ratings": "number of ratings", "year": "release year"}


def _plan_conditions(filters: Mapping[str, Any], prefix: str = "") -> list[str]:
    """The plan's filters (as dumped, non-default fields only) as short phrases."""
    out: list[str] = []
    for key, value in filters.items():
        name = prefix + key.replace("_", " ")
        if key == "either" and isinstance(value, list):
            groups = ["; ".join(_plan_conditions(g)) for g in value if isinstance(g, Mapping)]
            out.append("either " + " | or ".join(f"({g})" for g in groups if g))
        elif isinstance(value, Mapping) and {"min", "max"} & set(value):
            lo, hi = value.get("min"), value.get("max")
            out.append(f"{name} {_cell(lo) if lo is not None else '…'}–{_cell(hi) if hi is not None else '…'}")
        elif isinstance(value, Mapping):
            for how, names in value.items():
                if names:
                    out.append(f"{name} {how.replace('_', ' ')}: {', '.join(map(str, names))}")
        elif key == "exclude_ids":
            out.append(f"leaving out the {len(value)} title{'s' if len(value) != 1 else ''} named")
        elif value not in (None, "", [], ()):
            out.append(f"{name}: {value}")
    return out


def how_found(
    answer: Answer, details: Mapping[str, Mapping[str, Any]], *, k: int, metric: str, hybrid: bool,
    elapsed_ms: Mapping[str, float] | None = None, profile: str | None = None,
) -> str:
    """The plan actually run (conditions, sort, k and metric where they applied), the SQL that
    ran and the timings, as one step's markdown."""
    plan = answer.plan or {}
    intent = str(plan.get("intent") or "")
    group = plan.get("group")
    read_as = _INTENT_WORDS.get(intent, answer.route)
    if isinstance(group, Mapping):
        figure = "number of films" if group.get("field") is None else \
            f"{'total' if group.get('measure') == 'sum' else 'average'} {_FIGURE_WORDS.get(str(group.get('field')), group.get('field'))}"
        top = f", the top {group['top']}" if group.get("top") else ""
        read_as = f"the {figure} per {group.get('by')}{top} (computed by the plan)"
        if isinstance(pick := group.get("pick"), Mapping):
            order = "highest" if pick.get("desc") else "lowest"
            read_as = f"per {group.get('by')}, the films with the {order} {_FIGURE_WORDS.get(str(pick.get('key')), pick.get('key'))}"
    lines = [f"**Read as:** {escape_markdown(read_as)}"]
    if plan.get("scope") == "previous":
        lines[0] += " (within the previous answer's films)"
    conditions = _plan_conditions(plan.get("filters") or {})
    lines.append("**Conditions:** " + (escape_markdown("; ".join(conditions)) if conditions else "none"))
    if plan.get("semantic"):
        lines.append(f"**Described as:** {escape_markdown(plan['semantic'])}")
    sort = plan.get("sort")
    if isinstance(sort, Mapping):
        order = "highest first" if sort.get("desc") else "lowest first"
        keep = f", keeping {plan['limit']}" if plan.get("limit") else ""
        lines.append(f"**Sorted by:** {escape_markdown(_COLUMN_LABELS.get(str(sort.get('key')), sort.get('key')))} ({order}{keep})")
    retrieved = details.get("retrieve") or {}
    if intent in _NEAREST or (not intent and answer.route in ("similar", "semantic")):
        mode = "vector + keyword (hybrid)" if hybrid and intent == "search" else "vector"
        if profile == "blend" and intent == "similar":
            lines.append(f"**Nearest films:** k = {k}, by the blend of content, genres and co-liking")
        else:
            vectors = f", {escape_markdown(profile)} vectors" if profile and profile not in ("minilm", "blend") else ""
            lines.append(f"**Nearest films:** k = {k}, metric {escape_markdown(metric)}, {mode} search{vectors}")
    total = retrieved.get("total")
    if isinstance(total, int) and isinstance(group, Mapping):
        lines.append(f"**Groups:** {total}" + (" (cut at the row cap)" if retrieved.get("capped") else ""))
    elif isinstance(total, int):
        capped = " (cut at the row cap)" if retrieved.get("capped") else ""
        lines.append(f"**Matched:** {total} film{'s' if total != 1 else ''} in the whole catalog{capped}")
    for label, sql in (("SQL that ran (from the plan)", answer.plan_sql), ("SQL that ran (drafted, checked)", answer.sql)):
        if sql:
            lines += [f"**{label}:**", fenced(sql)]
    if answer.sql_draft and answer.sql:
        lines.append(f"*Checked by the SQL guard and run read-only; the model's draft was:*\n\n{fenced(answer.sql_draft)}")
    check = details.get("check_sql") or {}
    if check.get("verdict") == "rejected":
        lines.append(f"**Drafted SQL refused:** {escape_markdown(check.get('sql_reason'))}")
    if answer.model:
        lines.append(f"**Written by:** {escape_markdown(answer.model)}")
    else:
        lines.append("**Written by:** no model; the answer was written from the rows")
    if answer.fallbacks:
        lines.append("**Models that failed first:** " + _fallbacks(answer.fallbacks))
    timings = dict(elapsed_ms or {}) or dict(answer.timings_ms)
    if timings:
        parts = [f"{STAGE_WORDS.get(node, 'other work')} {ms:.0f} ms" for node, ms in timings.items()]
        lines.append(f"**Time:** {sum(timings.values()):.0f} ms — " + escape_markdown(", ".join(parts)))
    return "\n\n".join(lines)


# --- one primary presentation per answer kind ----------------------------------------------------

CARDS_UP_TO = 6
"""Up to this many rows are shown as cards; more as a table with the count."""

Presentation = str  # "text" | "cards" | "table"


def presentation(answer: Answer) -> Presentation:
    """The answer's primary view: the text for facts, counts and chit-chat (rows one click
    away), cards for a few films, a table for a long set."""
    intent = (answer.plan or {}).get("intent")
    if not answer.rows or intent in ("fact", "count", "chitchat", "aggregate"):
        return "text"
    return "cards" if len(answer.rows) <= CARDS_UP_TO else "table"


# --- a thread's title: what its first turn found --------------------------------------------------

TITLE_MAX = 60
_SORT_TITLES = {
    ("avg_rating", True): "Top-rated", ("avg_rating", False): "Lowest-rated",
    ("num_ratings", True): "Most-rated", ("num_ratings", False): "Least-rated",
    ("duration_min", True): "Longest", ("duration_min", False): "Shortest",
    ("year", True): "Newest", ("year", False): "Oldest",
}


def _names_of(filters: Mapping[str, Any], key: str) -> list[str]:
    names = filters.get(key) or {}
    return [str(n) for how in ("all_of", "any_of") for n in (names.get(how) or ())] if isinstance(names, Mapping) else []


def _years(span: Any) -> str | None:
    if not isinstance(span, Mapping):
        return None
    lo, hi = span.get("min"), span.get("max")
    if lo is not None and hi is not None:
        lo, hi = int(lo), int(hi)
        if lo == hi:
            return str(lo)
        return f"{lo}s" if lo % 10 == 0 and hi == lo + 9 else f"{lo}–{hi}"
    if lo is not None:
        return f"since {int(lo)}"
    if hi is not None:
        return f"before {int(hi) + 1}" if not span.get("max_open") else f"before {int(hi)}"
    return None


def thread_title(answer: Answer, anchors: Sequence[Mapping[str, Any]] = (), question: str = "") -> str:
    """A chat's name from what its first turn found — "Films like Alien", "Steven Spielberg
    films, 1990s", "Top-rated Drama films" — not the first message verbatim; the question
    (shortened) only when the plan says nothing nameable (chit-chat, drafted SQL)."""
    plan = answer.plan or {}
    intent = plan.get("intent")
    filters = plan.get("filters") or {}
    titles = [str(a.get("title")) for a in anchors if a.get("title")]
    title = ""
    if intent == "similar" and titles:
        title = "Films like " + " and ".join(titles[:2])
    elif intent == "recommend" and titles:
        title = "Picks for fans of " + " and ".join(titles[:2])
    elif intent == "fact" and titles:
        title = "About " + " and ".join(titles[:2])
    elif intent in ("list", "count", "superlative", "search", "similar", "recommend"):
        directors, genres = _names_of(filters, "directors"), _names_of(filters, "genres")
        people = _names_of(filters, "actors") + _names_of(filters, "people")
        lead = " and ".join(directors[:2]) + " films" if directors else "Films"
        if genres:
            lead = f"{'/'.join(genres[:2])} {lead[0].lower() + lead[1:]}" if not directors else f"{lead} ({'/'.join(genres[:2])})"
        if people:
            lead += " with " + " and ".join(people[:2])
        sort = plan.get("sort")
        if intent == "superlative" and isinstance(sort, Mapping):
            word = _SORT_TITLES.get((str(sort.get("key")), bool(sort.get("desc"))))
            if word:
                lead = f"{word} {lead[0].lower() + lead[1:]}" if not directors else f"{word}: {lead}"
        if intent == "count":
            lead = "How many " + lead[0].lower() + lead[1:]
        semantic = plan.get("semantic")
        if intent in ("search", "recommend") and semantic and lead == "Films":
            lead = f"Films about {semantic}"
        years = _years(filters.get("year"))
        title = f"{lead}, {years}" if years else lead
        if title == "Films":
            title = ""
    if not title:
        title = " ".join(question.split())
    return title if len(title) <= TITLE_MAX else title[: TITLE_MAX - 1].rstrip() + "…"
