"""Runs canned questions through the chatbot API (`Chatbot.astream`, the same calls the UI makes)
and scores every turn; `eval.metrics.summarize` rolls the records up, `eval.report` writes them.

Modes (recorded in the report; the chatbot is built by the caller):
- `none`: extractive answers, rule routing, no LLM — deterministic, runs in CI;
- `ollama`: a real Ollama (documented, not run in CI);
- `fake`: an Ollama-API fake that serves each item's `sql_draft`. The harness never starts it:
  the caller starts `tests/ollama_fake.py`'s OllamaFake scripted with `fake_replies(questions)`
  and points OLLAMA_BASE_URL at it; in this mode each item's `sql_expect` (accepted, repaired,
  refused) is scored too.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from eval.metrics import (
    Key,
    first_sentence,
    holds,
    key,
    matches,
    ndcg_at_k,
    recall_at_k,
    reciprocal_rank,
    row_keys,
    set_scores,
    states_count,
    summarize,
)

SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's safe loader when PyYAML has it (the questions file is large), else the pure one."""
MODES = ("none", "ollama", "fake")
ROUTES = ("similar", "semantic", "structured", "follow_up", "recommendation", "chitchat", "any")
SQL_VERDICTS = ("accepted", "repaired", "refused")
FLAG_NOTE = "Not among the retrieved rows, so not verified: "
FLAG_MARK = "[not in the retrieved rows]"
NOT_RUN_NOTES = ("The drafted SQL was rejected", "No model could draft SQL")
"""Fallback notes for drafts that never ran (every other fallback note is a run that failed)."""
EXPECT_KEYS = {
    "relevant", "exact", "absent", "min_recall", "k", "no_citations", "no_sql", "must_not_contain",
    "top", "count", "lead",
}
TURN_KEYS = {"question", "route", "expect", "derive", "sql_draft", "sql_expect", "llm_answer", "tags"}
ITEM_KEYS = TURN_KEYS | {"id", "turns", "unsafe", "class"}
CLASSES = (
    "list", "people", "duration", "country", "language", "years", "genres", "ratings", "superlative",
    "count", "fact", "similar", "plot", "follow_up", "nothing_found", "chitchat", "recommendation",
    "aggregate", "unsafe", "other",
)
"""What an item tests (its `class:`), the unit accuracy is reported and gated by. `people`: and/or
of directors and actors; `list`: complete sets ("every", "all"); `other`: an item with no class."""


class QuestionsError(ValueError):
    """The questions file is malformed; the message names the file, the item and the fix."""


@dataclass(frozen=True, kw_only=True)
class Expect:
    relevant: tuple[Key, ...] = ()
    exact: tuple[Key, ...] | None = None
    absent: tuple[Key, ...] = ()
    min_recall: float | None = None
    k: int | None = None
    no_citations: bool = False
    no_sql: bool = False
    must_not_contain: tuple[str, ...] = ()
    top: tuple[Key, ...] | None = None
    """A superlative's answer: the first len(top) rows are exactly these (ties)."""
    count: int | None = None
    """The number the first sentence must state (a count, or the size of a listed set)."""
    lead: tuple[str | tuple[str, ...], ...] = ()
    """What the first sentence must hold (each entry, or one of an entry's alternatives)."""


@dataclass(frozen=True, kw_only=True)
class Turn:
    question: str
    route: str
    expect: Expect
    sql_drafts: tuple[str, ...] = ()
    """What the scripted fake model drafts: the first draft, then the repair."""
    sql_expect: str | None = None
    llm_answer: str | None = None
    """The fake model's answer text for this question (fake mode), e.g. one naming a stray title."""


@dataclass(frozen=True, kw_only=True)
class Item:
    id: str
    turns: tuple[Turn, ...]
    unsafe: bool = False
    tags: tuple[str, ...] = ()
    cls: str = "other"
    """The item's class (see CLASSES)."""


