"""`movie-rag eval` — canned questions through the chatbot API, scored, reported, gated.

    movie-rag eval [--questions FILE] [--llm none|ollama|fake] [--out DIR] [--baseline FILE]
                   [--no-baseline] [--update-baseline] [--only ID,TAG,...] [--json]

Exit 0 when the run holds the baseline's floors, 1 when any class's accuracy, retrieval recall,
grounding or safety fell below them, 2 for bad input (a malformed questions file, an empty catalog).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from chatbot.cli import EXIT_ERROR, EXIT_OK, UserError, print_json
from chatbot.settings import Settings
from eval import BASELINE_FILE, QUESTIONS_FILE, packaged

# Package data of `eval` (importlib.resources): found the same from a checkout or an installed wheel.
DEFAULT_QUESTIONS = packaged(QUESTIONS_FILE)
DEFAULT_BASELINE = packaged(BASELINE_FILE)
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="score canned questions against the catalog (report + baseline gate)")
    p.add_argument("--questions", type=Path, default=DEFAULT_QUESTIONS, metavar="FILE", help="questions YAML (default: the packaged eval/questions.yaml)")
    p.add_argument("--llm", choices=("none", "ollama", "fake"), default="none",
                   help="none: extractive, no LLM (default, deterministic); ollama: the configured Ollama; "
                        "fake: a loopback Ollama-API fake serving each item's sql_draft (started by the caller)")
    p.add_argument("--out", type=Path, default=None, metavar="DIR",
                   help="where report.json, report.md and the PNGs go (default eval/out, and eval/out-MODE beside it "
                        "for --llm ollama|fake, so a model run does not overwrite the extractive one)")
    p.add_argument("--baseline", type=Path, default=DEFAULT_BASELINE, metavar="FILE", help="baseline to compare with and gate on (default: the packaged eval/baseline.json)")
    p.add_argument("--no-baseline", action="store_true", help="do not compare or gate")
    p.add_argument("--update-baseline", action="store_true", help="save this run as the baseline profile for its mode and catalog")
    p.add_argument("--only", default="", metavar="IDS", help="comma list of item ids, classes or tags to run")
    p.add_argument("--json", action="store_true", help="print the figures, the comparison and the gate as JSON only")
    p.add_argument("--similarity", action="store_true",
                   help="instead: the similarity benchmark (franchise recall, co-liking, genre agreement) "
                        "per embedding profile x metric and for the blend; writes similarity.{json,md,png}")
    p.add_argument("--recs", action="store_true",
                   help="instead of questions: the offline evaluation of the recommenders on the loaded MovieLens ratings")
    p.add_argument("--recs-users", type=int, default=None, metavar="N", help="with --recs: only the first N users (default all)")
    p.add_argument("--recs-seed", type=int, default=42, metavar="S", help="with --recs: the hold-out seed (default 42)")
    p.set_defaults(handler=run)


def run_similarity(args: argparse.Namespace) -> int:
    """`eval --similarity`: eval/similarity.py on the configured catalog."""
    from chatbot.wiring import engine
    from eval import similarity

    eng = engine(Settings.from_env())
    with eng.connect() as conn:
        from sqlalchemy import text

        if not conn.execute(text("SELECT count(*) FROM movies")).scalar_one():
            raise UserError("The catalog is empty; load it first (make catalog, or movie-rag ingest movies PATH).")
    report = similarity.run(eng, progress=None if args.json else (lambda line: print(line, file=sys.stderr)))
    return _show_side_report(args, similarity, report)


def _show_side_report(args: argparse.Namespace, module: Any, report: dict[str, Any]) -> int:
    """Write a side evaluation's files (`module.write`) and print its JSON or Markdown."""
    paths = module.write(report, args.out)
    if args.json:
        print_json(report)
    else:
        print(module.markdown(report))
        print("wrote " + ", ".join(str(p) for p in paths))
    return EXIT_OK


def default_out(llm: str) -> Path:
    """eval/out for the extractive run; a model run's report goes beside it (eval/out-ollama)."""
    return Path("eval/out") if llm == "none" else Path(f"eval/out-{llm}")


