"""The eval end to end: `movie-rag eval` over the course catalog (+ MovieLens ratings of its films)
on the real embedded Postgres — extractive mode against eval/baseline.json (the CI gate), and the
SQL path through the loopback Ollama fake serving each item's scripted drafts."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from ollama_fake import OllamaFake
from test_eval_wheel import installed  # noqa: F401 - the installed-wheel fixture

from chatbot.cli import main
from eval.build_expected import load_course, movielens_subset
from eval.course_run import HASH_SEED
from eval.harness import fake_answer, fake_replies, load_questions
from retrieval.database import libpq_url, make_engine
from retrieval.ingest import ingest_movielens
from retrieval.schema import create_schema

pytestmark = pytest.mark.integration

EVAL = Path(__file__).resolve().parents[1] / "eval"
FAKE_MODEL = "fake-sql:1b"


@pytest.fixture(scope="module")
def eval_db(course_db: str, new_database, embedder, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The course catalog copied row for row (embeddings included) into a fresh database, plus the
    MovieLens ratings of its films — the catalog eval/baseline.json was saved on."""
    url = new_database("eval")
    engine = make_engine(url)
    try:
        create_schema(engine)
        with psycopg.connect(libpq_url(course_db)) as src, psycopg.connect(libpq_url(url)) as dst:
            cols = [r[0] for r in src.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'movies' "
                "AND table_schema = 'public' AND is_generated = 'NEVER' ORDER BY ordinal_position"
            )]
            listed = ", ".join(cols)
            with src.cursor().copy(f"COPY movies ({listed}) TO STDOUT") as out, \
                    dst.cursor().copy(f"COPY movies ({listed}) FROM STDIN") as into:
                for chunk in out:
                    into.write(chunk)
            dst.execute("SELECT setval(pg_get_serial_sequence('movies', 'id'), (SELECT max(id) FROM movies))")
        ml = movielens_subset(load_course(), tmp_path_factory.mktemp("ml"))
        ingest_movielens(engine, ml, embedder)
    finally:
        engine.dispose()
    return url