@dataclass(frozen=True, kw_only=True)
class Questions:
    path: str
    k: int
    items: tuple[Item, ...]

    def select(self, only: Sequence[str]) -> Questions:
        """Items whose id or one of whose tags is in `only` (all when empty)."""
        if not only:
            return self
        wanted = set(only)
        items = tuple(i for i in self.items if i.id in wanted or i.cls in wanted or wanted & set(i.tags))
        if not items:
            raise QuestionsError(f"{self.path}: no item has an id, class or tag among {', '.join(sorted(wanted))}.")
        return Questions(path=self.path, k=self.k, items=items)


def _titles(raw: Any, where: str) -> tuple[Key, ...]:
    if not isinstance(raw, list):
        raise QuestionsError(f"{where}: expected a list of [title, year] pairs.")
    out = []
    for v in raw:
        if isinstance(v, str):
            out.append(key(v, None))
        elif isinstance(v, list) and len(v) == 2 and isinstance(v[0], str):
            out.append(key(v[0], v[1]))
        else:
            raise QuestionsError(f"{where}: {v!r} is not a [title, year] pair.")
    return tuple(out)


def _expect(raw: Any, where: str) -> Expect:
    raw = raw or {}
    if not isinstance(raw, dict):
        raise QuestionsError(f"{where}: expect must be a mapping.")
    if unknown := set(raw) - EXPECT_KEYS:
        raise QuestionsError(f"{where}: unknown expect key(s) {', '.join(sorted(unknown))}; use {', '.join(sorted(EXPECT_KEYS))}.")
    return Expect(
        relevant=_titles(raw.get("relevant", []), f"{where} expect.relevant"),
        exact=_titles(raw["exact"], f"{where} expect.exact") if "exact" in raw else None,
        absent=_titles(raw.get("absent", []), f"{where} expect.absent"),
        min_recall=float(raw["min_recall"]) if "min_recall" in raw else None,
        k=int(raw["k"]) if "k" in raw else None,
        no_citations=bool(raw.get("no_citations", False)),
        no_sql=bool(raw.get("no_sql", False)),
        must_not_contain=tuple(str(s) for s in raw.get("must_not_contain", [])),
        top=_titles(raw["top"], f"{where} expect.top") if "top" in raw else None,
        count=_count(raw.get("count"), where),
        lead=_lead(raw.get("lead", []), where),
    )


def _count(raw: Any, where: str) -> int | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
        raise QuestionsError(f"{where}: expect.count must be a whole number of at least 0, not {raw!r}.")
    return raw


def _lead(raw: Any, where: str) -> tuple[str | tuple[str, ...], ...]:
    if not isinstance(raw, list):
        raise QuestionsError(f"{where}: expect.lead must be a list of strings (or lists of alternatives).")
    out: list[str | tuple[str, ...]] = []
    for entry in raw:
        if isinstance(entry, str | int | float) and not isinstance(entry, bool):
            out.append(str(entry))
        elif isinstance(entry, list) and entry and all(isinstance(e, str) for e in entry):
            out.append(tuple(entry))
        else:
            raise QuestionsError(f"{where}: expect.lead entry {entry!r} is not a string or a list of strings.")
    return tuple(out)


def _turn(raw: Mapping[str, Any], where: str) -> Turn:
    question = raw.get("question")
    if not isinstance(question, str) or not question.strip():
        raise QuestionsError(f"{where}: every turn needs a non-empty question.")
    route = raw.get("route", "any")
    if route not in ROUTES:
        raise QuestionsError(f"{where}: route {route!r} is not one of {', '.join(ROUTES)}.")
    drafts = raw.get("sql_draft") or []
    drafts = [drafts] if isinstance(drafts, str) else list(drafts)
    if len(drafts) > 2:
        raise QuestionsError(f"{where}: sql_draft holds at most two drafts (the draft and its repair).")
    verdict = raw.get("sql_expect")
    if verdict is not None and verdict not in SQL_VERDICTS:
        raise QuestionsError(f"{where}: sql_expect {verdict!r} is not one of {', '.join(SQL_VERDICTS)}.")
    return Turn(
        question=" ".join(question.split()), route=route, expect=_expect(raw.get("expect"), where),
        sql_drafts=tuple(str(d) for d in drafts), sql_expect=verdict, llm_answer=raw.get("llm_answer"),
    )


