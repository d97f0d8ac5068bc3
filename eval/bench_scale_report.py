"""The readable side of bench section `scale` (eval/bench_scale.py): bench/scale.md and the two
curves, drawn from the merged bench/scale.json."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def markdown(doc: dict[str, Any], *, target_recall: float, hnsw: tuple[int, int],
             target_filtered: float = 0.95) -> str:
    """scale.md: per size, the method table, the fastest setting per family, filtered kNN."""
    lines = ["# Vector search at scale", "",
             "Written by `movie-rag bench --section scale [--rows N]`; see eval/bench_scale.py for how the "
             "catalog is built. recall@10 is against exact SQL; speedup is fetch-all p50 / method p50.", ""]
    for size, e in doc["sizes"].items():
        s = e["seeds"]
        lines += [
            f"## {int(size):,} rows x {e['dim']} ({e['when']})", "",
            f"{s['films']} real seed films ({s['source']}); copies at cosine {s['copy_cosine_to_seed']} "
            f"to their seed (real nearest-neighbour median {s['nearest_neighbour_cosine']}). "
            f"Binary COPY: {e['load']['rows_per_s']:,} rows/s. Table {e['table_mb']} MB. "
            f"{e['queries']} queries ({e['query_kinds']['real_phrases']} real phrases).", "",
            "| method | recall@10 | p50 ms | p95 ms | speedup | build s | index MB | backend RSS MB | server PSS MB |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for name, m in e["methods"].items():
            lines.append(
                f"| {name} | {m['recall_at_10']:.3f} | {m['p50_ms']:.2f} | {m['p95_ms']:.2f} | "
                f"{_fmt(m['speedup_vs_fetch_all'], '.1f')}x | {_fmt(m['build_s'], '.1f')} | "
                f"{_fmt(m['index_mb'], '.1f')} | {_fmt(m['server_rss_mb'], '.0f')} | {_fmt(m['server_pss_mb'], '.0f')} |")
        lines += ["", "Fastest setting per family with recall@10 >= "
                  f"{target_recall}: " + ", ".join(f"{f}: {b['method']} ({b['p50_ms']:.2f} ms)" for f, b in e["best"].items()),
                  "", f"Filtered kNN (HNSW m={hnsw[0]}, ef_construction={hnsw[1]}):", "",
                  "| filter | share | mode | recall@10 | p50 ms | p95 ms | rows returned | index |", "|---|---|---|---|---|---|---|---|"]
        for label, runs in e["filtered"].items():
            for mode, r in runs.items():
                if mode == "share_of_rows":
                    continue
                name = f"product: {r['plan']}" if mode == "product" else mode
                lines.append(f"| {label} | {runs['share_of_rows']:.1%} | {name} | {r['recall_at_10']:.3f} | "
                             f"{r['p50_ms']:.2f} | {r['p95_ms']:.2f} | {r['mean_rows_returned']} | "
                             f"{_fmt(r.get('uses_index'), '')} |")
        lines += ["", f"Filtered, recall@10 >= {target_filtered}:", ""]
        lines += [f"- {line}" for line in filtered_summary(e["filtered"], target_filtered)]
        lines.append("")
    return "\n".join(lines)


def filtered_summary(filtered: dict[str, Any], target: float) -> list[str]:
    """Per filter: what the product's plan reached, and the fastest HNSW setting reaching `target`."""
    out = []
    for label, runs in filtered.items():
        product = runs.get("product")
        said = (f"product ({product['plan']}) {product['recall_at_10']:.3f} at {product['p50_ms']:.1f} ms p50"
                if product else "no product run")
        hnsw = [(r["p50_ms"], mode, r) for mode, r in runs.items()
                if mode.startswith("hnsw_") and r["recall_at_10"] >= target]
        if hnsw:
            p50, mode, r = min(hnsw, key=lambda t: t[0])
            said += f"; fastest HNSW setting: {mode} {r['recall_at_10']:.3f} at {p50:.1f} ms"
        else:
            said += "; no HNSW setting reached it"
        out.append(f"{label} ({runs['share_of_rows']:.1%} of rows): {said}")
    return out


def _fmt(v: Any, spec: str) -> str:
    return "" if v is None else format(v, spec)


def plots(out_dir: Path, doc: dict[str, Any], *, target_recall: float) -> list[Path]:
    """Recall vs latency at the largest size, and query cost vs catalog size."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    sizes = doc["sizes"]
    largest = max(sizes, key=int)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    families: dict[str, list[tuple[float, float]]] = {}
    for m in sizes[largest]["methods"].values():
        families.setdefault(m["family"], []).append((m["p50_ms"], m["recall_at_10"]))
    for fam, pts in families.items():
        pts.sort()
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=fam)
    ax.set_xscale("log")
    ax.set_xlabel("p50 latency, ms (log)")
    ax.set_ylabel("recall@10 vs exact")
    ax.set_title(f"Recall vs latency, {int(largest):,} rows")
    ax.axhline(target_recall, color="grey", lw=0.8, ls="--")
    ax.legend(fontsize=8)
    paths.append(_save(fig, out_dir / "scale_recall_latency.png"))

    fig, ax = plt.subplots(figsize=(7, 4.5))
    rows = [int(s) for s in sizes]
    for fam in ("fetch_all", "exact", "hnsw", "hnsw_halfvec", "hnsw_binary_rerank", "ivfflat"):
        ys = []
        for s in sizes.values():
            best = s["best"].get(fam)
            ys.append(best["p50_ms"] if best else float("nan"))
        ax.plot(rows, ys, marker="o", label=fam if fam in ("fetch_all", "exact") else f"{fam} (recall>={target_recall})")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("rows (log)")
    ax.set_ylabel("p50 ms (log)")
    ax.set_title("Query cost vs catalog size")
    ax.legend(fontsize=8)
    paths.append(_save(fig, out_dir / "scale_cost_vs_rows.png"))
    return paths


def _save(fig: Any, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
