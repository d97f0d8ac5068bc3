"""The usability gate and the citation check on the labelled answers of eval/gate_answers.yaml
(bench section `gate`): capable models' answers are kept and flag nothing but their inventions
(bold genres and people, common words that are catalog titles, a title inside an actor's name,
labels, a title without its article), small models' failures are refused."""

from __future__ import annotations

import pytest

from eval.bench_gate import figures, judge, load_corpus

VERDICTS = {v.id: v for v in judge()}


@pytest.mark.parametrize("case", load_corpus()["cases"], ids=lambda c: c["id"])
def test_each_labelled_answer(case):
    v = VERDICTS[case["id"]]
    assert (v.problem is None) == case["usable"], v.problem
    assert v.false_flags == [] and v.missed == []


def test_the_figures_say_what_was_measured():
    names = {f.name: f.value for f in figures(list(VERDICTS.values()))}
    assert names == {
        "gate false refusals (0 of 14 good answers)": 0.0,
        "gate misses (0 of 8 bad answers)": 0.0,
        "citation false flags (0 of 9 flagged names)": 0.0,
        "citation misses (0 of 9 inventions)": 0.0,
    }