def load_questions(path: str | Path) -> Questions:
    """Parse and validate a questions file (see eval/questions.yaml for the format)."""
    p = Path(path)
    try:
        doc = yaml.load(p.read_text(encoding="utf-8"), Loader=SAFE_LOADER)
    except OSError as exc:
        raise QuestionsError(f"Cannot read the questions file {p}: {exc.strerror or exc}.") from None
    except yaml.YAMLError as exc:
        raise QuestionsError(f"{p} is not valid YAML ({str(exc).splitlines()[0]}).") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("items"), list) or not doc["items"]:
        raise QuestionsError(f"{p} must be a mapping with a non-empty `items` list.")
    items, seen = [], set()
    for n, raw in enumerate(doc["items"], 1):
        if not isinstance(raw, dict) or not raw.get("id"):
            raise QuestionsError(f"{p} item {n}: every item needs an id.")
        where = f"{p} item {raw['id']}"
        if raw["id"] in seen:
            raise QuestionsError(f"{where}: the id is used twice; ids must be unique.")
        seen.add(raw["id"])
        if unknown := set(raw) - ITEM_KEYS:
            raise QuestionsError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}.")
        if raw.get("turns"):
            turns = tuple(_turn(t, f"{where} turn {i}") for i, t in enumerate(raw["turns"], 1))
        else:
            turns = (_turn(raw, where),)
        cls = raw.get("class", "other")
        if cls not in CLASSES:
            raise QuestionsError(f"{where}: class {cls!r} is not one of {', '.join(CLASSES)}.")
        items.append(Item(
            id=str(raw["id"]), turns=turns, unsafe=bool(raw.get("unsafe")), tags=tuple(raw.get("tags") or ()), cls=cls,
        ))
    return Questions(path=str(p), k=int(doc.get("k", 8)), items=tuple(items))


# --- the Ollama fake's script (fake mode) ----------------------------------------------------

_ROWS_BLOCK = re.compile(r"<<<ROWS\n(.*?)\nROWS>>>", re.S)


def fake_answer(request: Any) -> str:
    """An answer the fake model writes from the rows in its prompt: the first five, bold with
    year (so the citation check finds them); to a JSON (SQL-drafting) request it declines with
    {"sql": ""}, so the graph searches instead. `request` needs `.last_user` and `.format`."""
    if getattr(request, "format", None):  # a SQL-drafting call for an item with no scripted draft
        return json.dumps({"sql": ""})
    m = _ROWS_BLOCK.search(getattr(request, "last_user", "") or "")
    if not m:
        return "I can help you explore your movie catalog."
    rows = [json.loads(line) for line in m.group(1).splitlines() if line.strip()]
    if not rows:
        return "Nothing in your catalog matches that."
    lines = ["Here is what your catalog has:"]
    lines += [f"- **{r['title']}** ({r.get('year')})" for r in rows[:5]]
    return "\n".join(lines)


def fake_replies(questions: Questions) -> list[tuple[str, str]]:
    """(regex, reply) pairs for OllamaFake.script: each item's SQL drafts (matched on the exact
    question, repairs on the rejected draft quoted in the repair prompt) and scripted answers.
    Pass `default=fake_answer` with them."""
    repairs, drafts, answers = [], [], []
    for item in questions.items:
        for turn in item.turns:
            if turn.sql_drafts:
                drafts.append((rf"\A{re.escape(turn.question)}\Z", json.dumps({"sql": turn.sql_drafts[0]})))
                if len(turn.sql_drafts) > 1:
                    repairs.append((rf"Previous SQL: {re.escape(turn.sql_drafts[0])}\s*\n", json.dumps({"sql": turn.sql_drafts[1]})))
            if turn.llm_answer:
                answers.append((rf"\AQuestion: {re.escape(turn.question)}\n", turn.llm_answer))
    return repairs + drafts + answers


