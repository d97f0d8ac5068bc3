"""Markdown that is safe to render: text that comes from the catalog (titles, summaries, anything
a model copied from them) never becomes a live link, image or HTML. Answer text keeps its
formatting (bold, lists, code) but loses link/image syntax and autolinked URLs (`safe_markdown`);
table and card text is escaped outright (`escape_markdown`). chatbot/render.py builds the UI's
texts on these and re-exports them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

log = logging.getLogger(__name__)

# What GFM turns into a link on its own (after parsing, so escapes do not stop it): scheme URLs,
# www. hosts and e-mail addresses. They are shown as code instead. A URL stops at brackets,
# parentheses, backslashes, angle brackets and table pipes, so a code span that failed to form could never
# leave link or image syntax live.
_LINKISH = re.compile(
    r"((?:https?|ftp)://[^\s<>`\\\[\]()|]*|(?:mailto|xmpp):[^\s<>`\\\[\]()|]+|www\.[^\s<>`\\\[\]()|]+"
    r"|[\w.+-]+@[\w-]+(?:\.[\w-]+)+)",
    re.I,
)
_TRAILING = ".,;:!?)]}'\"*_"
_ESCAPE_ALL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~])")


def _code_span(text: str, ticks: int = 0) -> str:
    """`text` as an inline code span whose fence is `ticks` backticks long (at least one more
    than any run inside, so it cannot pair with a run elsewhere in the paragraph)."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(ticks, longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _longest_run(text: str) -> int:
    return max((len(run) for run in re.findall(r"`+", text)), default=0)


def _trailing_backslashes(text: str) -> int:
    return len(text) - len(text.rstrip("\\"))


def _defuse(text: str, escape: Callable[[str], str], ticks: int = 0, *, before: str = "", after: str = "") -> str:
    """`escape` the text between link-like runs; show those runs as inline code.

    `before` / `after`: what the output holds on either side of `text` (a kept code span's
    fence, say). An inserted fence never touches another backtick (the runs would merge and the
    span would not close) nor follows an odd backslash (which would escape its first backtick)."""
    out: list[str] = []
    pieces = _LINKISH.split(text)
    for i, piece in enumerate(pieces):
        if i % 2 == 0:
            out.append(escape(piece))
            continue
        core = piece.rstrip(_TRAILING)
        rest = escape(piece[len(core):])
        prev = "".join(out) or before
        if prev.endswith("`"):
            out.append(" ")
        elif _trailing_backslashes(prev) % 2:
            out.append("\\")  # the lone backslash shows as itself and escapes nothing
        nxt = rest or (escape(pieces[i + 1]) if i + 1 < len(pieces) else "") or after
        out.append(_code_span(core, ticks) + (" " if nxt.startswith("`") else "") + rest)
    return "".join(out)


_ASCII_PUNCT = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")


def _escape_brackets(text: str, *, backticks: bool = False) -> str:
    """Escape every unescaped `[`, `]` and `<` (no link, image, autolink or HTML can start),
    and with `backticks` every unescaped backtick (text outside code: those are literal runs,
    and escaped they can never pair with a fence this module adds).

    A backslash escape already in the text (CommonMark: backslash + ASCII punctuation) is kept
    as it is, so an escaped backtick never becomes a live one."""
    live = "[]<`" if backticks else "[]<"
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text) and text[i + 1] in _ASCII_PUNCT:
            out.append(text[i:i + 2])
            i += 2
            continue
        out.append("\\" + ch if ch in live else ch)
        i += 1
    return "".join(out)


def _escape_outside_code(text: str) -> str:
    return _escape_brackets(text, backticks=True)


def code_spans(text: str) -> list[tuple[int, int]]:
    """[start, end) of each inline code span in one paragraph, by CommonMark's rule: a run of
    n backticks (not backslash-escaped) opens a span closed by the next run of exactly n; with
    no such run the backticks are literal text.

    HTML tags and autolinks are not looked for: the output escapes every `<`, so none exists
    there, and the spans found here are the spans the output has."""
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text) and text[i + 1] in _ASCII_PUNCT:
            i += 2
            continue
        if text[i] != "`":
            i += 1
            continue
        n = len(text[i:]) - len(text[i:].lstrip("`"))
        run = re.compile(rf"(?<!`)`{{{n}}}(?!`)")
        close = run.search(text, i + n)
        if close is None:
            i += n  # literal backticks
            continue
        spans.append((i, close.end()))
        i = close.end()
    return spans


