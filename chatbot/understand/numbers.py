"""Numeric conditions: years and decades, running times, ratings and rating counts, "top N".

Bounds are inclusive (`retrieval.plan.Range`): "under 90 minutes" is max 89, "after 1990" min
1991. Average ratings are not whole numbers, so "rated above 4" reads as at least 4.
"""

from __future__ import annotations

import re

from chatbot.understand.lexicon import DECADE_WORDS, NUMBER_WORDS
from chatbot.understand.text import Question
from retrieval.plan import Range

_NUMW = "|".join(sorted((re.escape(w) for w in NUMBER_WORDS), key=len, reverse=True))
NUM = rf"(?:\d+(?:\.\d+)?|{_NUMW})"
YEAR = r"(?:18[89]\d|19\d\d|20\d\d)(?!'?s\b)"
_DEC_WORDS = "|".join(DECADE_WORDS)
DECADE = rf"(?:(?:early|mid|late)[- ])?(?:the )?(?:'?\d0'?s|(?:18[89]|19\d|20\d)0'?s|{_DEC_WORDS})"

LESS = r"(?:under|less than|fewer than|shorter than|below|lower than|worse than|beneath|<)"
AT_MOST = r"(?:at most|no more than|not more than|no longer than|not longer than|up to|max(?:imum)?(?: of)?|<=)"
MORE = r"(?:over|more than|longer than|above|greater than|higher than|better than|exceeding|>)"
AT_LEAST = r"(?:at least|no less than|not less than|no shorter than|min(?:imum)?(?: of)?|>=)"
OR_MORE = r"(?:or (?:more|longer|higher|better|above|over|greater)|and (?:up|above|over|more|higher)|plus|\+)"
OR_LESS = r"(?:or (?:less|shorter|lower|under|below|fewer|worse)|and (?:under|below|less|lower))"


def number(token: str) -> float:
    token = token.strip()
    if token in NUMBER_WORDS:
        return float(NUMBER_WORDS[token])
    return float(token)


def _int(x: float) -> int | float:
    return int(x) if x == int(x) else x


# --- years ---------------------------------------------------------------------------------


def decade_span(phrase: str) -> tuple[int, int] | None:
    """'the 90s' -> (1990, 1999); 'early 80s' -> (1980, 1983); 'mid 60s' (1963, 1966); 'late' 6..9."""
    m = re.fullmatch(
        rf"(?:(early|mid|late)[- ])?(?:the )?(?:'?(\d0)'?s|((?:18[89]|19\d|20\d)0)'?s|({_DEC_WORDS}))", phrase
    )
    if not m:
        return None
    if m.group(2):
        two = int(m.group(2))
        start = 2000 + two if two < 20 else 1900 + two
    elif m.group(3):
        start = int(m.group(3))
    else:
        start = DECADE_WORDS[m.group(4)]
    lo, hi = start, start + 9
    part = m.group(1)
    if part == "early":
        hi = lo + 3
    elif part == "mid":
        lo, hi = lo + 3, lo + 6
    elif part == "late":
        lo = lo + 6
    return lo, hi


def _span(token: str) -> tuple[int, int]:
    token = token.strip()
    if re.fullmatch(YEAR, token):
        return int(token), int(token)
    if re.fullmatch(SHORT_YEAR, token):
        two = int(token[1:])
        year = 2000 + two if two < 20 else 1900 + two
        return year, year
    span = decade_span(token)
    assert span is not None, token
    return span


SHORT_YEAR = r"'\d\d(?![\ds'])"
"""'94: a year written with two digits."""
_WHEN = rf"(?:{YEAR}|{DECADE}|{SHORT_YEAR})"
_REL = r"(?:(?:released|made|filmed|produced|shot|came out|come out|coming out|out) )?"