# --- running -------------------------------------------------------------------------------

Fingerprint = Callable[[], Mapping[str, int]]
"""Counts that must not change while the eval runs (movies, ratings): a write would show."""


@dataclass(kw_only=True)
class _Trace:
    drafts: list[str] = field(default_factory=list)
    verdicts: list[str] = field(default_factory=list)
    accepted_sql: list[str] = field(default_factory=list)
    run_attempts: int = 0
    answer_fallbacks: list[dict[str, Any]] = field(default_factory=list)
    """The answering stage's own fallbacks (the generate step; not plan filling or SQL drafting)."""


def _flagged(notes: Sequence[str], answer: str) -> list[str]:
    names: list[str] = []
    for note in notes:
        if note.startswith(FLAG_NOTE):
            names += [n.strip() for n in note[len(FLAG_NOTE):].rstrip(".").split(", ") if n.strip()]
    if not names and FLAG_MARK in answer:
        names.append("(flagged in the answer text)")
    return names


async def _ask(bot: Any, question: str, thread_id: str) -> tuple[Any, _Trace, float]:
    from chatbot.answer import AnswerEvent, StepEvent

    trace = _Trace()
    final = None
    started = time.perf_counter()
    async for event in bot.astream(question, thread_id=thread_id):
        if isinstance(event, StepEvent):
            d = event.detail
            if event.node == "draft_sql" and d.get("sql_draft"):
                trace.drafts.append(d["sql_draft"])
            elif event.node == "check_sql":
                trace.verdicts.append(d.get("verdict", "rejected"))
                if d.get("verdict") == "accepted":
                    # the guard's output: what runs, and the readable form the Answer shows
                    trace.accepted_sql += [d[k] for k in ("sql_checked", "sql_readable") if d.get(k)]
            elif event.node == "run_sql":
                trace.run_attempts += 1
            elif event.node == "generate":
                trace.answer_fallbacks = list(d.get("fallbacks") or [])
        elif isinstance(event, AnswerEvent):
            final = event.answer
    total_ms = round((time.perf_counter() - started) * 1000, 2)
    assert final is not None, "the chatbot stream ended without an answer"
    return final, trace, total_ms


def llm_use(model: str | None, answer_fallbacks: Sequence[Mapping[str, Any]]) -> str:
    """Whose answer the turn showed: "used" (a model's), "fell_back" (the extractive answer after
    every model failed or gave an unusable answer) or "not_asked" (no rows, or no model up)."""
    if model is not None:
        return "used"
    return "fell_back" if answer_fallbacks else "not_asked"


def _sql_verdict_ok(expected: str, verdicts: Sequence[str], executed: bool) -> bool:
    if expected == "accepted":
        return verdicts[:1] == ["accepted"] and executed
    if expected == "repaired":
        return verdicts[:2] == ["rejected", "accepted"] and executed
    return bool(verdicts) and all(v == "rejected" for v in verdicts) and not executed


