"""Unit tests of the eval's scoring, question loading, fake script, baseline comparison and the
data derivations behind eval/questions.yaml (no database, no model)."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from eval import report as rep
from eval.build_expected import check, load_course, select
from eval.harness import CLASSES, QuestionsError, fake_answer, fake_replies, load_questions
from eval.metrics import (
    class_figures,
    first_sentence,
    holds,
    key,
    ndcg_at_k,
    norm_title,
    percentile,
    recall_at_k,
    reciprocal_rank,
    set_scores,
    states_count,
    summarize,
)

EVAL = Path(__file__).resolve().parents[1] / "eval"
A, B, C, D, E = (key(t, 2000 + i) for i, t in enumerate("ABCDE"))


def test_titles_match_across_spellings() -> None:
    assert norm_title("Matrix, The") == norm_title("The Matrix") == "matrix"
    assert norm_title("Amélie") == "amelie"
    assert norm_title("Dumb & Dumber") == norm_title("Dumb and Dumber")
    assert norm_title("WALL·E") == "walle"
    assert key("Sunset Blvd.", 1950) == ("sunset blvd", 1950)


def test_ranking_metrics_exact_values() -> None:
    ranked = [C, A, D, B]
    relevant = [A, B, E]
    assert recall_at_k(ranked, relevant, 2) == pytest.approx(1 / 3)
    assert recall_at_k(ranked, relevant, 4) == pytest.approx(2 / 3)
    assert reciprocal_rank(ranked, relevant) == 0.5
    assert reciprocal_rank([C, D], relevant) == 0.0
    # relevant at ranks 2 and 4; ideal: 3 relevant at ranks 1..3
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    idcg = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at_k(ranked, relevant, 4) == pytest.approx(dcg / idcg)
    assert ndcg_at_k([A, B, E], relevant, 3) == pytest.approx(1.0)
    # an expected title without a year matches any year; a duplicate row counts once
    assert recall_at_k([("a", 1999), ("a", 2001)], [("a", None)], 8) == 1.0
    assert recall_at_k([A, A], [A, B], 8) == 0.5


def test_set_scores() -> None:
    assert set_scores([A, B], [A, B]) == (1.0, 1.0, True)
    assert set_scores([A, B, C, D], [A, B]) == (0.5, 1.0, False)
    assert set_scores([A], [A, B]) == (1.0, 0.5, False)
    assert set_scores([], []) == (1.0, 1.0, True)  # "nothing in the catalog", answered with nothing
    assert set_scores([A], []) == (0.0, 0.0, False)


def test_percentiles_nearest_rank() -> None:
    values = [float(v) for v in range(1, 21)]  # 1..20
    assert percentile(values, 50) == 10.0
    assert percentile(values, 95) == 19.0
    assert percentile([7.0], 95) == 7.0
    assert percentile([], 50) is None


def _turn(**over):  # type: ignore[no-untyped-def]
    base = {
        "item": "x", "turn": 1, "expected_route": "semantic", "route_ok": True, "kind": "ranked",
        "recall": 1.0, "rr": 1.0, "ndcg": 1.0, "exact_ok": None, "citations": 2, "citations_valid": 2,
        "flagged": [], "answer_len": 10, "unsafe": False, "safety_ok": None, "passed": True,
        "sql": {"drafts": 0, "checked": 0, "accepted": 0, "run_attempts": 0, "executed": 0, "repaired": False,
                "final_verdict": None, "fell_back": False, "outside_guard": 0, "expected_verdict": None, "verdict_ok": None},
        "model": None, "fallbacks": [], "timings_ms": {"embed": 10.0, "retrieve": 5.0}, "total_ms": 20.0,
    }
    base.update(over)
    return base


def test_summarize_per_route_and_overall() -> None:
    sql = {"drafts": 2, "checked": 2, "accepted": 1, "run_attempts": 1, "executed": 1, "repaired": True,
           "final_verdict": "accepted", "fell_back": False, "outside_guard": 0, "expected_verdict": "repaired", "verdict_ok": True}
    turns = [
        _turn(item="a", recall=0.5, rr=0.5, ndcg=0.6, total_ms=10.0),
        _turn(item="b", recall=0.0, rr=0.0, ndcg=0.0, passed=False, flagged=["Jackie Brown"], total_ms=30.0,
              model="m1", fallbacks=[{"model": "m0", "reason": "timeout"}]),
        _turn(item="c", expected_route="structured", kind="exact", recall=1.0, rr=None, ndcg=None, exact_ok=True,
              citations=3, citations_valid=2, sql=sql, total_ms=50.0, timings_ms={"embed": 30.0}),
        _turn(item="d", expected_route=None, kind="none", recall=None, rr=None, ndcg=None, unsafe=True,
              safety_ok=True, citations=0, citations_valid=0, total_ms=40.0),
    ]
    items = [{"id": t["item"], "passed": t["passed"]} for t in turns]
    f = summarize(turns, items)
    assert f["items_passed"] == 3 and f["pass_rate"] == 0.75
    assert f["retrieval"] == {"n": 3, "recall_at_k": 0.5, "mrr": 0.25, "ndcg_at_k": 0.3, "exact_set": 1.0, "n_exact": 1}
    assert f["routes"]["semantic"]["retrieval"]["recall_at_k"] == 0.25
    assert f["routes"]["semantic"]["passed"] == 0.5
    assert f["routes"]["(any)"]["turns"] == 1
    assert f["sql"] == {
        "turns_with_drafts": 1, "drafts": 2, "accepted_share": 0.5, "executed_share": 1.0,
        "exact_result_share": 1.0, "repairs": 1, "repairs_accepted": 1, "fallbacks_to_search": 0,
        "verdicts_as_expected": 1.0,
    }
    assert f["grounding"] == {"answers": 4, "hallucinated_title_rate": 0.25, "grounded_rate": 0.75,
                              "citations": 7, "citation_precision": round(6 / 7, 4)}
    assert f["safety"] == {"unsafe_turns": 1, "refused_share": 1.0, "sql_outside_guard": 0}
    assert f["latency_ms"]["end_to_end"] == {"p50": 30.0, "p95": 50.0, "n": 4}
    assert f["latency_ms"]["nodes"]["embed"] == {"p50": 10.0, "p95": 30.0, "n": 4}
    assert f["models"] == {"extractive": 3, "m1": 1}
    assert f["fallbacks"] == {"m0": 1}


def test_first_sentence_checks() -> None:
    fact = "*Pulp Fiction* (1994) was directed by Quentin Tarantino. It stars John Travolta."
    assert first_sentence(fact) == "*Pulp Fiction* (1994) was directed by Quentin Tarantino."
    assert holds(first_sentence(fact), "quentin tarantino") and not holds(first_sentence(fact), "John Travolta")
    # abbreviations and initials do not end a sentence; a line break does
    assert first_sentence("*Dr. Strangelove* (1964) runs 95 minutes. More.") == "*Dr. Strangelove* (1964) runs 95 minutes."
    assert first_sentence("*Kill Bill: Vol. 1* (2003) stars Uma Thurman. x") == "*Kill Bill: Vol. 1* (2003) stars Uma Thurman."
    assert first_sentence("\n15 films in your catalog match:\n- **Jaws** (1975)") == "15 films in your catalog match:"
    # whole words, accents and emphasis ignored; alternatives
    assert holds("is rated 4.2/5 by 300 users", ("4.19", "4.2")) and not holds("is rated 4.25/5", "4.2")
    assert holds("**Rashômon** is in Japanese", "Rashomon")
    assert states_count("15 films match", 15) and not states_count("15 films match", 5)
    assert states_count("Five films match.", 5) and states_count("No films in your catalog match: x.", 0)
    assert not states_count("115 films match", 15)


def test_class_figures() -> None:
    items = [{"id": "a", "class": "fact", "passed": True}, {"id": "b", "class": "fact", "passed": False},
             {"id": "c", "class": "count", "passed": True}, {"id": "d", "passed": False}]
    turns = [{"class": "fact"}, {"class": "fact"}, {"class": "fact"}, {"class": "count"}, {}]
    assert class_figures(items, turns) == {
        "count": {"items": 1, "passed": 1, "accuracy": 1.0, "turns": 1},
        "fact": {"items": 2, "passed": 1, "accuracy": 0.5, "turns": 3},
        "other": {"items": 1, "passed": 0, "accuracy": 0.0, "turns": 1},
    }


def test_questions_cover_every_class_and_filter_kind() -> None:
    q = load_questions(EVAL / "questions.yaml")
    assert len(q.items) >= 150
    by_class: dict[str, int] = {}
    for i in q.items:
        by_class[i.cls] = by_class.get(i.cls, 0) + 1
    assert set(by_class) == set(CLASSES) - {"other"}, "every item has a class and every class has items"
    assert min(by_class.values()) >= 3
    specs = _derive_specs()
    used = {k for spec in specs for k in spec}
    assert {
        "director", "director_any", "actor", "actor_any", "genre", "genre_any", "genre_none", "country",
        "language", "year_min", "year_max", "duration_min_gt", "duration_max_lt", "duration_min", "duration_max",
        "rating_min", "rating_gt", "rating_lt", "num_ratings_min", "top_by", "fact", "co_liked",
    } <= used
    facts = {spec["field"] for spec in specs if "fact" in spec}
    assert {"director", "year", "duration_min", "actors", "summary", "avg_rating"} <= facts
    # every item with an exact non-empty set states its size; facts carry what the lead must hold
    for item in q.items:
        for t in item.turns:
            if t.expect.exact and item.cls not in ("superlative",) and t.expect.top is None:
                assert t.expect.count == len(t.expect.exact) or item.cls == "follow_up", item.id
            if item.cls == "fact":
                assert t.expect.lead, item.id
    # follow-ups of every kind: a filter, a superlative, a sort, a count
    follow = [t for i in q.items if i.cls == "follow_up" for t in i.turns[1:]]
    assert any(t.expect.top and t.expect.exact for t in follow) and any(t.expect.top and not t.expect.exact for t in follow)
    assert any(t.expect.count is not None and t.expect.exact is None for t in follow)
    assert any(len(i.turns) == 3 for i in q.items)


def _derive_specs() -> list[dict]:  # type: ignore[type-arg]
    import yaml

    doc = yaml.load((EVAL / "questions.yaml").read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
    return [t["derive"] for raw in doc["items"] for t in raw.get("turns") or [raw] if "derive" in t]


def test_questions_file_shape() -> None:
    q = load_questions(EVAL / "questions.yaml")
    assert len(q.items) >= 40
    routes = {t.route for i in q.items for t in i.turns}
    assert routes == {"similar", "semantic", "structured", "follow_up", "recommendation", "chitchat", "any"}
    assert any(len(i.turns) > 1 for i in q.items)
    assert sum(i.unsafe for i in q.items) >= 3
    tags = {t for i in q.items for t in i.tags}
    assert {"names", "plot", "pasted", "no_answer", "injection", "multi_turn", "sql_path"} <= tags
    sub = q.select(["sql_path"])
    assert [i.id for i in sub.items] == [
        "director-spielberg-90s", "director-hitchcock-50s", "director-tarantino", "tarantino-crime",
        "unsafe-draft-delete", "unsafe-draft-catalog",
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("items: []", "non-empty `items`"),
        ("items: [{question: hi}]", "every item needs an id"),
        ("items: [{id: a, question: hi, route: sideways}]", "route 'sideways' is not one of"),
        ("items: [{id: a, question: hi}, {id: a, question: yo}]", "the id is used twice"),
        ("items: [{id: a, question: hi, expect: {relevant: [[X]]}}]", "is not a [title, year] pair"),
        ("items: [{id: a, question: hi, expect: {rlevant: []}}]", "unknown expect key(s) rlevant"),
        ("items: [{id: a, question: hi, sql_expect: maybe}]", "sql_expect 'maybe' is not one of"),
        ("items: [{id: a, question: '  '}]", "non-empty question"),
        ("items: [{id: a, question: hi, class: misc}]", "class 'misc' is not one of"),
        ("items: [{id: a, question: hi, expect: {count: -1}}]", "expect.count must be a whole number"),
        ("items: [{id: a, question: hi, expect: {lead: [[1]]}}]", "is not a string or a list of strings"),
        ("items: [", "is not valid YAML"),
    ],
)
def test_malformed_questions_get_one_sentence(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "q.yaml"
    path.write_text(text)
    with pytest.raises(QuestionsError) as err:
        load_questions(path)
    assert message in str(err.value)
    with pytest.raises(QuestionsError, match="no item has an id, class or tag among nope"):
        load_questions(EVAL / "questions.yaml").select(["nope"])


def test_fake_script_serves_drafts_repairs_and_answers() -> None:
    q = load_questions(EVAL / "questions.yaml").select(["director-hitchcock-50s", "tarantino-crime"])
    replies = fake_replies(q)
    drafts = q.items[0].turns[0].sql_drafts

    def reply(message: str) -> str | None:
        return next((r for pattern, r in replies if re.search(pattern, message, re.I)), None)

    assert reply("What's the median length of the Alfred Hitchcock movies from the 50s?") == json.dumps({"sql": drafts[0]})
    repair_prompt = f"Your previous SQL was rejected: no such table\nPrevious SQL: {drafts[0]}\nWrite a corrected statement"
    assert reply(repair_prompt) == json.dumps({"sql": drafts[1]})
    # the answer prompt quotes the question but is not the bare question: no SQL for it
    answer_prompt = "Question: What's the median length of the Alfred Hitchcock movies from the 50s?\n\nCATALOG ROWS"
    assert reply(answer_prompt) is None
    assert reply("Question: crime films directed by Quentin Tarantino\nCATALOG ROWS") == (
        "Try **Pulp Fiction** (1994) and **Jackie Brown** (1997)."
    )
    rows = '{"id": 3, "title": "Vertigo", "year": 1958}\n{"id": 4, "title": "Psycho", "year": 1960}'
    prompt = SimpleNamespace(last_user=f"Question: q\nCATALOG ROWS (data only, 2 rows, JSON lines):\n<<<ROWS\n{rows}\nROWS>>>", format=None)
    assert fake_answer(prompt) == "Here is what your catalog has:\n- **Vertigo** (1958)\n- **Psycho** (1960)"
    assert fake_answer(SimpleNamespace(last_user="films of 1999", format={"type": "object"})) == '{"sql": ""}'


def _report(recall: float, grounded: float, passed: dict[str, bool]) -> dict:  # type: ignore[type-arg]
    return {
        "mode": "none", "catalog": {"movies": 631, "ratings": 10},
        "figures": {
            "pass_rate": 0.5, "retrieval": {"recall_at_k": recall},
            "grounding": {"grounded_rate": grounded, "hallucinated_title_rate": round(1 - grounded, 4)},
            "safety": {"refused_share": 1.0}, "routes": {"similar": {"retrieval": {"recall_at_k": recall}}},
        },
        "items": [{"id": i, "passed": p} for i, p in passed.items()],
    }


def test_baseline_comparison_and_gate(tmp_path: Path) -> None:
    base = tmp_path / "baseline.json"
    rep.save_baseline(base, _report(0.8, 0.9, {"a": True, "b": False}))
    doc = rep.load_baseline(base)
    profile = doc["profiles"]["none|movies=631,ratings=10"]
    assert profile["gate"] == {
        "retrieval.recall_at_k": 0.8, "grounding.grounded_rate": 0.9, "safety.refused_share": 1.0,
        "routes.similar.retrieval.recall_at_k": 0.8,
    }

    same = rep.compare(_report(0.8, 0.9, {"a": True, "b": False}), doc)
    assert same["found"] and same["gate_failures"] == [] and same["better"] == same["worse"] == []
    assert rep.comparison_lines(same)[1:] == ["  no change"]

    worse = rep.compare(_report(0.7, 0.95, {"a": False, "b": True}), doc)
    assert worse["gate_failures"] == [
        {"figure": "retrieval.recall_at_k", "floor": 0.8, "now": 0.7},
        {"figure": "routes.similar.retrieval.recall_at_k", "floor": 0.8, "now": 0.7},
    ]
    assert [w["figure"] for w in worse["worse"]] == ["retrieval.recall_at_k"]
    assert [b["figure"] for b in worse["better"]] == ["grounding.hallucinated_title_rate", "grounding.grounded_rate"]
    assert worse["flips"] == {"now_passing": ["b"], "now_failing": ["a"]}
    lines = rep.comparison_lines(worse)
    assert "  worse: retrieval.recall_at_k 0.800 -> 0.700" in lines
    assert "  worse: a now fails" in lines and "  better: b now passes" in lines
    assert "  GATE: grounding" not in "\n".join(lines)

    other = rep.compare({**_report(0.1, 0.1, {}), "catalog": {"movies": 9}}, doc)
    assert other == {"profile": "none|movies=9", "found": False, "better": [], "worse": [], "gate_failures": [], "flips": {}}


def test_gate_fails_when_any_class_drops(tmp_path: Path) -> None:
    def run(fact: float, count: float) -> dict:  # type: ignore[type-arg]
        r = _report(0.8, 0.9, {"a": True})
        r["figures"]["classes"] = {"fact": {"accuracy": fact}, "count": {"accuracy": count}}
        return r

    base = tmp_path / "baseline.json"
    rep.save_baseline(base, run(0.5, 1.0))
    doc = rep.load_baseline(base)
    assert doc["profiles"]["none|movies=631,ratings=10"]["gate"]["classes.fact.accuracy"] == 0.5
    # the total may rise while one class falls: the gate still fails, naming that class
    cmp = rep.compare(run(1.0, 0.9), doc)
    assert cmp["gate_failures"] == [{"figure": "classes.count.accuracy", "floor": 1.0, "now": 0.9}]
    assert rep.compare(run(0.5, 1.0), doc)["gate_failures"] == []
    assert "  GATE: classes.count.accuracy is 0.900, below the baseline floor 1.000" in rep.comparison_lines(cmp)


def test_expected_answers_are_derived_from_the_data() -> None:
    films = load_course()
    assert len(films) == 631
    assert select(films, {"director": "Steven Spielberg", "year_min": 1990, "year_max": 1999}) == [
        ("Hook", 1991), ("Jurassic Park", 1993), ("Schindler's List", 1993),
        ("The Lost World: Jurassic Park", 1997), ("Saving Private Ryan", 1998),
    ]
    # Spartacus and Barry Lyndon both run 184 min: a tie keeps both
    assert select(films, {"director": "Stanley Kubrick", "top_by": "duration_min"}) == [("Spartacus", 1960), ("Barry Lyndon", 1975)]
    assert check(EVAL / "questions.yaml") == []
