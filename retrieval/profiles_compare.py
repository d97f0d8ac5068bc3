"""The course's side-by-side view of embedding profiles for one title: per profile and metric the
most, the median and the least similar film, the top k, and the charts (PNG) that go with them."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from retrieval.profiles import Profile
from retrieval.profiles_store import similar_to_id
from retrieval.types import Metric, MovieHit


def _row(hit: MovieHit) -> dict[str, Any]:
    return {"id": hit.id, "title": hit.title, "year": hit.year, "score": round(hit.score, 6)}


def compare(
    engine: Engine, anchor: int, profiles: Sequence[Profile], metrics: Sequence[Metric], *, k: int = 10,
) -> dict[str, dict[str, Any]]:
    """`{profile: {metric: {most, median, least, top: [...], scores: [...]}}}` for row `anchor`.

    The median is the middle film of the ranking (the lower middle for an even count), as the
    course shows it; `scores` holds every other film's score, best first (for the histogram).
    """
    out: dict[str, dict[str, Any]] = {}
    for profile in profiles:
        per_metric: dict[str, Any] = {}
        for metric in metrics:
            ranked = similar_to_id(engine, profile, anchor, metric=metric, k=None)
            if not ranked:
                per_metric[metric] = {"most": None, "median": None, "least": None, "top": [], "scores": []}
                continue
            per_metric[metric] = {
                "most": _row(ranked[0]),
                "median": _row(ranked[(len(ranked) - 1) // 2]),
                "least": _row(ranked[-1]),
                "top": [_row(h) for h in ranked[:k]],
                "scores": [round(h.score, 6) for h in ranked],
            }
        out[profile.name] = per_metric
    return out


def public(result: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The `--json` shape: the result without the full score lists."""
    return {p: {m: {k: v for k, v in cell.items() if k != "scores"} for m, cell in per.items()}
            for p, per in result.items()}


def markdown(title: str, result: dict[str, dict[str, Any]]) -> str:
    """The three tables of the course (most / median / least), one row per profile and metric."""
    lines = [f"# Embedding profiles compared for {title}", ""]
    for which in ("most", "median", "least"):
        lines += [f"## {which.capitalize()} similar", "", "| profile | metric | film | score |",
                  "|---|---|---|---:|"]
        for profile, per in result.items():
            for metric, cell in per.items():
                row = cell[which]
                film = f"{row['title']} ({row['year']})" if row and row["year"] else (row or {}).get("title", "—")
                lines.append(f"| {profile} | {metric} | {film} | {row['score']:.3f} |" if row else
                             f"| {profile} | {metric} | — | — |")
        lines.append("")
    lines += ["## Top matches", ""]
    for profile, per in result.items():
        for metric, cell in per.items():
            tops = ", ".join(f"{t['title']} {t['score']:.3f}" for t in cell["top"])
            lines.append(f"- **{profile} / {metric}**: {tops}")
    return "\n".join(lines) + "\n"


def write_charts(title: str, result: dict[str, dict[str, Any]], out: Path, *, metric: str = "cosine") -> list[Path]:
    """top_k.png (a panel per profile), histogram.png (score distribution per profile, on `metric`)
    and metrics.png (most / median / least score per profile and metric)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    names = list(result)
    shown = metric if all(metric in result[p] for p in names) else next(iter(result[names[0]]))
    paths: list[Path] = []

    fig, axes = plt.subplots(1, len(names), figsize=(5.5 * len(names), 4.8), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        top = result[name][shown]["top"]
        ax.barh([f"{t['title']} ({t['year'] or '?'})"[:38] for t in top][::-1],
                [t["score"] for t in top][::-1], color="#4C72B0")
        ax.set_title(f"{name} ({shown})")
        ax.set_xlabel("similarity")
        ax.tick_params(axis="y", labelsize=8)
    fig.suptitle(f"Top matches for {title}")
    fig.tight_layout()
    paths.append(_save(fig, out / "top_k.png"))

    fig, axes = plt.subplots(1, len(names), figsize=(4.5 * len(names), 3.6), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        ax.hist(result[name][shown]["scores"], bins=30, color="#55A868")
        ax.set_title(f"{name} ({shown})")
        ax.set_xlabel("similarity to " + title[:30])
        ax.set_ylabel("films")
    fig.tight_layout()
    paths.append(_save(fig, out / "histogram.png"))

    metrics = list(result[names[0]])
    fig, axes = plt.subplots(1, len(metrics), figsize=(3.6 * len(metrics), 3.6), squeeze=False)
    for ax, m in zip(axes[0], metrics, strict=True):
        width = 0.8 / len(names)
        for i, name in enumerate(names):
            cell = result[name][m]
            values = [cell[w]["score"] if cell[w] else 0.0 for w in ("most", "median", "least")]
            ax.bar([x + i * width for x in range(3)], values, width, label=name)
        ax.set_xticks([x + 0.4 - width / 2 for x in range(3)], ["most", "median", "least"])
        ax.set_title(m)
    axes[0][0].legend(fontsize=7)
    fig.suptitle(f"Scores by metric for {title}")
    fig.tight_layout()
    paths.append(_save(fig, out / "metrics.png"))
    return paths


def _save(fig: Any, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def write_report(title: str, result: dict[str, dict[str, Any]], out: Path) -> list[Path]:
    """compare.json, compare.md and the charts under `out`."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "compare.json").write_text(json.dumps(public(result), indent=2, ensure_ascii=False) + "\n")
    (out / "compare.md").write_text(markdown(title, result))
    return [out / "compare.json", out / "compare.md", *write_charts(title, result, out)]