def score_turn(
    *, item: Item, index: int, turn: Turn, answer: Any, trace: _Trace, total_ms: float, k: int,
    mode: str, known_citations: set[tuple[int, str, int | None]], intact: bool,
) -> dict[str, Any]:
    """The record of one turn: what happened and whether it is right (fields: see eval.metrics)."""
    failures: list[str] = []
    rows = list(answer.rows)
    ranked = row_keys(rows)
    exp = turn.expect
    route_ok = turn.route == "any" or answer.route == turn.route
    if not route_ok:
        failures.append(f"routed {answer.route}, expected {turn.route}")

    kind, recall, rr, ndcg, exact_ok, set_p = "none", None, None, None, None, None
    cut = exp.k or k
    if exp.exact is not None:
        kind = "exact"
        set_p, recall, exact_ok = set_scores(ranked, exp.exact)
        if not exact_ok:
            missing = [t for t, y in exp.exact if not any(matches(r, (t, y)) for r in ranked)]
            extra = len(set(ranked)) - (len(exp.exact) - len(missing))
            failures.append(f"result set differs: {len(missing)} expected missing, {extra} extra")
    elif exp.relevant:
        kind = "ranked"
        recall = recall_at_k(ranked, exp.relevant, cut)
        rr = reciprocal_rank(ranked, exp.relevant)
        ndcg = ndcg_at_k(ranked, exp.relevant, cut)
        need = exp.min_recall if exp.min_recall is not None else 1.0 / len(exp.relevant)
        if recall + 1e-9 < need:
            failures.append(f"recall@{cut} {recall:.2f} < {need:.2f}")

    cited = [(c.id, c.title, c.year) for c in answer.citations]
    cited_keys = [key(t, y) for _, t, y in cited]
    if exp.exact and not set_scores(cited_keys, exp.exact)[2]:
        failures.append(f"citations ({len(set(cited_keys))}) are not the expected set of {len(exp.exact)}")
    if exp.top is not None:
        kind = "top" if kind == "none" else kind
        exact_ok = set_scores(ranked[: len(exp.top)], exp.top)[2]
        if not exact_ok:
            got = ", ".join(f"{r.get('title')} ({r.get('year')})" for r in rows[: len(exp.top)]) or "no rows"
            failures.append(f"top row(s) {got}; expected {len(exp.top)} row(s) tied at the top")
    lead_sentence = first_sentence(answer.answer)
    if exp.count is not None and not states_count(lead_sentence, exp.count):
        failures.append(f"first sentence does not state {exp.count}: {lead_sentence!r}")
    missed = [e if isinstance(e, str) else " / ".join(e) for e in exp.lead if not holds(lead_sentence, e)]
    if missed:
        failures.append(f"first sentence lacks {', '.join(repr(m) for m in missed)}: {lead_sentence!r}")
    for want in exp.absent:
        if any(matches(r, want) for r in ranked + cited_keys):
            failures.append(f"{want[0]} should not be in the answer")
    if exp.no_citations and cited:
        failures.append(f"{len(cited)} citation(s) where none were expected")
    if exp.no_sql and answer.sql:
        failures.append("SQL ran where none should")
    low = answer.answer.casefold()
    leaked = [s for s in exp.must_not_contain if s.casefold() in low]
    if leaked:
        failures.append("answer contains " + ", ".join(repr(s) for s in leaked))

    flagged = _flagged(answer.notes, answer.answer)
    if flagged:
        failures.append("titles not in the rows: " + ", ".join(flagged))
    row_ids = {r.get("id") for r in rows}
    valid = sum(1 for c in cited if c[0] in row_ids and c in known_citations)

    from chatbot.nodes import FELL_BACK

    fallback_notes = [n for n in answer.notes if n.endswith(FELL_BACK)]
    fell_back = bool(fallback_notes)
    failed_runs = sum(1 for n in fallback_notes if not n.startswith(NOT_RUN_NOTES))
    executed = answer.sql is not None
    outside = int(executed and answer.sql not in trace.accepted_sql)
    verdict_ok = None
    if mode == "fake" and turn.sql_expect:
        verdict_ok = _sql_verdict_ok(turn.sql_expect, trace.verdicts, executed)
        if not verdict_ok:
            failures.append(f"SQL verdicts {trace.verdicts or ['none']}, expected {turn.sql_expect}")
    if outside:
        failures.append("executed SQL the guard did not accept")
    if not intact:
        failures.append("the catalog changed during the turn")
    safety_ok = None
    if item.unsafe:
        safety_ok = not outside and intact and not leaked and verdict_ok is not False

    final_verdict = trace.verdicts[-1] if trace.verdicts else None
    return {
        "item": item.id,
        "class": item.cls,
        "turn": index,
        "question": turn.question,
        "expected_route": turn.route if turn.route != "any" else None,
        "route": answer.route,
        "route_ok": route_ok,
        "kind": kind,
        "k": cut,
        "recall": recall,
        "rr": rr,
        "ndcg": ndcg,
        "set_precision": set_p,
        "exact_ok": exact_ok,
        "rows": [{"id": r.get("id"), "title": r.get("title"), "year": r.get("year")} for r in rows],
        "citations": len(cited),
        "citations_valid": valid,
        "flagged": flagged,
        "answer_len": len(answer.answer),
        "first_sentence": lead_sentence,
        "unsafe": item.unsafe,
        "safety_ok": safety_ok,
        "sql": {
            "drafts": len(trace.drafts),
            "checked": len(trace.verdicts),
            "accepted": trace.verdicts.count("accepted"),
            "run_attempts": trace.run_attempts,
            "executed": max(0, trace.run_attempts - failed_runs),
            "repaired": len(trace.verdicts) >= 2 and trace.verdicts[0] == "rejected",
            "final_verdict": final_verdict,
            "fell_back": fell_back,
            "outside_guard": outside,
            "expected_verdict": turn.sql_expect if mode == "fake" else None,
            "verdict_ok": verdict_ok,
            "executed_sql": answer.sql,
        },
        "model": answer.model,
        "fallbacks": [{"model": f.model, "reason": f.reason} for f in answer.fallbacks],
        "answer_fallbacks": trace.answer_fallbacks,
        "llm_use": llm_use(answer.model, trace.answer_fallbacks),
        "timings_ms": dict(answer.timings_ms),
        "total_ms": total_ms,
        "notes": list(answer.notes),
        "answer": answer.answer,
        "passed": not failures,
        "failures": failures,
    }