def _defuse_paragraph(text: str) -> str:
    """One paragraph: its code spans kept, the rest defused (literal backticks escaped too)."""
    ticks = _longest_run(text) + 1
    spans = code_spans(text)
    out: list[str] = []
    last = 0
    for start, end in spans:
        before = out[-1] if out else ""
        out += [_defuse(text[last:start], _escape_outside_code, ticks, before=before, after="`"), text[start:end]]
        last = end
    out.append(_defuse(text[last:], _escape_outside_code, ticks, before="`" if spans else ""))
    return "".join(out)


def _defuse_plain(text: str) -> str:
    """Text where nothing counts as code (table rows, HTML blocks): all of it defused, backticks
    too (the output may join such a line to a paragraph, where a live one could pair with a
    fence of the next line)."""
    return _defuse(text, _escape_outside_code, _longest_run(text) + 1)


@lru_cache(maxsize=1)
def _commonmark() -> Any:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").enable("table")


@lru_cache(maxsize=1)
def _commonmark_html() -> Any:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


_LIVE_TOKENS = frozenset({"image", "link_open", "html_inline", "html_block"})


def live_markup(text: str) -> list[str]:
    """What in `text` a CommonMark + GFM renderer would make live: images, links, HTML, and
    text GFM autolinks (URLs, www. hosts, e-mail addresses outside code). [] when nothing."""
    found: list[str] = []
    stack = list(_commonmark_html().parse(text))
    while stack:
        token = stack.pop()
        if token.type in _LIVE_TOKENS:
            found.append(token.type)
        elif token.type == "text" and _LINKISH.search(token.content):
            found.append("autolink")
        stack.extend(token.children or ())
    return found


def safe_markdown(text: str) -> str:
    """`text` with its formatting kept but no link, image, autolink or HTML left live.

    A CommonMark parser (markdown-it-py, with GFM tables) says which lines are fenced or
    indented code (kept verbatim) and which lines form each paragraph; code spans inside a
    paragraph follow CommonMark's backtick rule; table rows and anything else are defused whole.
    The result is parsed again: should anything still be live, every line is escaped outright.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    out = _safe_markdown(text)
    if live_markup(out):
        log.warning("safe_markdown left live markup in an answer; escaping it outright")
        return "\n".join(escape_line(line) for line in text.split("\n"))
    return out


def _safe_markdown(text: str) -> str:
    lines = text.split("\n")
    kind: list[str] = ["plain"] * len(lines)
    groups: dict[int, int] = {}  # first line -> end line of a paragraph-like inline run
    indented: set[int] = set()  # first lines of indented code blocks
    in_table = 0
    for token in _commonmark().parse(text):
        if token.type == "table_open":
            in_table += 1
        elif token.type == "table_close":
            in_table -= 1
        if token.map is None:
            continue
        start, end = token.map
        if token.type in ("fence", "code_block"):
            if token.type == "code_block":
                indented.add(start)
            for n in range(start, min(end, len(lines))):
                kind[n] = "code"
        elif token.type == "inline" and not in_table and all(kind[n] == "plain" for n in range(start, end)):
            groups[start] = end
            for n in range(start, end):
                kind[n] = "paragraph"
    out: list[str] = []
    n = 0
    while n < len(lines):
        if kind[n] == "code":
            if n in indented and out and out[-1].strip():
                # What came before (a link definition, an HTML block) may be a paragraph once
                # defused, and would take these lines in as text: a blank line keeps them code.
                out.append("")
            out.append(lines[n])
            n += 1
        elif n in groups:
            end = groups[n]
            out.append(_defuse_paragraph("\n".join(lines[n:end])))
            n = end
        else:
            out.append(_defuse_plain(lines[n]))
            n += 1
    return "\n".join(out)


def escape_line(text: str) -> str:
    """One line with every markdown character escaped, links shown as code (spaces kept)."""
    return _defuse(text, lambda t: _ESCAPE_ALL.sub(r"\\\1", t))


def escape_markdown(text: object) -> str:
    """Plain text for a markdown context: every markdown character escaped, links shown as code."""
    if text is None:
        return ""
    return _defuse(" ".join(str(text).split()), lambda t: _ESCAPE_ALL.sub(r"\\\1", t))


def fenced(code: str, language: str = "sql") -> str:
    """A fenced code block that `code` cannot break out of."""
    longest = max((len(run) for run in re.findall(r"`+", code)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{code.strip()}\n{fence}"
