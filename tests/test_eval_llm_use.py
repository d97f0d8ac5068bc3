"""`eval --llm ollama|fake` reports, per class, whose answer each turn showed (the model's, or the
extractive one after the models failed) and why: counted from the turns' answer-stage fallbacks.
The real cascade over the loopback Ollama fake; the graph's catalog is the unit-test fake."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from graph_fakes import FakeCatalog, FakeEmbedder
from ollama_fake import OllamaFake
from ollama_fixtures import ollama_fake_fixture  # noqa: F401

from chatbot.api import Chatbot
from chatbot.deps import Deps
from chatbot.llm import ChatCascade, LLMConfig
from chatbot.llm_hosts import HostPool
from eval import report as rep
from eval.harness import load_questions, run_eval

P, S = "big:8b", "small:1b"
QUESTIONS = """\
version: 1
k: 2
items:
  - {id: like-nemo, class: similar, question: movies like Finding Nemo, route: similar}
  - {id: like-jaws, class: similar, question: movies like Jaws, route: similar}
  - {id: shark-town, class: plot, question: shark panic at the beach, route: any}
"""
# The answer prompt starts "Question: <the question>"; plan-filling and drafting requests carry a
# JSON format and get "{}" (not a plan: that stage falls back, which must not count here).
P_REPLIES = [
    (r"\AQuestion: movies like Finding Nemo\n", "**Shark Tale** (2004) is the closest."),
    (r"\AQuestion: movies like Jaws\n", "Here are the CATALOG ROWS again."),  # recites the prompt
    (r"\AQuestion: shark panic", "CATALOG ROWS: none."),
]
S_REPLIES = [
    (r"\AQuestion: movies like Jaws\n", "**Finding Nemo** (2003) has a shark in it too."),
    # one row and two inventions: mostly titles not among the rows
    (r"\AQuestion: shark panic", "**Shark Tale** (2004), **The Meg** (2018) and **Sharknado** (2013)."),
]


def _default(request) -> str:
    return "{}" if request.format else "OK."


async def test_per_class_use_and_fallback_reasons_come_from_the_answer_stage(ollama_fake: OllamaFake, tmp_path: Path):
    ollama_fake.script(P, replies=P_REPLIES, default=_default)
    ollama_fake.script(S, replies=S_REPLIES, default=_default)
    cfg = LLMConfig(base_url=ollama_fake.base_url, models=(P, S))
    chat = ChatCascade(cfg, pool=HostPool(hosts=cfg.hosts, parallel=cfg.host_parallel, cooldown_s=cfg.cooldown_s))
    (tmp_path / "q.yaml").write_text(QUESTIONS)
    bot = Chatbot(Deps(catalog=FakeCatalog(), embedder=FakeEmbedder(), chat=chat, k=2, llm_routing=True))
    try:
        report = await run_eval(bot, load_questions(tmp_path / "q.yaml"), mode="fake")
    finally:
        await chat.aclose()

    turns = {t["item"]: t for t in report["turns"]}
    assert [(i, turns[i]["llm_use"], turns[i]["model"]) for i in turns] == [
        ("like-nemo", "used", P), ("like-jaws", "used", S), ("shark-town", "fell_back", None),
    ]
    assert turns["like-jaws"]["answer_fallbacks"] == [{"model": P, "reason": "unusable answer: recites the prompt"}]
    # the vague plot question went to the models for a plan first ("{}": not one); those
    # fallbacks are the turn's, but not the answer's
    assert turns["shark-town"]["fallbacks"][:2] == [{"model": P, "reason": "JSON lacks 'intent'"},
                                                    {"model": S, "reason": "JSON lacks 'intent'"}]
    assert turns["shark-town"]["answer_fallbacks"] == [
        {"model": P, "reason": "unusable answer: recites the prompt"},
        {"model": S, "reason": "unusable answer: mostly titles not among the rows"},
    ]
    use = report["figures"]["llm_use"]
    assert use["classes"] == {
        "plot": {"turns": 1, "used": 0, "fell_back": 1, "not_asked": 0, "used_share": 0.0, "reasons": {
            "unusable answer: mostly titles not among the rows": 1, "unusable answer: recites the prompt": 1}},
        "similar": {"turns": 2, "used": 2, "fell_back": 0, "not_asked": 0, "used_share": 1.0, "reasons": {
            "unusable answer: recites the prompt": 1}},
    }
    # the counts are the turns' answer-stage fallbacks: plan-filling failures are not among them
    assert use["all"]["reasons"] == dict(Counter(f["reason"] for t in report["turns"] for f in t["answer_fallbacks"]))
    assert use["all"]["reasons"] == {"unusable answer: recites the prompt": 2, "unusable answer: mostly titles not among the rows": 1}
    md = rep.markdown(report)
    assert "## Model answers by class" in md
    assert "| plot | 1 | 0 | 1 | 0 | 0.000 | unusable answer: mostly titles not among the rows × 1; unusable answer: recites the prompt × 1 |" in md


def test_a_model_run_reports_beside_the_extractive_one():
    from chatbot.commands.eval import default_out

    assert (default_out("none"), default_out("ollama"), default_out("fake")) == (
        Path("eval/out"), Path("eval/out-ollama"), Path("eval/out-fake"))