def read_years(q: Question) -> Range:
    """Year conditions in the question, consumed; several intersect ("after 1990 and before 2000")."""
    lo: int | None = None
    hi: int | None = None

    def bound(new_lo: int | None, new_hi: int | None) -> None:
        nonlocal lo, hi
        if new_lo is not None:
            lo = new_lo if lo is None else max(lo, new_lo)
        if new_hi is not None:
            hi = new_hi if hi is None else min(hi, new_hi)

    rules: list[tuple[str, object]] = [
        (rf"\b(?:between|from) {_REL}(?:the years? )?({_WHEN}) (?:and|to|through|thru|until|till) (?:the )?({_WHEN})",
         lambda a, b: (_span(a)[0], _span(b)[1])),
        (rf"(?<![\w.])({YEAR}) ?(?:-|–|to|through|thru) ?((?:\d\d)?\d\d)\b(?! ?(?:min|minutes|hours|stars|ratings|votes))",
         lambda a, b: (int(a), int(b) if len(b) == 4 else int(a[:2] + b))),
        (rf"\b(?:the )?({DECADE}) (?:and|or|to|through|-) (?:the )?({DECADE})\b",
         lambda a, b: (_span(a)[0], _span(b)[1])),
        (rf"\b(?:from |in )?(?:the year )?({_WHEN}) (?:or|and) (?:later|after|newer|onwards?|beyond|since|up|more recent)\b(?! ?(?:the )?[\d'])",
         lambda a: (_span(a)[0], None)),
        (rf"\b(?:from |since )?(?:the year )?({_WHEN}) ?(?:on(?:wards?)?|forward|\+|and beyond)(?!\w)",
         lambda a: (_span(a)[0], None)),
        (rf"\b(?:in |from )?(?:the year )?({_WHEN}) (?:or|and) (?:earlier|before|older|prior)\b(?! ?(?:the )?[\d'])",
         lambda a: (None, _span(a)[1])),
        (rf"\b{_REL}(?:in or after|no earlier than|not earlier than|starting (?:in|from|with)|beginning (?:in|with)|since) (?:the year )?({_WHEN})",
         lambda a: (_span(a)[0], None)),
        (rf"\b{_REL}(?:in or before|no later than|not later than|until|till|up to|up until|through|by the end of) (?:the year )?({_WHEN})",
         lambda a: (None, _span(a)[1])),
        (rf"\b{_REL}(?:after|later than|newer than|post|following|more recent than)[ -](?:the year )?({_WHEN})",
         lambda a: (_span(a)[1] + 1, None)),
        (rf"\b{_REL}(?:before|earlier than|older than|prior to|pre)[ -](?:the year )?({_WHEN})",
         lambda a: (None, _span(a)[0] - 1)),
        (r"\b(?:in |from |of )?(?:the )?(20th|twentieth|21st|twenty-first|19th|nineteenth) century\b",
         lambda a: {"20th": (1901, 2000), "twentieth": (1901, 2000), "21st": (2001, None),
                    "twenty-first": (2001, None), "19th": (1801, 1900), "nineteenth": (1801, 1900)}[a]),
        (r"\b(?:from |in )?this century\b", lambda: (2001, None)),
        (rf"\b(?:{_REL}(?:in|from|of|during|throughout) )?(?:the year )?({_WHEN})(?![\w'])(?! ?(?:min|minutes|hours|stars))",
         lambda a: _span(a)),
    ]
    for pattern, make in rules:
        for m in q.take(pattern):
            groups = [g for g in m.groups() if g is not None]
            got = make(*groups)  # type: ignore[operator]
            bound(*got)
    if lo is not None and hi is not None and lo > hi:
        lo, hi = hi, lo
    return Range(min=lo, max=hi)


# --- running time --------------------------------------------------------------------------

_HOURS_UNIT = r"(?:hours?|hrs?|h)"
_MIN_UNIT = r"(?:minutes?|mins?|m)"
AMOUNT = (
    rf"(?:(?:{NUM}|an?) ?(?:and a half |and an? half |½ )?[- ]?{_HOURS_UNIT}(?:,? (?:and )?(?:{NUM}) ?{_MIN_UNIT}| and a half)?"
    rf"|\d{{1,2}}h\d{{2}}m?|{NUM}[- ]?{_MIN_UNIT})(?![\w])"
)


def minutes(amount: str) -> int:
    """'two hours' -> 120, 'an hour and a half' -> 90, '1h30' -> 90, '90-minute' -> 90."""
    a = amount.strip().replace("-", " ")
    if m := re.fullmatch(r"(\d{1,2})h(\d{2})m?", a):
        return int(m[1]) * 60 + int(m[2])
    a = re.sub(r"(\S+) and an? half hours?", r"\1 hours and a half", a)
    if m := re.fullmatch(rf"({NUM}|an?) ?(and a half |and an? half |½ )? ?{_HOURS_UNIT}(?:,? (?:and )?({NUM}) ?{_MIN_UNIT}|( and a half))?", a):
        hours = 1.0 if m[1] in ("a", "an") else number(m[1])
        if m[2] or m[4]:
            hours += 0.5
        return round(hours * 60 + (number(m[3]) if m[3] else 0))
    m = re.fullmatch(rf"({NUM}) ?{_MIN_UNIT}", a)
    assert m, amount
    return round(number(m[1]))


_DUR_CUE = r"(?:(?:with )?(?:an? )?(?:run(?:ning)?[- ]?time|runtime|length|duration)(?: of| is| that is)?|(?:that )?(?:are|is|runs?|running|lasts?|lasting|clocks? in at) ?)"


