"""Questions about groups of films, read into `retrieval.plan.Group`: "which director has the
most films?", "the most common genre", "how many films per decade?", "the average running time
by genre", "which decade has the best rated films on average?". The words read are consumed, so
what is left ("westerns", "from the 90s") still becomes the plan's filters."""

from __future__ import annotations

import re

from chatbot.understand.lexicon import SUPERLATIVES
from chatbot.understand.text import GAP, Question
from retrieval.plan import CompareField, Group, GroupKey, Sort

KEYS: dict[GroupKey, str] = {
    "director": r"directors?|filmmakers?",
    "actor": r"actors?|actress(?:es)?|stars?|cast members?",
    "writer": r"writers?|screenwriters?",
    "genre": r"genres?",
    "country": r"countr(?:y|ies)",
    "language": r"languages?",
    "decade": r"decades?",
    "year": r"years?",
}
_KEY = "|".join(f"(?P<{key}>{words})" for key, words in KEYS.items())
_FILMS = r"(?: (?:films?|movies?|titles?|pictures?|releases?|credits?|entries|appearances|roles))?"
_WHO = {
    "director": r"directed|made|has (?:directed|made)|helmed",
    "actor": r"appears? in|appeared in|starred in|stars in|acted in|acts in|played in|has (?:appeared|starred|acted) in",
    "writer": r"wrote|has written|penned|writes",
}
PEOPLE_KEYS = frozenset({"director", "actor", "writer"})
PLURAL_TOP = 10
"""Groups "the most prolific directors" lists."""
MIN_PERSON_FILMS = 3
"""An average ranked over people counts those with this many matching films (one film's figure
would top the ranking by luck); the answer says so."""

# "which director has the most films", "what genre has the fewest movies"
_WHICH_MOST = re.compile(
    rf"(?P<head>\b(?:which|what) (?:{_KEY}))(?: [\w'-]+){{0,6}}? (?P<tail>(?:the )?"
    r"(?P<rank>most|fewest|least|(?:highest|largest|greatest|biggest) (?:number|count) of|(?:lowest|smallest) (?:number|count) of)"
    rf"\b{_FILMS})"
)
# "who directed the most films", "who appears in the most movies"
_WHO_MOST = re.compile(
    r"\bwho (?:" + "|".join(f"(?P<{key}>{verbs})" for key, verbs in _WHO.items()) + rf") (?:the )?(?P<rank>most|fewest)\b{_FILMS}"
)
# "the most common genre", "the most prolific directors", "the top 5 directors", "directors with the most films"
_MOST_COMMON = re.compile(
    rf"\b(?:the )?(?P<rank>most|least) (?:common|frequent|popular|prolific|represented|productive|featured|credited) (?:{_KEY})\b"
)
_TOP = re.compile(rf"\b(?:the )?top (?P<n>\d+|two|three|four|five|six|seven|eight|nine|ten) (?:{_KEY})\b")
_WITH_MOST = re.compile(rf"\b(?:the )?(?:{_KEY}) (?:with|having|that have|who have) (?:the )?(?P<rank>most|fewest)\b{_FILMS}")
# "how many films per decade", "average rating by genre", "films for each director", "genre breakdown"
_PER = re.compile(rf"\b(?:per|for each|in each|of each|each|for every|across|broken down by|grouped by|split by|by) (?:{_KEY})\b")
_PER_CUE = re.compile(r"\b(?:how many|number of|count|average|mean|avg|total|breakdown|distribution|split|grouped|broken down|per|each|every)\b")
_BREAKDOWN = re.compile(rf"\b(?:{_KEY}) (?:breakdown|distribution|counts?)\b")
_BREAKDOWN_OF = re.compile(rf"\b(?:breakdown|distribution) of (?:the )?(?:{_KEY})\b")
# "which decade has the best rated films on average", "the genre with the longest films on average"
_WHICH_BEST = re.compile(
    rf"\b(?:which|what) (?:{_KEY})(?: (?:has|have|had|gets|got|makes|made|produces|produced|is|are|tends? to have|with))?"
    r" (?:the )?(?P<rank>highest|best|lowest|worst|longest|shortest)"
    r"(?P<what>(?: (?:average|mean|avg|rated|ratings?|running times?|runtimes?|lengths?|durations?|films?|movies?))*)"
)
_RATED_KEY = re.compile(rf"\b(?:the )?(?P<rank>highest|best|top|lowest|worst)[ -]rated (?:{_KEY})\b")
_ON_AVERAGE = re.compile(r"\b(?:on average|in average|average|mean|avg)\b")
_MEASURE = re.compile(
    r"\b(?P<measure>average|mean|avg|total|combined)"
    r" (?P<field>rating|ratings|score|stars|running time|runtime|length|duration|minutes|number of ratings|votes|release year|year)\b"
)
_FIELDS: dict[str, CompareField] = {
    "rating": "avg_rating", "ratings": "avg_rating", "score": "avg_rating", "stars": "avg_rating", "rated": "avg_rating",
    "running time": "duration_min", "runtime": "duration_min", "length": "duration_min", "duration": "duration_min",
    "minutes": "duration_min", "longest": "duration_min", "shortest": "duration_min",
    "number of ratings": "num_ratings", "votes": "num_ratings", "release year": "year", "year": "year",
}
_NUMBERS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10}


