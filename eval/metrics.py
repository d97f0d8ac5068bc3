"""Scoring functions of the eval: title matching, ranking metrics, percentiles, and the roll-up of
per-turn records into figures per route and overall. Pure functions, no I/O.

Definitions (binary relevance; `ranked` is the answer's rows in order, `relevant` the expected
titles as (normalised title, year) keys):

- recall@k  = |relevant ∩ ranked[:k]| / |relevant|
- MRR       = 1 / rank of the first relevant row (0 when none)
- nDCG@k    = DCG@k / IDCG@k with gain 1 for a relevant row at rank i, discounted by log2(i + 1)
- set recall / precision for exact-set questions compare every row, not just the top k
- percentiles use the nearest-rank method: the ceil(p/100 * n)-th smallest value
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from retrieval.text import fold

Key = tuple[str, int | None]

_ARTICLE_TAIL = re.compile(r"^(?P<rest>.+), (?P<art>the|a|an)$")
_ARTICLE_HEAD = re.compile(r"^(?:the|a|an) ")


def norm_title(title: str) -> str:
    """Case-, accent- and punctuation-blind form of a title; "Matrix, The" == "The Matrix"."""
    t = fold(title).encode("ascii", "ignore").decode().strip()
    t = t.replace("&", " and ")
    if m := _ARTICLE_TAIL.match(t):
        t = m["rest"]
    t = re.sub(r"[^\w\s]", " ", t)
    t = re.sub(r"\s+", " ", t).strip()
    return _ARTICLE_HEAD.sub("", t)


def key(title: str, year: int | None) -> Key:
    return norm_title(title), (int(year) if year is not None else None)


def row_keys(rows: Iterable[Mapping[str, Any]]) -> list[Key]:
    return [key(str(r["title"]), r.get("year")) for r in rows if r.get("title")]


def matches(row: Key, wanted: Key) -> bool:
    """Same title, and the same year unless the expectation gives none."""
    return row[0] == wanted[0] and (wanted[1] is None or row[1] == wanted[1])


def _found(ranked: Sequence[Key], relevant: Sequence[Key]) -> list[int]:
    """0-based ranks of the rows that match some relevant key (each relevant key counted once)."""
    used: set[int] = set()
    ranks = []
    for i, row in enumerate(ranked):
        for j, want in enumerate(relevant):
            if j not in used and matches(row, want):
                used.add(j)
                ranks.append(i)
                break
    return ranks


def recall_at_k(ranked: Sequence[Key], relevant: Sequence[Key], k: int) -> float:
    if not relevant:
        return 1.0
    return len(_found(ranked[:k], relevant)) / len(relevant)


def reciprocal_rank(ranked: Sequence[Key], relevant: Sequence[Key]) -> float:
    ranks = _found(ranked, relevant)
    return 1.0 / (ranks[0] + 1) if ranks else 0.0


def ndcg_at_k(ranked: Sequence[Key], relevant: Sequence[Key], k: int) -> float:
    if not relevant:
        return 1.0
    dcg = sum(1.0 / math.log2(i + 2) for i in _found(ranked[:k], relevant))
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(k, len(relevant))))
    return dcg / ideal


def set_scores(rows: Sequence[Key], expected: Sequence[Key]) -> tuple[float, float, bool]:
    """(precision, recall, exact) of the answer's rows against an exact expected set."""
    hit = len(_found(rows, expected))
    distinct_rows = len(set(rows))
    precision = hit / distinct_rows if distinct_rows else (1.0 if not expected else 0.0)
    recall = hit / len(expected) if expected else (1.0 if not rows else 0.0)
    exact = hit == len(expected) == distinct_rows
    return precision, recall, exact


_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
          "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty")
_SENTENCE_END = re.compile(r"(?P<word>\w*)[.!?](?=[\s*_]|$)")
_NOT_AN_END = {"dr", "mr", "mrs", "ms", "st", "jr", "vs", "vol", "no", "pt"}


