""""Compare profiles for X" in the chat: the course's most / median / least table and the charts
for one title, from the same code as `movie-rag compare` (retrieval/profiles_compare.py).

The chat UI (chatbot/app.py) sends it when a message asks for it, from a starter, or from the
"Compare embedding profiles" button under a "movies like X" answer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from chatbot.markup import escape_markdown

UI_METRICS: tuple[str, ...] = ("cosine", "hamming")
"""Metrics the chat shows: the default and its binary-quantized counterpart (the CLI shows all)."""
UI_K = 5
"""Top matches per profile in the chart."""

_REQUEST = re.compile(
    r"^\s*compare\s+(?:the\s+)?(?:embedding\s+)?(?:profiles|models|embeddings)\s+(?:for|of|on)\s+"
    r"(?P<title>.+?)\s*[?.!]*\s*$",
    re.IGNORECASE,
)


def compare_request(message: str) -> str | None:
    """The title in "compare profiles for X" (also "compare embedding models on X"), else None."""
    m = _REQUEST.match(message)
    if not m:
        return None
    title = m.group("title").strip().strip("\"'“”‘’*_")
    return title or None


def title_problem(exc: LookupError) -> str:
    """What the chat says for a title the catalog cannot pin down (the CLI's --year advice does
    not apply in a chat): the candidates, and how to ask for one."""
    from retrieval.types import AmbiguousTitle

    if isinstance(exc, AmbiguousTitle):
        listed = "; ".join(f"{t} ({y})" if y else str(t) for _, t, y in exc.candidates)
        _, t, y = exc.candidates[0]
        example = starter(f"{t} ({y})" if y else str(t))
        return f"{len(exc.candidates)} films are titled {exc.title!r}: {listed}. Say which, e.g. \u201c{example}\u201d."
    return str(exc)


def starter(title: str) -> str:
    """The message the chat's compare starter sends (compare_request reads it back)."""
    return f"Compare profiles for {title}"


@dataclass(frozen=True, kw_only=True)
class CompareView:
    label: str
    """The film as shown: "The Incredibles (2004)"."""
    markdown: str
    """The message: one table (profile, metric, most, median, least) and the top matches."""
    charts: tuple[Path, ...]
    """top_k.png, histogram.png, metrics.png."""


def profiles_with_vectors(engine: Engine) -> list[Any]:
    from retrieval import profiles, profiles_store

    return [p for p in profiles.PROFILES.values() if profiles_store.counts(engine, p)[0]]


def compare_view(
    engine: Engine, title: str, out: Path, *, year: int | None = None,
    metrics: Sequence[str] = UI_METRICS, k: int = UI_K,
) -> CompareView:
    """Compare every profile whose vectors are stored for one title (blocking). Raises
    retrieval.types.UnknownTitle / AmbiguousTitle for a title the catalog cannot pin down."""
    from retrieval.profiles_compare import compare, write_charts
    from retrieval.search import PgCatalog

    anchor, found, found_year = PgCatalog(engine, embedder=None).resolve(title, year)  # type: ignore[arg-type]
    label = f"{found} ({found_year})" if found_year else found
    chosen = profiles_with_vectors(engine)
    result = compare(engine, anchor, chosen, metrics, k=k)  # type: ignore[arg-type]
    charts = tuple(write_charts(label, result, out))
    return CompareView(label=label, markdown=view_markdown(label, result), charts=charts)


def _film(row: dict[str, Any] | None) -> str:
    if not row:
        return "—"
    name = f"{row['title']} ({row['year']})" if row.get("year") else str(row["title"])
    return f"{escape_markdown(name)} {row['score'] * 100:.0f}\u00a0%"  # the % never wraps alone


def view_markdown(label: str, result: dict[str, dict[str, Any]]) -> str:
    """The course's three tables as one (a row per profile and metric), then the top matches."""
    from retrieval.profiles import PROFILES

    lines = [f"**Embedding profiles compared for {escape_markdown(label)}**", "",
             "| profile | metric | most similar | median | least similar |", "|---|---|---|---|---|"]
    for name, per in result.items():
        for metric, cell in per.items():
            lines.append(f"| {escape_markdown(name)} | {metric} | {_film(cell['most'])} | "
                         f"{_film(cell['median'])} | {_film(cell['least'])} |")
    lines.append("")
    for name, per in result.items():
        first = next(iter(per.values()))
        tops = ", ".join(escape_markdown(t["title"]) for t in first["top"])
        model = PROFILES[name].model_name if name in PROFILES else name
        lines.append(f"- **{escape_markdown(name)}** ({escape_markdown(model)}, {next(iter(per))}): {tops}")
    if len(result) == 1:
        lines += ["", "*Only the default profile has vectors; `movie-rag profiles embed wordllama` adds another.*"]
    return "\n".join(lines)


def compare_pngs(engine: Engine, title: str, *, year: int | None = None) -> tuple[CompareView, list[tuple[str, bytes]]]:
    """`compare_view` with the charts read into memory (name, PNG bytes); nothing left on disk."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="movie-rag-compare-") as tmp:
        view = compare_view(engine, title, Path(tmp), year=year)
        return view, [(p.stem, p.read_bytes()) for p in view.charts]