def _eval(monkeypatch: pytest.MonkeyPatch, url: str, *args: str, **env: str) -> int:
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.delenv("MOVIE_RAG_LLM", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return main(["eval", *args])


def _eval_process(url: str, *args: str, cwd: Path | None = None, pythonpath: str | None = None) -> tuple[int, str]:
    """`movie-rag eval` in a process of its own with the hash seed the baseline was saved with
    (today's rule reader orders some name candidates by set iteration, so answers can differ
    between seeds; a fixed seed keeps the gate a comparison of code, not of seeds)."""
    env = {**os.environ, "DATABASE_URL": url, "PYTHONHASHSEED": HASH_SEED}
    env.pop("MOVIE_RAG_LLM", None)
    if pythonpath is not None:
        env["PYTHONPATH"] = pythonpath
    done = subprocess.run(
        [sys.executable, "-m", "chatbot.cli", "eval", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=900,
    )
    return done.returncode, done.stdout


def test_extractive_eval_holds_the_baseline(eval_db: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    rc, stdout = _eval_process(eval_db, "--llm", "none", "--out", str(out), "--json")
    printed = json.loads(stdout)
    assert printed["baseline"]["found"], printed["baseline"]["profile"]
    assert printed["baseline"]["gate_failures"] == []
    assert rc == 0

    report = json.loads((out / "report.json").read_text())
    assert report["mode"] == "none"
    assert report["catalog"]["movies"] == 631
    assert len(report["items"]) == len(load_questions(EVAL / "questions.yaml").items)
    f = report["figures"]
    assert f["models"] == {"extractive": f["turns"]}
    assert f["sql"]["drafts"] == 0 and f["safety"]["sql_outside_guard"] == 0
    assert f["safety"]["refused_share"] == 1.0
    assert f["grounding"]["citation_precision"] == 1.0
    by_id = {i["id"]: i for i in report["items"]}
    # Exact sets derived from movies.json, answered by the rule router's filters.
    for item in ("director-spielberg-90s", "director-kubrick-all", "horror-70s", "none-director-bong", "follow-spielberg-war"):
        assert by_id[item]["passed"], by_id[item]["failures"]
    for name in ("report.md", "recall_by_route.png", "latency_by_node.png", "pass_fail.png"):
        assert (out / name).stat().st_size > 500, name
    assert (out / "pass_fail.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| similar |" in (out / "report.md").read_text()

    # The gate: the same run against a floor just above today's recall fails the build.
    raised = json.loads((EVAL / "baseline.json").read_text())
    profile = raised["profiles"][printed["baseline"]["profile"]]
    profile["gate"]["retrieval.recall_at_k"] = f["retrieval"]["recall_at_k"] + 0.01
    (tmp_path / "raised.json").write_text(json.dumps(raised))
    shutil.rmtree(out)
    rc, stdout = _eval_process(eval_db, "--llm", "none", "--out", str(out), "--baseline", str(tmp_path / "raised.json"))
    gate_lines = [ln for ln in stdout.splitlines() if "GATE:" in ln]
    assert rc == 1
    assert gate_lines == [
        f"  GATE: retrieval.recall_at_k is {f['retrieval']['recall_at_k']:.3f}, below the baseline floor "
        f"{f['retrieval']['recall_at_k'] + 0.01:.3f}"
    ]


def test_sql_path_through_the_ollama_fake(eval_db: str, monkeypatch, tmp_path: Path, capsys) -> None:
    questions = load_questions(EVAL / "questions.yaml").select(["sql_path"])
    out = tmp_path / "out"
    with OllamaFake() as fake:
        fake.script(FAKE_MODEL, replies=fake_replies(questions), default=fake_answer)
        rc = _eval(
            monkeypatch, eval_db, "--llm", "fake", "--only", "sql_path", "--no-baseline", "--out", str(out), "--json",
            OLLAMA_BASE_URL=fake.base_url, MOVIE_RAG_MODELS=FAKE_MODEL,
        )
    assert rc == 0
    capsys.readouterr()
    report = json.loads((out / "report.json").read_text())
    f = report["figures"]
    by_id = {t["item"]: t for t in report["turns"]}
    assert {i: t["sql"]["verdict_ok"] for i, t in by_id.items() if t["sql"]["expected_verdict"]} == {
        "director-spielberg-90s": True,  # accepted as drafted
        "director-hitchcock-50s": True,  # unknown table rejected, repair accepted
        "director-tarantino": True,
        "unsafe-draft-delete": True,  # DELETE, then a stacked DROP: both refused
        "unsafe-draft-catalog": True,  # pg_shadow, then a UNION over pg_user: both refused
    }
    assert by_id["director-hitchcock-50s"]["sql"]["repaired"] is True
    assert by_id["director-hitchcock-50s"]["exact_ok"] is True
    assert by_id["unsafe-draft-delete"]["sql"]["executed_sql"] is None
    # 8 guard checks: 1 + 2 + 1 + 2 + 2, of which 3 accepted; all 3 accepted queries ran and gave
    # exactly the expected set; both attacks fell back to search.
    assert f["sql"] == {
        "turns_with_drafts": 5, "drafts": 8, "accepted_share": 0.375, "executed_share": 1.0,
        "exact_result_share": 1.0, "repairs": 3, "repairs_accepted": 1, "fallbacks_to_search": 2,
        "verdicts_as_expected": 1.0,
    }
    assert f["safety"] == {"unsafe_turns": 2, "refused_share": 1.0, "sql_outside_guard": 0}
    # The scripted answer naming Jackie Brown (not in the catalog) is caught by the citation check.
    assert by_id["tarantino-crime"]["flagged"] == ["Jackie Brown"]
    assert f["grounding"]["hallucinated_title_rate"] == round(1 / 6, 4)
    assert f["models"] == {FAKE_MODEL: 6}


def test_installed_wheel_runs_a_gated_eval(eval_db: str, installed: tuple[Path, Path], tmp_path: Path) -> None:  # noqa: F811
    """`movie-rag eval` from an installed wheel, outside the source tree: it finds its questions
    and baseline (package data) and gates on the baseline's profile for this catalog."""
    _, target = installed
    rc, stdout = _eval_process(
        eval_db, "--only", "chitchat", "--out", str(tmp_path / "out"), "--json", cwd=tmp_path, pythonpath=str(target),
    )
    printed = json.loads(stdout)
    assert printed["baseline"]["found"], printed["baseline"]["profile"]
    assert rc == (0 if printed["gate_ok"] else 1)
    assert printed["gate_ok"], printed["baseline"]["gate_failures"]
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert Path(report["questions"]) == target / "eval" / "questions.yaml"
    assert set(report["figures"]["classes"]) == {"chitchat"}
