"""The usability gate: is a model's answer worth showing? Small and weak models (and strong ones,
less often) recite the prompt's rules, echo text injected into the question or the catalog rows,
dump the raw rows, loop on one phrase, never answer, or present mostly films that are not among
the rows. Such an answer is *unusable*: the cascade
tries the next model, and with none left the graph answers extractively from the rows.

Pure functions over the text and the messages the model was given; `AnswerGate` judges a
streaming answer as early as it can (the prefix) and again when it is complete.
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from langchain_core.messages import BaseMessage

from chatbot.citations import KnownNames, check_citations
from retrieval.text import fold

log = logging.getLogger(__name__)

NGRAM = 7
"""Seven words in a row shared with the prompt's own text is recitation, not coincidence."""
PROMPT_MARKERS = re.compile(r"<<<ROWS|ROWS>>>|CATALOG ROWS|JSON lines|^\s*(?:question|rules)\s*:", re.I | re.M)
RAW_ROW = re.compile(r'\{\s*"(?:id|title)"\s*:')
INJECTION = re.compile(
    r"\b(?:ignore|disregard|forget)\s+(?:all\s+|any\s+|the\s+|your\s+)?(?:previous|prior|above|earlier)?\s*"
    r"(?:instructions|rules|prompts?)\b"
    r"|\b(?:drop|truncate|alter)\s+table\b|\bdelete\s+from\b|\binsert\s+into\b|\bupdate\s+movies\s+set\b"
    r"|\bsystem\s+prompt\b|\byou\s+are\s+now\b|\bnew\s+instructions\b",
    re.I,
)
REFUSAL = re.compile(
    r"\b(?:no|not any)\s+(?:film|films|movie|movies|rows?)\b|\bnone of (?:the|these|those|them|your)\b"
    r"|\bnot in (?:your|the) catalog\b"
    r"|\b(?:do|does|can)\s*n[o']t\s+(?:answer|find|contain)|\bcannot\s+(?:answer|find)\b",
    re.I,
)
REFUSAL_MAX_CHARS = 300
TURN_MARKER = re.compile(
    r"<(?:start|end)_of_turn>|<\|(?:im_start|im_end|eot_id|start_header_id)\|>"
    r"|^\s*(?:user|human|assistant|model|system)\s*:?\s*$|^\s*(?:user|human|assistant)\s*:", re.I | re.M)
"""The model writing chat-template turns (its own or the person's) instead of an answer."""
GLUED_TURN = re.compile(r"[a-z]{2,}(?<!super)(?<!re)(?<!multi)(?<!end)(?:model|user)\b")
"""A base model without a chat template writes the turn names into its text, glued to the word
before ("avezmodel", "Hello!verhaltenuser" in Gemma 3 270M's replies to "hello")."""
ROLE_OPENER = re.compile(r"^\W*you\s+are\s+(?:a|an|the|movie-?rag)\b", re.I)
"""A reply with no rows that opens like a system prompt ("You are a member of the user's movie
catalog…") is playing the prompt back, not talking to the person."""
CHAT_MAX_CHARS = 600
"""A reply with no rows is a greeting or "what I can do" (the prompt asks for one or two
sentences); past this it is rambling."""
QUESTION_LINE = re.compile(r"\s*question\s*:", re.I)
MIN_FLAGGED = 2
"""One unknown title is flagged in the answer and shown; more than half of them, and at least two,
make the answer unusable (an answer naming one row and one invention is 1 of 2: not most)."""


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", fold(text))


def _ngrams(tokens: Sequence[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}


def _content(message: BaseMessage) -> str:
    return message.content if isinstance(message.content, str) else message.text


def _is_row(line: str) -> bool:
    s = line.strip()
    return s.startswith("{") and s.endswith("}")


def prompt_texts(messages: Sequence[BaseMessage]) -> tuple[str, str]:
    """(the prompt's own words, the row lines). Own words are the system turns and the template
    lines of user turns; the person's question is not among them (an answer may restate it), so a
    user turn without rows or a "Question:" line counts as the question."""
    own: list[str] = []
    rows: list[str] = []
    for m in messages:
        if m.type == "system":
            own.append(_content(m))
        elif m.type == "human":
            lines = _content(m).splitlines()
            if not any(_is_row(x) or QUESTION_LINE.match(x) for x in lines):
                continue
            for line in lines:
                if _is_row(line):
                    rows.append(line)
                elif not QUESTION_LINE.match(line):
                    own.append(line)
    return "\n".join(own), "\n".join(rows)


def row_titles(messages: Sequence[BaseMessage]) -> list[str]:
    """Titles of the catalog rows in the last user turn (JSON lines with a "title")."""
    last = next((m for m in reversed(messages) if m.type == "human"), None)
    if last is None:
        return []
    titles = []
    for line in _content(last).splitlines():
        if not _is_row(line):
            continue
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict) and isinstance(row.get("title"), str):
            titles.append(row["title"])
    return titles


