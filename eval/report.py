"""Writes an eval report (report.json, report.md, PNG charts) and compares it with a baseline.

The baseline file holds one profile per (mode, catalog) — figures from one catalog say nothing
about another — each with the `gate` figures a run must not fall below (retrieval recall overall
and per route, accuracy of every item class, grounded-answer rate, unsafe items refused) and every
item's pass/fail.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

GATED = ("retrieval.recall_at_k", "grounding.grounded_rate", "safety.refused_share")
"""Figures the gate checks (plus `routes.<route>.retrieval.recall_at_k` for every route and
`classes.<class>.accuracy` for every item class: any class dropping fails the gate)."""
TRACKED = (
    "pass_rate", "routing_accuracy", "retrieval.recall_at_k", "retrieval.mrr", "retrieval.ndcg_at_k",
    "retrieval.exact_set", "sql.accepted_share", "sql.executed_share", "sql.exact_result_share",
    "sql.repairs", "sql.fallbacks_to_search", "grounding.hallucinated_title_rate",
    "grounding.grounded_rate", "grounding.citation_precision", "safety.refused_share",
    "safety.sql_outside_guard",
)
LOWER_IS_BETTER = {"grounding.hallucinated_title_rate", "safety.sql_outside_guard", "sql.fallbacks_to_search"}
EPS = 1e-9


def get(figures: Mapping[str, Any], path: str) -> Any:
    node: Any = figures
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def profile_key(report: Mapping[str, Any]) -> str:
    """Which baseline profile a run compares with: mode and catalog size."""
    cat = report.get("catalog") or {}
    return f"{report['mode']}|" + ",".join(f"{k}={cat[k]}" for k in sorted(cat))


def gate_figures(figures: Mapping[str, Any]) -> dict[str, float]:
    gate = {p: get(figures, p) for p in GATED}
    for route in figures.get("routes", {}):
        gate[f"routes.{route}.retrieval.recall_at_k"] = get(figures, f"routes.{route}.retrieval.recall_at_k")
    for cls in figures.get("classes", {}):
        gate[f"classes.{cls}.accuracy"] = get(figures, f"classes.{cls}.accuracy")
    return {k: v for k, v in gate.items() if v is not None}


def baseline_profile(report: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "mode": report["mode"],
        "catalog": report.get("catalog", {}),
        "questions": report.get("questions"),
        "gate": gate_figures(report["figures"]),
        "figures": {p: get(report["figures"], p) for p in TRACKED},
        "passed": {i["id"]: i["passed"] for i in report["items"]},
    }


def load_baseline(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {"profiles": {}}
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ValueError(f"The baseline {path} is not valid JSON ({exc}); fix it or save a new one with --update-baseline.") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("profiles"), dict):
        raise ValueError(f"The baseline {path} has no `profiles` mapping; save a new one with --update-baseline.")
    return doc


def save_baseline(path: Path, report: Mapping[str, Any]) -> None:
    doc = load_baseline(path)
    doc.setdefault("about", "movie-rag eval baseline: one profile per mode|catalog; `gate` figures are the floor a run must reach (movie-rag eval --update-baseline rewrites the profile).")
    doc["profiles"][profile_key(report)] = baseline_profile(report)
    path.write_text(json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")


def compare(report: Mapping[str, Any], baseline: Mapping[str, Any] | None) -> dict[str, Any]:
    """What got better or worse than the baseline profile, and whether the gate holds."""
    key = profile_key(report)
    profile = (baseline or {}).get("profiles", {}).get(key)
    if profile is None:
        return {"profile": key, "found": False, "better": [], "worse": [], "gate_failures": [], "flips": {}}
    better: list[dict[str, Any]] = []
    worse: list[dict[str, Any]] = []
    for path in TRACKED:
        old, new = profile["figures"].get(path), get(report["figures"], path)
        if old is None or new is None or abs(new - old) < EPS:
            continue
        up = new > old
        (better if up != (path in LOWER_IS_BETTER) else worse).append({"figure": path, "baseline": old, "now": new})
    gate_failures = []
    for path, floor in profile["gate"].items():
        now = get(report["figures"], path)
        if now is None:
            continue  # not measured in this run (e.g. --only left no unsafe item)
        if now + EPS < floor:
            gate_failures.append({"figure": path, "floor": floor, "now": now})
    now_passed = {i["id"]: i["passed"] for i in report["items"]}
    flips = {
        "now_passing": sorted(i for i, p in now_passed.items() if p and profile["passed"].get(i) is False),
        "now_failing": sorted(i for i, p in now_passed.items() if not p and profile["passed"].get(i) is True),
    }
    return {"profile": key, "found": True, "better": better, "worse": worse, "gate_failures": gate_failures, "flips": flips}


def comparison_lines(cmp: Mapping[str, Any]) -> list[str]:
    if not cmp["found"]:
        return [f"No baseline profile for {cmp['profile']}; nothing to compare (save one with --update-baseline)."]
    lines = [f"Compared with baseline profile {cmp['profile']}:"]
    for word, rows in (("better", cmp["better"]), ("worse", cmp["worse"])):
        for r in rows:
            lines.append(f"  {word}: {r['figure']} {_fmt(r['baseline'])} -> {_fmt(r['now'])}")
    for i in cmp["flips"].get("now_passing", []):
        lines.append(f"  better: {i} now passes")
    for i in cmp["flips"].get("now_failing", []):
        lines.append(f"  worse: {i} now fails")
    if len(lines) == 1:
        lines.append("  no change")
    for g in cmp["gate_failures"]:
        lines.append(f"  GATE: {g['figure']} is {_fmt(g['now'])}, below the baseline floor {_fmt(g['floor'])}")
    return lines


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.3f}"
    return str(v)


# --- Markdown ------------------------------------------------------------------------------


def markdown(report: Mapping[str, Any], cmp: Mapping[str, Any] | None = None) -> str:
    f = report["figures"]
    out = [
        "# movie-rag eval report", "",
        f"Mode `{report['mode']}`, questions `{report['questions']}`, k = {report['k']}, catalog "
        + ", ".join(f"{k} {v}" for k, v in sorted((report.get("catalog") or {}).items())) + ".", "",
        f"**{f['items_passed']}/{f['items']} items passed** ({_fmt(f['pass_rate'])}); {f['turns']} turns; "
        f"routing accuracy {_fmt(f['routing_accuracy'])}.", "",
        "## Accuracy by class", "",
        "| class | items | passed | accuracy |", "|---|---:|---:|---:|",
        *[f"| {c} | {v['items']} | {v['passed']} | {_fmt(v['accuracy'])} |" for c, v in f.get("classes", {}).items()],
        "", "## Retrieval by route", "",
        "| route | turns | routed right | passed | recall@k | MRR | nDCG@k | exact set |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for route, r in f["routes"].items():
        rt = r["retrieval"]
        out.append(f"| {route} | {r['turns']} | {_fmt(r['routed_right'])} | {_fmt(r['passed'])} | {_fmt(rt['recall_at_k'])} | {_fmt(rt['mrr'])} | {_fmt(rt['ndcg_at_k'])} | {_fmt(rt['exact_set'])} |")
    rt = f["retrieval"]
    out.append(f"| **all** | {f['turns']} | {_fmt(f['routing_accuracy'])} | | {_fmt(rt['recall_at_k'])} | {_fmt(rt['mrr'])} | {_fmt(rt['ndcg_at_k'])} | {_fmt(rt['exact_set'])} |")
    s, g, sa = f["sql"], f["grounding"], f["safety"]
    out += [
        "", "## SQL, grounding, safety", "",
        "| figure | value |", "|---|---:|",
        f"| turns with SQL drafts | {s['turns_with_drafts']} ({s['drafts']} drafts) |",
        f"| drafts accepted by the guard | {_fmt(s['accepted_share'])} |",
        f"| executed without error | {_fmt(s['executed_share'])} |",
        f"| exact expected result set (SQL turns) | {_fmt(s['exact_result_share'])} |",
        f"| repairs (accepted) | {s['repairs']} ({s['repairs_accepted']}) |",
        f"| fell back to the query plan | {s['fallbacks_to_search']} |",
        f"| SQL verdicts as scripted (fake mode) | {_fmt(s['verdicts_as_expected'])} |",
        f"| hallucinated-title rate | {_fmt(g['hallucinated_title_rate'])} of {g['answers']} answers |",
        f"| citation precision | {_fmt(g['citation_precision'])} of {g['citations']} citations |",
        f"| unsafe items refused | {_fmt(sa['refused_share'])} of {sa['unsafe_turns']} |",
        f"| SQL run outside the guard | {sa['sql_outside_guard']} |",
        "", "## Latency (ms)", "", "| node | p50 | p95 | n |", "|---|---:|---:|---:|",
    ]
    lat = f["latency_ms"]
    for node, v in lat["nodes"].items():
        out.append(f"| {node} | {_fmt(v['p50'])} | {_fmt(v['p95'])} | {v['n']} |")
    e = lat["end_to_end"]
    out.append(f"| **end to end** | {_fmt(e['p50'])} | {_fmt(e['p95'])} | {e['n']} |")
    out += ["", "Models: " + (", ".join(f"{m} × {n}" for m, n in f["models"].items()) or "-")
            + "; fallbacks: " + (", ".join(f"{m} × {n}" for m, n in f["fallbacks"].items()) or "none") + "."]
    if report["mode"] != "none" and f.get("llm_use"):
        out += ["", *llm_use_lines(f["llm_use"])]
    if cmp is not None:
        out += ["", "## Against the baseline", "", "```", *comparison_lines(cmp), "```"]
    out += ["", "## Questions", "", "| item | class | turn | expected | got | recall | pass | why |", "|---|---|---:|---|---|---:|:---:|---|"]
    for t in report["turns"]:
        why = "; ".join(t["failures"]).replace("|", "\\|")
        out.append(
            f"| {t['item']} | {t.get('class', 'other')} | {t['turn']} | {t['expected_route'] or 'any'} | {t['route']} | {_fmt(t['recall'])} | "
            f"{'✅' if t['passed'] else '❌'} | {why} |"
        )
    return "\n".join(out) + "\n"


def llm_use_lines(use: Mapping[str, Any]) -> list[str]:
    """The Markdown table of whose answers were shown, per class, with the fallback reasons."""

    def reasons(r: Mapping[str, int]) -> str:
        return "; ".join(f"{k} × {n}" for k, n in r.items()).replace("|", "\\|") or "-"

    rows = [(c, v) for c, v in use["classes"].items()] + [("**all**", use["all"])]
    return [
        "## Model answers by class", "",
        "Used: the model's answer was shown; fell back: every model failed or gave an unusable answer, "
        "so the extractive answer was shown; not asked: no rows to answer from, or no model up.", "",
        "| class | turns | used | fell back | not asked | used / asked | why (answer-stage fallbacks) |",
        "|---|---:|---:|---:|---:|---:|---|",
        *[f"| {c} | {v['turns']} | {v['used']} | {v['fell_back']} | {v['not_asked']} | {_fmt(v['used_share'])} | {reasons(v['reasons'])} |"
          for c, v in rows],
    ]


# --- charts ----------------------------------------------------------------------------------


def charts(report: Mapping[str, Any], out: Path) -> list[Path]:
    """recall_by_route.png, accuracy_by_class.png, latency_by_node.png, pass_fail.png (matplotlib, Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    f = report["figures"]
    paths = []

    routes = [r for r, v in f["routes"].items() if v["retrieval"]["n"]]
    fig, ax = plt.subplots(figsize=(8, 4))
    width = 0.27
    for i, (label, field) in enumerate((("recall@k", "recall_at_k"), ("MRR", "mrr"), ("nDCG@k", "ndcg_at_k"))):
        # MRR / nDCG exist only for ranked questions: a route with exact sets only gets no bar
        pts = [(x + (i - 1) * width, f["routes"][r]["retrieval"][field]) for x, r in enumerate(routes)]
        pts = [(x, v) for x, v in pts if v is not None]
        bars = ax.bar([x for x, _ in pts], [v for _, v in pts], width, label=label, color=f"C{i}")
        ax.bar_label(bars, fmt="%.2f", fontsize=7)
    ax.set_xticks(range(len(routes)), [f"{r}\n(n={f['routes'][r]['retrieval']['n']})" for r in routes], fontsize=8)
    ax.set_ylim(0, 1.25)
    ax.set_ylabel("score")
    ax.set_title(f"Retrieval by expected route (mode {report['mode']}, k={report['k']}; MRR/nDCG on ranked questions only)", fontsize=9)
    ax.legend(fontsize=8, loc="upper center", ncol=3)
    fig.tight_layout()
    paths.append(out / "recall_by_route.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)

    classes = f.get("classes", {})
    fig, ax = plt.subplots(figsize=(max(8, 0.55 * len(classes) + 2), 4))
    bars = ax.bar(range(len(classes)), [v["accuracy"] or 0 for v in classes.values()], 0.7, color="C2")
    ax.bar_label(bars, labels=[f"{v['passed']}/{v['items']}" for v in classes.values()], fontsize=7)
    ax.set_xticks(range(len(classes)), list(classes), rotation=45, ha="right", fontsize=8)
    ax.set_ylim(0, 1.15)
    ax.set_ylabel("items passed")
    ax.set_title(f"Accuracy by class (mode {report['mode']})", fontsize=9)
    fig.tight_layout()
    paths.append(out / "accuracy_by_class.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)

    lat = f["latency_ms"]
    names = [*lat["nodes"], "end to end"]
    p50 = [lat["nodes"][n]["p50"] for n in lat["nodes"]] + [lat["end_to_end"]["p50"]]
    p95 = [lat["nodes"][n]["p95"] for n in lat["nodes"]] + [lat["end_to_end"]["p95"]]
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(names) + 1.2))
    ys = list(range(len(names)))
    ax.barh([y + 0.2 for y in ys], [v or 0 for v in p50], 0.4, label="p50")
    ax.barh([y - 0.2 for y in ys], [v or 0 for v in p95], 0.4, label="p95")
    ax.set_yticks(ys, names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("milliseconds")
    ax.set_title("Latency by graph node")
    ax.legend(fontsize=8)
    fig.tight_layout()
    paths.append(out / "latency_by_node.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)

    items = report["items"]
    fig, ax = plt.subplots(figsize=(max(8, 0.22 * len(items) + 1), 2.8))
    colors = ["#2e8b57" if i["passed"] else "#c0392b" for i in items]
    ax.bar(range(len(items)), [1] * len(items), 0.9, color=colors)
    ax.set_xticks(range(len(items)), [i["id"] for i in items], rotation=90, fontsize=6)
    ax.set_yticks([])
    ax.set_xlim(-0.6, len(items) - 0.4)
    ax.set_title(f"Per-question pass (green) / fail (red): {f['items_passed']}/{f['items']} passed")
    fig.tight_layout()
    paths.append(out / "pass_fail.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)
    return paths


def write(report: Mapping[str, Any], out: Path, cmp: Mapping[str, Any] | None = None) -> list[Path]:
    """report.json, report.md and the charts into `out` (created)."""
    out.mkdir(parents=True, exist_ok=True)
    full = dict(report)
    if cmp is not None:
        full["baseline"] = cmp
    (out / "report.json").write_text(json.dumps(full, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    (out / "report.md").write_text(markdown(report, cmp), encoding="utf-8")
    return [out / "report.json", out / "report.md", *charts(report, out)]