async def run_eval(
    bot: Any, questions: Questions, *, mode: str, fingerprint: Fingerprint | None = None,
    progress: Callable[[str], Awaitable[None] | None] | None = None,
) -> dict[str, Any]:
    """Ask every item (each in a fresh thread; turns of an item share it) and score it.
    Returns the report: figures, per-item and per-turn records, catalog fingerprint."""
    if mode not in MODES:
        raise ValueError(f"mode {mode!r} is not one of {MODES}")
    before = dict(fingerprint()) if fingerprint else {}
    turns: list[dict[str, Any]] = []
    items: list[dict[str, Any]] = []
    for item in questions.items:
        thread = f"eval-{item.id}-{uuid.uuid4().hex[:8]}"
        records = []
        for i, turn in enumerate(item.turns, 1):
            answer, trace, total_ms = await _ask(bot, turn.question, thread)
            ids = [c.id for c in answer.citations]
            known = set()
            if ids:
                known = {(h.id, h.title, h.year) for h in bot.deps.catalog.get(ids)}
            now = dict(fingerprint()) if fingerprint else {}
            rec = score_turn(
                item=item, index=i, turn=turn, answer=answer, trace=trace, total_ms=total_ms,
                k=questions.k, mode=mode, known_citations=known, intact=now == before,
            )
            records.append(rec)
            if progress is not None:
                maybe = progress(f"{'PASS' if rec['passed'] else 'FAIL'} {item.id}#{i} [{rec['route']}] {'; '.join(rec['failures'])}")
                if maybe is not None:
                    await maybe
        turns += records
        items.append({
            "id": item.id, "class": item.cls, "tags": list(item.tags), "unsafe": item.unsafe, "turns": len(records),
            "passed": all(r["passed"] for r in records),
            "failures": [f"turn {r['turn']}: {f}" if len(records) > 1 else f for r in records for f in r["failures"]],
        })
    return {
        "mode": mode,
        "questions": questions.path,
        "k": questions.k,
        "catalog": before,
        "figures": summarize(turns, items),
        "items": items,
        "turns": turns,
    }
