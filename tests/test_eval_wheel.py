"""The eval's data ships in the wheel: questions and baseline are package data, found through
importlib.resources by an installed copy run from outside the source tree."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "README.md", "chatbot", "prompts", "retrieval", "eval")


def _pip(*args: str, cwd: Path) -> None:
    # --no-build-isolation: build with this environment's setuptools, no index needed
    subprocess.run([sys.executable, "-m", "pip", "-q", *args], cwd=cwd, check=True, capture_output=True, text=True)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(wheel, target): the project built into a wheel from a copy of its sources (so the
    checkout gets no build/ or egg-info) and installed, without dependencies, into `target`."""
    work = tmp_path_factory.mktemp("wheel")
    src = work / "src"
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__", "out", "*.pyc"))
        else:
            src.mkdir(exist_ok=True)
            shutil.copy2(path, src / name)
    _pip("wheel", "--no-deps", "--no-build-isolation", "-w", str(work / "dist"), str(src), cwd=work)
    wheel = next((work / "dist").glob("movie_rag-*.whl"))
    target = work / "site"
    _pip("install", "--no-deps", "--no-compile", "--target", str(target), str(wheel), cwd=work)
    return wheel, target


def test_wheel_holds_the_eval_data(installed: tuple[Path, Path]) -> None:
    wheel, _ = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"eval/questions.yaml", "eval/baseline.json", "eval/harness.py"} <= names
    with zipfile.ZipFile(wheel) as zf:
        assert zf.read("eval/questions.yaml") == (ROOT / "eval" / "questions.yaml").read_bytes()
        assert json.loads(zf.read("eval/baseline.json")) == json.loads((ROOT / "eval" / "baseline.json").read_text())


def test_installed_copy_loads_its_own_data(installed: tuple[Path, Path], tmp_path: Path) -> None:
    _, target = installed
    probe = (
        "import json, eval, chatbot.commands.eval as cmd\n"
        "from eval.harness import load_questions\n"
        "from eval.report import load_baseline\n"
        "q = load_questions(cmd.DEFAULT_QUESTIONS)\n"
        "b = load_baseline(cmd.DEFAULT_BASELINE)\n"
        "print(json.dumps({'eval': eval.__file__, 'questions': str(cmd.DEFAULT_QUESTIONS),"
        " 'baseline': str(cmd.DEFAULT_BASELINE), 'items': len(q.items), 'profiles': sorted(b['profiles'])}))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    # run from an empty folder: nothing of the checkout is on sys.path ahead of the installed copy
    done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env, check=True, capture_output=True, text=True)
    seen = json.loads(done.stdout)
    assert Path(seen["eval"]).parent == target / "eval"
    assert Path(seen["questions"]) == target / "eval" / "questions.yaml"
    assert Path(seen["baseline"]) == target / "eval" / "baseline.json"
    shipped = json.loads((ROOT / "eval" / "baseline.json").read_text())
    assert seen["profiles"] == sorted(shipped["profiles"]) and seen["profiles"]
    from eval.harness import load_questions

    assert seen["items"] == len(load_questions(ROOT / "eval" / "questions.yaml").items)