def read_duration(q: Question) -> Range:
    """Running-time conditions, consumed."""
    lo: float | None = None
    hi: float | None = None
    bare = rf"({NUM})(?: ?{_MIN_UNIT})?"
    rules: list[tuple[str, object]] = [
        (rf"\b(?:between|from) ({AMOUNT}) (?:and|to|-) ({AMOUNT})(?: long| in length)?", lambda a, b: (minutes(a), minutes(b))),
        (rf"\b(?:between|from) ({NUM}(?: and an? half)?) ?({_MIN_UNIT}|{_HOURS_UNIT})? (?:and|to|-) ({AMOUNT})(?: long| in length)?",
         lambda a, u, b: _between(a, u, b)),
        (rf"\b({NUM}) ?()(?:-|–|to) ?({AMOUNT})(?: long| in length)?", lambda a, u, b: _between(a, u, b)),
        (rf"\b(?:{_DUR_CUE} ?)?{LESS} ({AMOUNT})(?: long| in length)?", lambda a: (None, minutes(a) - 1)),
        (rf"\b(?:{_DUR_CUE} ?)?{AT_MOST} ({AMOUNT})(?: long| in length)?", lambda a: (None, minutes(a))),
        (rf"\b(?:{_DUR_CUE} ?)?{MORE} ({AMOUNT})(?: long| in length)?", lambda a: (minutes(a) + 1, None)),
        (rf"\b(?:{_DUR_CUE} ?)?{AT_LEAST} ({AMOUNT})(?: long| in length)?", lambda a: (minutes(a), None)),
        (rf"\b({AMOUNT}) (?:long )?{OR_LESS}", lambda a: (None, minutes(a))),
        (rf"\b({AMOUNT}) (?:long )?{OR_MORE}", lambda a: (minutes(a), None)),
        (rf"\b(?:about|around|roughly|approximately|circa|approx\.?) ({AMOUNT})(?: long)?", lambda a: _around(minutes(a))),
        (rf"\b(?:exactly|precisely|just) ({AMOUNT})(?: long)?|\b({AMOUNT}) long\b", lambda a, b=None: (minutes(a or b), minutes(a or b))),
        (rf"\b(?:with )?(?:an? |the )?(?:run(?:ning)?[- ]?time|runtime|length|duration) (?:of |is )?{LESS} {bare}", lambda a: (None, number(a) - 1)),
        (rf"\b(?:with )?(?:an? |the )?(?:run(?:ning)?[- ]?time|runtime|length|duration) (?:of |is )?{MORE} {bare}", lambda a: (number(a) + 1, None)),
        (rf"\b(?:an? )?({AMOUNT})(?: long)? (?=movies?|films?|pictures?|flicks?)", lambda a: _around(minutes(a))),
    ]
    for pattern, make in rules:
        for m in q.take(pattern):
            new_lo, new_hi = make(*m.groups())  # type: ignore[operator]
            if new_lo is not None:
                lo = new_lo if lo is None else max(lo, new_lo)
            if new_hi is not None:
                hi = new_hi if hi is None else min(hi, new_hi)
    return Range(min=_int(lo) if lo is not None else None, max=_int(hi) if hi is not None else None)


def _between(a: str, unit: str | None, b: str) -> tuple[int, int]:
    """'between 90 and 120 minutes', 'from 1.5 to 2 hours', '90 minutes to 2 hours'."""
    hi = minutes(b)
    if unit:
        lo = minutes(f"{a} {unit}")
    elif re.search(rf"{_HOURS_UNIT}\b|\dh", b):
        lo = minutes(f"{a} hours")
    else:
        lo = round(number(a))
    return lo, hi


def _around(n: int) -> tuple[int, int]:
    return n - 10, n + 10


# --- ratings -------------------------------------------------------------------------------

_SCALE = r"(?: ?(?:/ ?(5|10)|out of (5|10|five|ten)|stars?|on (?:imdb|movielens))\b)?"


def _rating(value: str, scale: str | None) -> float:
    v = number(value)
    if scale in ("10", "ten") or (scale is None and 5 < v <= 10):
        v = v / 2
    return _int(round(v, 2))  # type: ignore[return-value]


def read_num_ratings(q: Question) -> Range:
    """How many ratings a film must have ("with at least 100 ratings"), consumed."""
    lo: float | None = None
    hi: float | None = None
    noun = r"(?:ratings|votes|reviews|user ratings|viewers|users|people|raters)"
    num = r"(\d[\d,]*|" + _NUMW + ")"
    rules: list[tuple[str, object]] = [
        (rf"\b(?:with |having |that have |rated by )?{AT_LEAST} {num} {noun}", lambda a: (_count(a), None)),
        (rf"\b(?:with |having |that have |rated by )?{MORE} {num} {noun}", lambda a: (_count(a) + 1, None)),
        (rf"\b(?:with |having |that have |rated by )?{LESS} {num} {noun}", lambda a: (None, _count(a) - 1)),
        (rf"\b(?:with |having |that have |rated by )?{AT_MOST} {num} {noun}", lambda a: (None, _count(a))),
        (rf"\b(?:with |having |that have |rated by )?{num} ?(?:\+|or more) {noun}", lambda a: (_count(a), None)),
        (rf"\b(?:with |having |that have |rated by )?{num} {noun} or more", lambda a: (_count(a), None)),
        (rf"\b(?:with |having |that have |rated by )?{num} {noun} or (?:fewer|less)", lambda a: (None, _count(a))),
    ]
    for pattern, make in rules:
        for m in q.take(pattern):
            new_lo, new_hi = make(m.group(1))  # type: ignore[operator]
            lo = new_lo if new_lo is not None else lo
            hi = new_hi if new_hi is not None else hi
    return Range(min=lo, max=hi)