def _key(m: re.Match[str]) -> GroupKey:
    return next(k for k in KEYS if m.groupdict().get(k))  # type: ignore[return-value]


def _who_key(m: re.Match[str]) -> GroupKey:
    return next(k for k in KEYS if k in _WHO and m.group(k))


_OTHER_FIGURES = re.compile(r"\b(?:median|mode|percentiles?|quartiles?|standard deviation|variance|spread)\b")
"""Figures a group plan does not compute (drafted SQL does)."""


def read_group(q: Question) -> Group | None:
    """The group question in `q`, its words consumed; None when it asks no such thing (or a
    figure only drafted SQL computes: "the median running time per decade")."""
    if _OTHER_FIGURES.search(q.view):
        return None
    if (m := q.search(_PICK)) and GAP not in m.group(0):
        # the word between stays for the other passes: "the oldest [comedy] of each decade"
        q.consume(m.start(), m.end("sup"))
        q.consume(m.start("per"), m.end())
        sort_key, desc = next((k, d) for pattern, k, d in SUPERLATIVES if re.search(pattern, m.group("sup")))
        return Group(by=_key(m), pick=Sort(key=sort_key, desc=desc))
    if (m := q.search(_WHICH_MOST)) and GAP not in m.group(0):  # "which actors appear most often": the first ten
        # the words between stay for the other passes: "which year did [Kubrick release] the most films"
        q.consume(m.start("head"), m.end("head"))
        q.consume(m.start("tail"), m.end("tail"))
        return Group(by=_key(m), desc=not m.group("rank").startswith(("fewest", "least", "lowest", "smallest")),
                     top=PLURAL_TOP if _plural(m) else 1)
    if m := q.take_first(_WITH_MOST):
        return Group(by=_key(m), desc=m.group("rank") == "most", top=PLURAL_TOP if _plural(m) else 1)
    if m := q.take_first(_WHO_MOST):
        return Group(by=_who_key(m), desc=m.group("rank") == "most", top=1)
    if m := q.take_first(_MOST_COMMON):
        return Group(by=_key(m), desc=m.group("rank") == "most", top=PLURAL_TOP if _plural(m) else 1)
    if m := q.take_first(_TOP):
        n = m.group("n")
        return Group(by=_key(m), desc=True, top=int(n) if n.isdigit() else _NUMBERS[n])
    if m := q.take_first(_RATED_KEY):  # "the highest rated genre": by its films' average rating
        key = _key(m)
        return Group(by=key, measure="avg", field="avg_rating", desc=m.group("rank") in ("highest", "best", "top"),
                     top=PLURAL_TOP if _plural(m) else 1, min_films=MIN_PERSON_FILMS if key in PEOPLE_KEYS else 1)
    if m := q.take_first(_WHICH_BEST):  # "which genre has the longest films": on average
        q.take_first(_ON_AVERAGE)
        rank = m.group("rank")
        named = re.search(r"rat|running|runtime|length|duration", m.group("what"))
        field = _FIELDS.get(rank, "avg_rating") if named is None else _FIELDS[_field_word(named.group(0))]
        key = _key(m)
        return Group(by=key, measure="avg", field=field, desc=rank in ("highest", "best", "longest"), top=1,
                     min_films=MIN_PERSON_FILMS if key in PEOPLE_KEYS else 1)
    per = q.search(_PER) if _PER_CUE.search(q.view) else None
    per = per or q.search(_BREAKDOWN) or q.search(_BREAKDOWN_OF)
    if per is None:
        return None
    measured = _MEASURE.search(q.view)
    if measured is None and _TOP_OF_EACH.search(q.view):
        return None  # "the best film of each decade": a film per group, not a figure
    q.consume(per.start(), per.end())
    key = _key(per)
    if measured is not None:
        q.consume(measured.start(), measured.end())
        total = measured.group("measure") in ("total", "combined")
        return Group(by=key, measure="sum" if total else "avg", field=_FIELDS[measured.group("field")])
    q.take(r"\b(?:how many|number of|count of|count|breakdown|distribution)\b")
    return Group(by=key)


# "the longest film of each decade", "the best rated movie per genre", "the newest film by year"
_PICK = re.compile(
    r"(?:\bthe )?(?P<sup>" + "|".join(f"(?:{pattern})" for pattern, _, _ in SUPERLATIVES) + r")"
    r"(?: [\w'-]+)?(?P<per> (?:(?:of|for|in|from) (?:each|every)|per|by|for each|in each) "
    rf"(?:{_KEY}))\b"
)
_TOP_OF_EACH = re.compile(r"\b(?:best|worst|longest|shortest|oldest|newest|latest|earliest|highest|lowest|top|most|least)\b")


def _field_word(stem: str) -> str:
    return {"rat": "rating", "running": "running time"}.get(stem, stem)


def _plural(m: re.Match[str]) -> bool:
    """"the most prolific directors" lists them; "the most common genre" names one."""
    word = m.group(_key(m))
    return word.endswith("s") and not word.endswith("ss")
