"""`movie-rag ask QUESTION [--thread ID] [--json]` — one question through the graph."""

from __future__ import annotations

import argparse
import asyncio
import sys

from chatbot.answer import Answer, AnswerEvent, StepEvent, TokenEvent
from chatbot.cli import EXIT_OK, UserError, print_json
from chatbot.settings import Settings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ask", help="ask one question about the catalog")
    p.add_argument("question")
    p.add_argument("--thread", metavar="ID", help="continue this conversation thread (follow-ups)")
    p.add_argument("--json", action="store_true", help="print the Answer object as JSON only")
    p.add_argument("--no-llm", action="store_true", help="answer from the rows without any LLM")
    p.add_argument("--trace", action="store_true", help="print each graph step to stderr")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if not args.question.strip():
        raise UserError("The question is empty; ask something about your movies.")
    settings = Settings.from_env()
    if args.no_llm:
        settings = settings.with_(llm="none")
    answer = asyncio.run(_ask(settings, args.question, args.thread, stream=not args.json, trace=args.trace))
    if args.json:
        print_json(answer.to_json())
    else:
        _print_tail(answer)
    return EXIT_OK


async def _ask(settings: Settings, question: str, thread: str | None, *, stream: bool, trace: bool) -> Answer:
    from chatbot.api import Chatbot

    async with await Chatbot.open(settings) as bot:
        final: Answer | None = None
        async for event in bot.astream(question, thread_id=thread):
            if isinstance(event, TokenEvent) and stream:
                sys.stdout.write(event.text)
                sys.stdout.flush()
            elif isinstance(event, StepEvent) and event.node == "restart" and stream:
                # a model failed mid-answer; the next one starts over
                print(f"\n[{event.detail['reason']}; starting over]", file=sys.stderr)
            elif isinstance(event, StepEvent) and trace:
                print(f"[{event.node} {event.elapsed_ms:.0f} ms] {event.detail}", file=sys.stderr)
            elif isinstance(event, AnswerEvent):
                final = event.answer
        assert final is not None
        return final


def _print_tail(answer: Answer) -> None:
    print()
    for note in answer.notes:
        print(f"note: {note}")
    if answer.citations:
        print("sources: " + "; ".join(f"#{c.id} {c.title} ({c.year})" for c in answer.citations))
    print(f"thread: {answer.thread_id} (continue with --thread {answer.thread_id})")