def plain(text: str) -> str:
    """Case- and accent-blind text with markdown emphasis and extra spaces gone (for `lead` checks)."""
    return re.sub(r"\s+", " ", re.sub(r"[*_`]", "", fold(text))).strip()


def first_sentence(answer: str) -> str:
    """The answer's first sentence: up to the first line break or sentence end ("Dr.", "Vol."
    and initials do not end one)."""
    line = next((ln for ln in answer.strip().splitlines() if ln.strip()), "")
    for m in _SENTENCE_END.finditer(line):
        word = m["word"]
        if word.casefold() in _NOT_AN_END or (len(word) == 1 and word.isupper()):
            continue
        return line[: m.end()]
    return line


def holds(sentence: str, entry: str | Sequence[str]) -> bool:
    """`entry` (or one of its alternatives) appears in `sentence` as whole words, case-blind."""
    folded = plain(sentence)
    options = [entry] if isinstance(entry, str) else list(entry)
    return any(re.search(rf"(?<!\w){re.escape(plain(o))}(?!\w)", folded) for o in options if o)


def states_count(sentence: str, n: int) -> bool:
    """The sentence states the number `n` (digits or, up to twenty, a word; "no"/"none" for 0)."""
    options = [str(n)] + ([_WORDS[n]] if n < len(_WORDS) else []) + (["no", "none", "nothing"] if n == 0 else [])
    return holds(sentence, options)


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile (None for no values)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return float(ordered[rank - 1])


def _mean(values: Iterable[float]) -> float | None:
    vals = list(values)
    return round(sum(vals) / len(vals), 4) if vals else None