def _count(token: str) -> int:
    return int(number(token.replace(",", "")))


def read_avg_rating(q: Question) -> Range:
    """Average-rating thresholds ("rated above 4", "4 stars or more"), consumed."""
    lo: float | None = None
    hi: float | None = None
    cue = r"(?:(?:with |having |that have |has )?(?:an? )?(?:(?:average |mean |user |overall )?(?:rating|score)|average|mean)(?: of| is| that is)?|rated|scored|scoring|that score)"
    val = rf"({NUM}){_SCALE}"
    rules: list[tuple[str, object]] = [
        (rf"\b{cue} {MORE} {val}", lambda v, s=None: (_rating(v, s), None, True, False)),
        (rf"\b{cue} {AT_LEAST} {val}", lambda v, s=None: (_rating(v, s), None)),
        (rf"\b{cue} {LESS} {val}", lambda v, s=None: (None, _rating(v, s), False, True)),
        (rf"\b{cue} {AT_MOST} {val}", lambda v, s=None: (None, _rating(v, s))),
        (rf"\b{cue} {val} ?(?:{OR_MORE})", lambda v, s=None: (_rating(v, s), None)),
        (rf"\b{cue} {val} ?(?:{OR_LESS})", lambda v, s=None: (None, _rating(v, s))),
        (rf"\b{MORE} ({NUM}) ?(?:/ ?(5|10) |out of (5|10|five|ten) )?stars?\b", lambda v, s=None: (_rating(v, s), None, True, False)),
        (rf"\b{AT_LEAST} ({NUM}) ?(?:/ ?(5|10) |out of (5|10|five|ten) )?stars?\b", lambda v, s=None: (_rating(v, s), None)),
        (rf"\b{LESS} ({NUM}) ?(?:/ ?(5|10) |out of (5|10|five|ten) )?stars?\b", lambda v, s=None: (None, _rating(v, s), False, True)),
        (rf"\b{AT_MOST} ({NUM}) ?(?:/ ?(5|10) |out of (5|10|five|ten) )?stars?\b", lambda v, s=None: (None, _rating(v, s))),
        (rf"\b({NUM}) ?(?:\+ ?)?stars?(?: or (?:more|higher|better|above)| and (?:up|above)|\+)", lambda v: (_rating(v, None), None)),
        (rf"\b(?:rated|scored|rating of) ({NUM}){_SCALE}(?! ?(?:ratings|votes))", lambda v, s=None: (_rating(v, s), None)),
    ]
    lo_open = hi_open = False
    for pattern, make in rules:
        for m in q.take(pattern):
            groups = [g for g in m.groups() if g is not None]
            new_lo, new_hi, *open_ = make(*groups)  # type: ignore[operator]
            new_lo_open, new_hi_open = open_ or (False, False)
            if new_lo is not None:
                lo, lo_open = new_lo, new_lo_open
            if new_hi is not None:
                hi, hi_open = new_hi, new_hi_open
    return Range(min=lo, max=hi, min_open=lo_open, max_open=hi_open)


# --- how many rows -------------------------------------------------------------------------


def read_limit(q: Question) -> int | None:
    """'top 5', 'the three longest', 'give me 3 comedies', consumed; None when none is asked."""
    small = rf"(\d{{1,3}}|{_NUMW})"
    patterns = (
        rf"\b(?:top|first|best|last) {small}\b",
        rf"\b(?:the|give me|show me|list|name|suggest|recommend|find|pick|any|get) {small}(?= )(?! ?(?:min|minutes|hours|stars|ratings|votes|reviews)\b)",
        rf"(?<![\w.]){small} (?=(?:[^\W\d]+ ){{0,3}}?(?:movies|films|pictures|flicks|titles|ones|comedies|dramas|thrillers|westerns|picks|recommendations|suggestions)\b)",
    )
    for pattern in patterns:
        for m in q.take(pattern):
            n = number(m.group(1))
            if 1 <= n <= 500 and n == int(n):
                return int(n)
    return None