def _settings(llm: str) -> Settings:
    settings = Settings.from_env()
    if llm == "none":
        return settings.with_(llm="none")
    if llm == "fake":
        host = urlparse(settings.ollama_base_url).hostname or ""
        if host not in LOOPBACK:
            raise UserError(
                f"--llm fake needs OLLAMA_BASE_URL on this machine (a loopback Ollama fake), not {settings.ollama_base_url}; "
                "start the fake and point OLLAMA_BASE_URL at it, or use --llm ollama."
            )
    return settings.with_(llm="ollama")


def _fingerprint(settings: Settings):  # type: ignore[no-untyped-def]
    from sqlalchemy import text

    from chatbot.wiring import engine

    eng = engine(settings)

    def counts() -> dict[str, int]:
        with eng.connect() as conn:
            row = conn.execute(text("SELECT (SELECT count(*) FROM movies), (SELECT count(*) FROM ratings)")).one()
        return {"movies": int(row[0]), "ratings": int(row[1])}

    return counts


async def _run(settings: Settings, questions: Any, mode: str, quiet: bool) -> dict[str, Any]:
    from chatbot.api import Chatbot
    from eval.harness import run_eval

    fingerprint = await asyncio.to_thread(_fingerprint, settings)
    if (await asyncio.to_thread(fingerprint))["movies"] == 0:
        raise UserError("The catalog is empty; load it first (make catalog, or movie-rag ingest movies PATH).")

    def progress(line: str) -> None:
        if not quiet:
            print(line, file=sys.stderr)

    async with await Chatbot.open(settings) as bot:
        return await run_eval(bot, questions, mode=mode, fingerprint=fingerprint, progress=progress)


def _run_recs(args: argparse.Namespace) -> int:
    from chatbot.wiring import engine
    from eval import recs

    try:
        report = recs.evaluate(engine(Settings.from_env()), users=args.recs_users, seed=args.recs_seed,
                               progress=None if args.json else (lambda line: print(line, file=sys.stderr)))
    except ValueError as exc:
        raise UserError(f"{exc}.") from None
    return _show_side_report(args, recs, report)


def run(args: argparse.Namespace) -> int:
    if args.out is None:
        args.out = default_out(args.llm)
    if getattr(args, "similarity", False):
        return run_similarity(args)
    if getattr(args, "recs", False):
        return _run_recs(args)
    from eval import report as rep
    from eval.harness import QuestionsError, load_questions

    try:
        questions = load_questions(args.questions).select([s.strip() for s in args.only.split(",") if s.strip()])
        baseline = None if args.no_baseline else rep.load_baseline(args.baseline)
    except (QuestionsError, ValueError) as exc:
        raise UserError(str(exc)) from None
    settings = _settings(args.llm)
    report = asyncio.run(_run(settings, questions, args.llm, quiet=args.json))
    cmp = None if baseline is None else rep.compare(report, baseline)
    paths = rep.write(report, args.out, cmp)
    if args.update_baseline:
        rep.save_baseline(args.baseline, report)
    failed = bool(cmp and cmp["gate_failures"])
    if args.json:
        print_json({"figures": report["figures"], "baseline": cmp, "gate_ok": not failed, "out": str(args.out)})
    else:
        f = report["figures"]
        print(f"{f['items_passed']}/{f['items']} items passed; recall@k {f['retrieval']['recall_at_k']}, "
              f"grounded {f['grounding']['grounded_rate']}, unsafe refused {f['safety']['refused_share']}")
        for item in report["items"]:
            if not item["passed"]:
                print(f"  FAIL {item['id']}: {'; '.join(item['failures'])}")
        if cmp is not None:
            print("\n".join(rep.comparison_lines(cmp)))
        if args.update_baseline:
            print(f"saved baseline profile {rep.profile_key(report)} to {args.baseline}")
        print("wrote " + ", ".join(str(p) for p in paths))
    return EXIT_ERROR if failed else EXIT_OK