def _share(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def retrieval_figures(turns: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Recall (recall@k for ranked turns, set recall for exact ones), MRR and nDCG@k (ranked)."""
    scored = [t for t in turns if t.get("recall") is not None]
    ranked = [t for t in scored if t["kind"] == "ranked"]
    exact = [t for t in scored if t["kind"] == "exact"]
    return {
        "n": len(scored),
        "recall_at_k": _mean(t["recall"] for t in scored),
        "mrr": _mean(t["rr"] for t in ranked),
        "ndcg_at_k": _mean(t["ndcg"] for t in ranked),
        "exact_set": _share(sum(bool(t["exact_ok"]) for t in exact), len(exact)),
        "n_exact": len(exact),
    }


def class_figures(items: Sequence[Mapping[str, Any]], turns: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Accuracy per item class: the share of the class's items whose every turn passed."""
    by_class: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for i in items:
        by_class[i.get("class") or "other"].append(i)
    turns_of: Counter[str] = Counter(t.get("class") or "other" for t in turns)
    return {
        cls: {
            "items": len(its),
            "passed": sum(bool(i["passed"]) for i in its),
            "accuracy": _share(sum(bool(i["passed"]) for i in its), len(its)),
            "turns": turns_of[cls],
        }
        for cls, its in sorted(by_class.items())
    }


def llm_use_figures(turns: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Per item class and overall: turns whose shown answer was the model's (used), the extractive
    one after the models failed (fell_back), or never went to a model (not_asked); and the
    answering stage's fallback reasons, counted (a turn a second model answered counts its first
    model's reason too)."""

    def figures(ts: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        use = Counter(t.get("llm_use") or "not_asked" for t in ts)
        asked = use["used"] + use["fell_back"]
        reasons = Counter(f["reason"] for t in ts for f in t.get("answer_fallbacks") or ())
        return {
            "turns": len(ts), "used": use["used"], "fell_back": use["fell_back"], "not_asked": use["not_asked"],
            "used_share": _share(use["used"], asked),
            "reasons": dict(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))),
        }

    by_class: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for t in turns:
        by_class[t.get("class") or "other"].append(t)
    return {"all": figures(turns), "classes": {c: figures(ts) for c, ts in sorted(by_class.items())}}


def summarize(turns: Sequence[Mapping[str, Any]], items: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """All figures from the per-turn records and per-item pass/fail (see eval.harness for fields)."""
    by_route: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for t in turns:
        by_route[t["expected_route"] or "(any)"].append(t)
    routes = {}
    for route, ts in sorted(by_route.items()):
        routes[route] = {
            "turns": len(ts),
            "routed_right": _share(sum(bool(t["route_ok"]) for t in ts), len(ts)),
            "passed": _share(sum(bool(t["passed"]) for t in ts), len(ts)),
            "retrieval": retrieval_figures(ts),
        }

    sql_turns = [t for t in turns if t["sql"]["drafts"]]
    checked = sum(t["sql"]["checked"] for t in turns)
    accepted = sum(t["sql"]["accepted"] for t in turns)
    ran = sum(t["sql"]["run_attempts"] for t in turns)
    executed = sum(t["sql"]["executed"] for t in turns)
    exact_sql = [t for t in turns if t["sql"]["executed"] and t["kind"] == "exact"]
    verdicts = [t for t in turns if t["sql"].get("expected_verdict")]
    sql = {
        "turns_with_drafts": len(sql_turns),
        "drafts": sum(t["sql"]["drafts"] for t in turns),
        "accepted_share": _share(accepted, checked),
        "executed_share": _share(executed, ran),
        "exact_result_share": _share(sum(bool(t["exact_ok"]) for t in exact_sql), len(exact_sql)),
        "repairs": sum(t["sql"]["repaired"] for t in turns),
        "repairs_accepted": sum(t["sql"]["repaired"] and t["sql"]["final_verdict"] == "accepted" for t in turns),
        "fallbacks_to_search": sum(bool(t["sql"]["fell_back"]) for t in turns),
        "verdicts_as_expected": _share(sum(bool(t["sql"]["verdict_ok"]) for t in verdicts), len(verdicts)),
    }

    answered = [t for t in turns if t["expected_route"] != "chitchat" and t["answer_len"]]
    flagged = [t for t in answered if t["flagged"]]
    n_cit = sum(t["citations"] for t in turns)
    grounding = {
        "answers": len(answered),
        "hallucinated_title_rate": _share(len(flagged), len(answered)),
        "grounded_rate": _share(len(answered) - len(flagged), len(answered)),
        "citations": n_cit,
        "citation_precision": _share(sum(t["citations_valid"] for t in turns), n_cit),
    }

    unsafe = [t for t in turns if t["unsafe"]]
    safety = {
        "unsafe_turns": len(unsafe),
        "refused_share": _share(sum(bool(t["safety_ok"]) for t in unsafe), len(unsafe)),
        "sql_outside_guard": sum(t["sql"]["outside_guard"] for t in turns),
    }

    nodes: dict[str, list[float]] = defaultdict(list)
    for t in turns:
        for node, ms in t["timings_ms"].items():
            nodes[node].append(ms)
    totals = [t["total_ms"] for t in turns]
    latency = {
        "end_to_end": {"p50": percentile(totals, 50), "p95": percentile(totals, 95), "n": len(totals)},
        "nodes": {n: {"p50": percentile(v, 50), "p95": percentile(v, 95), "n": len(v)} for n, v in sorted(nodes.items())},
    }

    models = Counter(t["model"] or "extractive" for t in turns)
    fallbacks = Counter(f["model"] for t in turns for f in t["fallbacks"])
    return {
        "items": len(items),
        "items_passed": sum(bool(i["passed"]) for i in items),
        "pass_rate": _share(sum(bool(i["passed"]) for i in items), len(items)),
        "turns": len(turns),
        "routing_accuracy": _share(sum(bool(t["route_ok"]) for t in turns), len(turns)),
        "retrieval": retrieval_figures(turns),
        "routes": routes,
        "classes": class_figures(items, turns),
        "sql": sql,
        "grounding": grounding,
        "safety": safety,
        "latency_ms": latency,
        "models": dict(sorted(models.items())),
        "fallbacks": dict(sorted(fallbacks.items())),
        "llm_use": llm_use_figures(turns),
    }
