"""`make bench` / `movie-rag bench`: speed figures written to bench/results.json and a table.

Each section is a module `eval/bench_<name>.py` with `run(ctx: BenchContext) -> list[Figure]`.
Benchmarks run on a throw-away embedded server so they never touch the user's catalog.
"""

from __future__ import annotations

import importlib
import json
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SECTIONS = ("catalog", "sqlguard", "graph", "plan", "gate", "real_llm", "profiles", "recs")
OPTIONAL_SECTIONS = ("scale",)
"""Sections only `--section NAME` runs (minutes of work: section `scale` builds 100k rows)."""


@dataclass(frozen=True, kw_only=True)
class Figure:
    section: str
    name: str
    value: float
    unit: str
    target: str | None = None
    """Human-readable target, e.g. '<= 10 ms p50'."""
    ok: bool | None = None
    """Whether the target was met (None when there is no target)."""


@dataclass(kw_only=True)
class BenchContext:
    db_url: str
    """libpq URL of a fresh database on a throw-away embedded server."""
    movies_path: Path | None
    """The course catalog when present (../shared), else None (sections use the demo catalog)."""
    movielens_dir: Path | None
    cache: dict[str, Any] = field(default_factory=dict)
    """Sections share expensive things here (embedder, ingested engine)."""
    rows: int | None = None
    """`--rows N`: catalog size for section `scale` (None: its default)."""
    users: int | None = None
    """`--users N`: synthetic users for section `recs` (None: its default)."""
    out_dir: Path | None = None
    """Where sections that write their own files (scale.json) put them."""


def percentiles(samples_ms: list[float]) -> tuple[float, float]:
    """p50 and p95 of a list of milliseconds."""
    ordered = sorted(samples_ms)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered), p95


def time_calls(fn: Callable[[], object], repeat: int, warmup: int = 3) -> list[float]:
    """Milliseconds per call of `fn`, after `warmup` untimed calls."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return samples


def ms_samples(fn: Callable[[Any], object], items: list[Any], *, rounds: int = 3, warmup: int = 3) -> list[float]:
    """Milliseconds per call of fn(item) over `rounds` passes of `items`, after calls on the first
    `warmup` items."""
    for item in items[:warmup]:
        fn(item)
    samples = []
    for _ in range(rounds):
        for item in items:
            t0 = time.perf_counter()
            fn(item)
            samples.append((time.perf_counter() - t0) * 1000)
    return samples


def latency(section: str, name: str, samples: list[float], target_ms: float | None = None) -> list[Figure]:
    """p50 (against `target_ms` when given) and p95 figures of `samples`."""
    p50, p95 = percentiles(samples)
    return [
        Figure(section=section, name=f"{name} p50", value=p50, unit="ms",
               target=f"<= {target_ms:g} ms p50" if target_ms else None,
               ok=(p50 <= target_ms) if target_ms else None),
        Figure(section=section, name=f"{name} p95", value=p95, unit="ms"),
    ]


def run(
    out_dir: Path, *, movies_path: Path | None, movielens_dir: Path | None,
    sections: tuple[str, ...] = SECTIONS, rows: int | None = None, users: int | None = None,
) -> dict[str, Any]:
    figures: list[Figure] = []
    from retrieval.database import embedded_server

    with embedded_server() as url:  # a throw-away server: never the user's catalog
        ctx = BenchContext(db_url=url, movies_path=movies_path, movielens_dir=movielens_dir, rows=rows,
                           users=users, out_dir=out_dir)
        for name in sections:
            module = importlib.import_module(f"eval.bench_{name}")
            figures.extend(module.run(ctx))
    result = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "cpu": platform.processor() or platform.machine()},
        "figures": [asdict(f) for f in figures],
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.json").write_text(json.dumps(result, indent=2) + "\n")
    (out_dir / "results.md").write_text(table(figures) + "\n")
    return result


def table(figures: list[Figure]) -> str:
    lines = ["| section | figure | value | target | met |", "|---|---|---|---|---|"]
    for f in figures:
        met = "" if f.ok is None else ("yes" if f.ok else "NO")
        lines.append(f"| {f.section} | {f.name} | {f.value:.2f} {f.unit} | {f.target or ''} | {met} |")
    return "\n".join(lines)
