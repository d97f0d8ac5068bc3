"""Bench section `gate`: the usability gate and the citation check on labelled answers
(eval/gate_answers.yaml), so their error rates are figures whatever model is installed — the
real 270M model mostly recites its prompt and names no film, which leaves a false-flag rate
with nothing to judge.

Each answer is judged as the graph judges a model's answer: the product's answer prompt over the
case's rows, the catalog's genres, people, countries and languages as names that are not films,
and catalog titles looked up with PgCatalog's matching (retrieval.search.StaticTitles).

Figures: good answers the gate refused (false refusals), bad answers it let through (misses),
flagged names that are not inventions (false flags, of all flagged names) and inventions left
unflagged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import yaml

from eval.bench import BenchContext, Figure

SECTION = "gate"
CORPUS = "gate_answers.yaml"


@dataclass(frozen=True, kw_only=True)
class Verdict:
    id: str
    usable: bool
    """What the case says the gate should decide."""
    problem: str | None
    """What the gate decided (None: usable)."""
    flagged: list[str] = field(default_factory=list)
    false_flags: list[str] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)
    """Inventions the citation check did not flag."""

    @property
    def right(self) -> bool:
        return (self.problem is None) == self.usable


def load_corpus() -> dict[str, Any]:
    text = resources.files("eval").joinpath(CORPUS).read_text(encoding="utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return data


def judge(corpus: dict[str, Any] | None = None) -> list[Verdict]:
    """Every labelled answer through the gate and the citation check."""
    from chatbot.citations import KnownNames, check_citations
    from chatbot.prompting import answer_messages
    from chatbot.state import State
    from chatbot.usability import answer_problem
    from retrieval.search import StaticTitles

    corpus = corpus or load_corpus()
    cases = corpus["cases"]
    every = [*corpus.get("catalog", ()), *(r for c in cases for r in (*c["rows"], c.get("anchor")) if r)]
    ids: dict[tuple[str, int | None], int] = {}
    for film in every:
        ids.setdefault((film["title"], film.get("year")), len(ids) + 1)
    titles = StaticTitles([(i, t, y) for (t, y), i in ids.items()])
    not_films = frozenset(  # the catalog's vocabulary: every name any copy of a film carries
        n for f in every
        for n in (*f.get("genres", ()), *f.get("actors", ()), f.get("director"), f.get("country"), f.get("language"))
        if n
    )

    def titles_in(text: str) -> list[str]:
        return [t for _, t, _ in titles.find_titles(text)]

    verdicts = []
    for case in cases:
        rows = [{"id": ids[(r["title"], r.get("year"))], **r} for r in case["rows"]]
        anchor = case.get("anchor")
        anchors = [{"id": ids[(anchor["title"], anchor.get("year"))], "title": anchor["title"],
                    "year": anchor.get("year")}] if anchor else []
        state = State(question=case["question"], hits=rows, anchors=anchors, route="similar" if anchor else "semantic")
        messages = answer_messages(state)
        allowed = tuple(a["title"] for a in anchors)
        names = KnownNames(allowed=allowed, not_films=not_films, titles_in=titles_in)
        answer = case["answer"]
        problem = answer_problem(answer, messages, names=names)
        checked = check_citations(answer, rows, catalog_titles=titles_in(answer), allowed=list(allowed),
                                  not_films=not_films)
        inventions = list(case.get("inventions") or ())
        judged = case["usable"] or bool(inventions)  # a recital's stray flags never reach anyone
        verdicts.append(Verdict(
            id=case["id"], usable=case["usable"], problem=problem,
            flagged=checked.flagged if judged else [],
            false_flags=[n for n in checked.flagged if n not in inventions] if judged else [],
            missed=[n for n in inventions if n not in checked.flagged],
        ))
    return verdicts


def figures(verdicts: list[Verdict]) -> list[Figure]:
    good = [v for v in verdicts if v.usable]
    bad = [v for v in verdicts if not v.usable]
    refused = [v for v in good if v.problem is not None]
    passed = [v for v in bad if v.problem is None]
    flagged = sum(len(v.flagged) for v in verdicts)
    false = sum(len(v.false_flags) for v in verdicts)
    inventions = sum(len(v.missed) + len(v.flagged) - len(v.false_flags) for v in verdicts)
    missed = sum(len(v.missed) for v in verdicts)

    def pct(n: int, of: int) -> float:
        return 100.0 * n / of if of else 0.0

    return [
        Figure(section=SECTION, name=f"gate false refusals ({len(refused)} of {len(good)} good answers)",
               value=pct(len(refused), len(good)), unit="%", target="0", ok=not refused),
        Figure(section=SECTION, name=f"gate misses ({len(passed)} of {len(bad)} bad answers)",
               value=pct(len(passed), len(bad)), unit="%", target="0", ok=not passed),
        Figure(section=SECTION, name=f"citation false flags ({false} of {flagged} flagged names)",
               value=pct(false, flagged), unit="%", target="0", ok=not false),
        Figure(section=SECTION, name=f"citation misses ({missed} of {inventions} inventions)",
               value=pct(missed, inventions), unit="%", target="0", ok=not missed),
    ]


def run(ctx: BenchContext) -> list[Figure]:
    return figures(judge())


if __name__ == "__main__":
    for v in judge():
        mark = "ok " if v.right and not v.false_flags and not v.missed else "BAD"
        print(f"{mark} {v.id:<36} usable={v.usable!s:<5} problem={v.problem} flagged={v.flagged} "
              f"false={v.false_flags} missed={v.missed}")
    for f in figures(judge()):
        print(f"{f.name}: {f.value:.1f} {f.unit}")