def _spellings(title: str) -> list[str]:
    """A title's words, and without a leading article when the rest is distinctive enough
    ("incredibles" for The Incredibles, but not "thing" for The Thing)."""
    full = " ".join(words(title))
    if not full:
        return []
    bare = re.sub(r"^(?:the|a|an) ", "", full)
    return [full, bare] if bare != full and (" " in bare or len(bare) >= 6) else [full]


def _repeats(tokens: list[str]) -> bool:
    """One 5-word phrase over and over (a degenerate loop)."""
    if len(tokens) < 30:
        return False
    grams = Counter(tuple(tokens[i : i + 5]) for i in range(len(tokens) - 4))
    _, top = grams.most_common(1)[0]
    return top >= 4 and top * 5 >= 0.4 * len(tokens)


@dataclass
class AnswerGate:
    """Judges one answer against the messages that produced it; `problem` returns a reason."""

    messages: Sequence[BaseMessage]
    titles: Sequence[str] | None = None
    """Titles the answer should draw on; None: read them from the rows in the last user turn."""
    names: KnownNames | None = None
    """Anchors the question named and names that are not films, as the citation check knows them."""
    _own: set[tuple[str, ...]] = field(init=False)
    _question: str = field(init=False)

    def __post_init__(self) -> None:
        own, _rows = prompt_texts(self.messages)
        self._own = _ngrams(words(own), NGRAM)
        last = next((m for m in reversed(self.messages) if m.type == "human"), None)
        self._question = " ".join(words(_content(last))) if last is not None else ""
        if self.titles is None:
            self.titles = row_titles(self.messages)

    def early(self, text: str) -> str | None:
        """What is already wrong with a partial answer (None: nothing yet)."""
        if PROMPT_MARKERS.search(text) or RAW_ROW.search(text):
            return "recites the prompt"
        tokens = words(text)
        if _ngrams(tokens, NGRAM) & self._own:
            return "recites the prompt"
        if TURN_MARKER.search(text):
            return "writes chat turns"
        if INJECTION.search(text):
            return "echoes injected text"
        if _repeats(tokens):
            return "repeats itself"
        return None

    def final(self, text: str) -> str | None:
        """The verdict on the complete answer."""
        tokens = words(text)
        if not tokens:
            return "empty"
        problem = self.early(text)
        if problem:
            return problem
        if len(tokens) >= 3 and " ".join(tokens) in self._question:
            return "repeats the question"
        if not self.titles:  # a chit-chat reply
            if ROLE_OPENER.search(text):
                return "recites the prompt"
            if GLUED_TURN.search(text):
                return "writes chat turns"
            if len(text) > CHAT_MAX_CHARS:
                return "rambles on"
        if self.titles and not self._uses_a_row(text):
            if len(text) <= REFUSAL_MAX_CHARS and REFUSAL.search(text):
                return None  # a plain "none of these fit" is an answer
            return "uses none of the retrieved rows"
        if self.titles:
            return self._mostly_flagged(text)
        return None

    @property
    def scans_catalog(self) -> bool:
        """Whether `final` looks the answer's words up in the catalog (run it off the event loop)."""
        return self.names is not None and self.names.titles_in is not None

    def _mostly_flagged(self, text: str) -> str | None:
        """Most title-shaped mentions (bold, quoted, list heads, "Name (year)", and catalog titles
        written as titles in prose when `names.titles_in` can look them up) are not rows; rows
        named anywhere in the text count for the answer."""
        names = self.names or KnownNames()
        rows = [{"id": i, "title": t} for i, t in enumerate(self.titles or ())]
        catalog: list[str] | None = None
        if names.titles_in is not None:
            try:
                catalog = list(names.titles_in(text))
            except Exception:  # a catalog that cannot be read must not make the answer unusable
                log.warning("could not look up the titles an answer names", exc_info=True)
        checked = check_citations(
            text, rows, catalog_titles=catalog, allowed=list(names.allowed), not_films=names.not_films,
        )
        flagged, named = len(checked.flagged), len(checked.cited)
        if flagged >= MIN_FLAGGED and flagged > named:
            return "mostly titles not among the rows"
        return None

    def _uses_a_row(self, text: str) -> bool:
        """Some row is named, also without its leading article ("Incredibles")."""
        said = " " + " ".join(words(text)) + " "
        return any(f" {t} " in said for title in self.titles or () for t in _spellings(title))


def answer_problem(
    text: str, messages: Sequence[BaseMessage], titles: Sequence[str] | None = None, names: KnownNames | None = None
) -> str | None:
    """Why `text` is not a usable answer to `messages`, or None when it is."""
    return AnswerGate(messages, titles, names).final(text)
