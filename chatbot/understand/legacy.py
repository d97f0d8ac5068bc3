"""Rule-based reading of a question: route, filters, sort, anchor titles. Pure functions, no I/O.

The catalog lookup of titles mentioned in the question happens in the `understand` node; its
result comes in here as `titles`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from chatbot.answer import Route

Title = tuple[int, str, int | None]

# Canonical genre names as the catalogs spell them, keyed by the words people use.
GENRE_WORDS: dict[str, str] = {
    "action": "Action", "adventure": "Adventure", "adventures": "Adventure",
    "animation": "Animation", "animated": "Animation", "cartoon": "Animation", "cartoons": "Animation",
    "biography": "Biography", "biopic": "Biography", "biopics": "Biography",
    "comedy": "Comedy", "comedies": "Comedy", "funny": "Comedy",
    "crime": "Crime", "documentary": "Documentary", "documentaries": "Documentary",
    "drama": "Drama", "dramas": "Drama", "family": "Family",
    "fantasy": "Fantasy", "film-noir": "Film-Noir", "noir": "Film-Noir",
    "history": "History", "historical": "History", "horror": "Horror",
    "musical": "Musical", "musicals": "Musical", "mystery": "Mystery", "mysteries": "Mystery",
    "romance": "Romance", "romantic": "Romance", "romances": "Romance",
    "sci-fi": "Sci-Fi", "scifi": "Sci-Fi", "science fiction": "Sci-Fi", "science-fiction": "Sci-Fi",
    "sport": "Sport", "sports": "Sport", "thriller": "Thriller", "thrillers": "Thriller",
    "war": "War", "western": "Western", "westerns": "Western",
}

# (pattern, column, descending, singular superlative)
SORT_RULES: tuple[tuple[str, str, bool, bool], ...] = (
    (r"\b(?:the )?longest\b", "duration_min", True, True),
    (r"\b(?:the )?shortest\b", "duration_min", False, True),
    (r"\b(?:the )?(?:oldest|earliest)\b", "year", False, True),
    (r"\b(?:the )?(?:newest|latest|most recent)\b", "year", True, True),
    (r"\b(?:best|highest)[- ]rated\b|\btop[- ]rated\b", "avg_rating", True, False),
    (r"\b(?:worst|lowest)[- ]rated\b", "avg_rating", False, False),
    (r"\bmost (?:popular|rated|watched)\b", "num_ratings", True, False),
    (r"\b(?:sorted|ordered|sort|order)(?: them)? by (?:release )?(?:year|date)\b|\bchronological", "year", False, False),
    (r"\b(?:sorted|ordered|sort|order)(?: them)? by (?:length|duration|runtime)\b", "duration_min", False, False),
    (r"\b(?:sorted|ordered|sort|order)(?: them)? by (?:rating|score)\b", "avg_rating", True, False),
    (r"\b(?:sorted|ordered|sort|order)(?: them)? by (?:title|name)\b|\balphabetical", "title", False, False),
)

FOLLOW_UP = re.compile(
    r"\b(?:those|these|them|of them|that one|this one|the first one|the second one|the last one|"
    r"among them|which one|from that list|from the list|of the above|the previous)\b",
    re.I,
)
RECOMMEND = re.compile(
    r"\b(?:recommend|recommendation|suggest|what should i watch|i (?:liked|loved|enjoyed)|"
    r"users like me|people like me|fans of)\b",
    re.I,
)
SIMILAR = re.compile(r"\b(?:like|similar to|resembl\w*|in the vein of|reminiscent of|same as)\b", re.I)
CHITCHAT = re.compile(
    r"^\s*(?:hi|hello|hey|yo|good (?:morning|evening|afternoon)|thanks?|thank you|cheers|bye|goodbye|"
    r"who are you|what are you|what can you do|help|how are you)\b[\s!.?]*",
    re.I,
)
PLOT_WORDS = 18
"""A question this long with no "like X" is a pasted plot or description: semantic search."""
COUNT = re.compile(r"\bhow many\b|\bcount\b|\bnumber of\b", re.I)
LIST_ALL = re.compile(r"\b(?:list|show|give me|which|what)\b.*\b(?:all|every)\b", re.I)
# Words that end a captured name ("directed by Steven Spielberg in the 90s").
_NAME_STOP = {
    "in", "from", "with", "and", "or", "that", "which", "who", "sorted", "ordered", "sort", "order",
    "before", "after", "since", "between", "during", "released", "made", "about", "where", "please",
    "the", "a", "an", "of", "by", "on", "for", "to", "is", "are", "were", "was", "starring",
    "featuring", "directed", "than", "as", "but", "not",
}
_NAME_TOKEN = r"[A-Za-zÀ-ÿ][\w'.\-À-ÿ]*"


@dataclass(kw_only=True)
class Understanding:
    """What the rules read out of one question."""

    route: Route
    query: str
    """Text to search with (filters and filler removed when something is left, else the question)."""
    anchors: list[Title] = field(default_factory=list)
    """Catalog titles the question names (similar / recommendation seeds)."""
    filters: dict[str, Any] = field(default_factory=dict)
    """SearchFilters fields: year_min, year_max, genres, director, actors."""
    sort: dict[str, Any] | None = None
    """{"key": column, "desc": bool}."""
    limit: int | None = None
    """1 for singular superlatives ("which is the longest"), else None."""
    count: bool = False
    """The question asks how many."""


def decade_range(token: str) -> tuple[int, int] | None:
    """'90s' / "'90s" / '1990s' / '2000s' -> (first year, last year)."""
    m = re.fullmatch(r"'?(\d{2})'?s|(\d{4})'?s", token)
    if not m:
        return None
    if m.group(2):
        start = int(m.group(2))
        if start % 10:
            return None
    else:
        two = int(m.group(1))
        if two % 10:
            return None
        start = (2000 if two < 30 else 1900) + two
    return start, start + 9


def parse_years(text: str) -> tuple[dict[str, int], str]:
    """Year filters in `text` and the text with those phrases removed."""
    found: dict[str, int] = {}
    patterns: list[tuple[str, Any]] = [
        (r"\bbetween (\d{4}) and (\d{4})\b", lambda m: {"year_min": int(m[1]), "year_max": int(m[2])}),
        (r"\b(?:from )?(\d{4}) ?(?:-|–|to) ?(\d{4})\b", lambda m: {"year_min": int(m[1]), "year_max": int(m[2])}),
        (r"\b(?:from |in |of )?(?:the )?(?:early |late |mid )?('?\d{2}'?s|\d{4}'?s)\b", _decade),
        (r"\b(?:after) (\d{4})\b", lambda m: {"year_min": int(m[1]) + 1}),
        (r"\bsince (\d{4})\b", lambda m: {"year_min": int(m[1])}),
        (r"\bbefore (\d{4})\b", lambda m: {"year_max": int(m[1]) - 1}),
        (r"\b(?:until|up to) (\d{4})\b", lambda m: {"year_max": int(m[1])}),
        (r"\b(?:in|of|released in|made in|from) (\d{4})\b", lambda m: {"year_min": int(m[1]), "year_max": int(m[1])}),
    ]
    for pattern, make in patterns:
        for m in list(re.finditer(pattern, text, re.I)):
            values = make(m)
            if values and not (set(values) & set(found)):
                found.update(values)
                text = text.replace(m.group(0), " ")
    return found, text


def _decade(m: re.Match[str]) -> dict[str, int] | None:
    span = decade_range(m.group(1))
    if span is None:
        return None
    lo, hi = span
    phrase = m.group(0).lower()
    if "early" in phrase:
        hi = lo + 3
    elif "late" in phrase:
        lo = lo + 6
    elif "mid" in phrase:
        lo, hi = lo + 3, lo + 6
    return {"year_min": lo, "year_max": hi}


def _capture_name(text: str, start: int, *, require_capital: bool) -> str | None:
    """Up to three name words from `start`, stopping at a stop word or punctuation."""
    words: list[str] = []
    rest = text[start:]
    last_end = 0
    for m in re.finditer(_NAME_TOKEN, rest):
        word = m.group(0).rstrip(".'")
        if not word or word.lower() in _NAME_STOP or len(words) == 3:
            break
        if require_capital and not word[0].isupper():
            break
        if words and re.search(r"[,;:?!()]", rest[last_end : m.start()]):
            break
        words.append(word)
        last_end = m.end()
    return " ".join(words) or None


def parse_people(text: str) -> tuple[str | None, list[str], str]:
    """(director, actors, text without those phrases)."""
    director = None
    actors: list[str] = []
    m = re.search(r"\b(?:directed by|director|made by|a film by|films? by|movies? by)\s+", text, re.I)
    if m:
        director = _capture_name(text, m.end(), require_capital=not m.group(0).lower().startswith("directed"))
        if director:
            text = text[: m.start()] + " " + text[m.end():].replace(director, " ", 1)
    if director is None:
        m = re.search(rf"\bdid ((?:{_NAME_TOKEN}\s+){{1,3}})direct\b", text, re.I)
        if m:
            director = m.group(1).strip()
            text = text[: m.start()] + " " + text[m.end():]
    for m in list(re.finditer(r"\b(starring|featuring|features?|with|played by|acted by)\s+", text, re.I)):
        name = _capture_name(text, m.end(), require_capital=m.group(1).lower() in ("with", "feature", "features"))
        if name and len(name) > 2:
            actors.append(name)
            text = text.replace(m.group(0) + name, " ", 1)
    return director, actors, text


# Capitalised words that start a question rather than a name ("Which Alfred Hitchcock movies").
_NOT_NAMES = {
    "which", "what", "show", "list", "give", "find", "any", "all", "the", "some", "best", "good",
    "old", "new", "recent", "classic", "great", "top", "my", "me", "are", "were", "name", "other",
    "more", "similar", "funny", "scary", "sad", "french", "american", "british", "italian",
}


def parse_named_people(text: str) -> tuple[list[str], str]:
    """Names written before "movies"/"films" ("Tom Hanks movies", "Alfred Hitchcock's films"):
    director or actor, the catalog decides. Returns (names, text without them)."""
    names = []
    pattern = rf"((?:{_NAME_TOKEN}\s+){{1,4}}?)(?:{_NAME_TOKEN})(?:'s)?(?=\s+(?:movies|films|pictures)\b)"
    for m in list(re.finditer(pattern, text)):
        words = m.group(0).removesuffix("'s").split()
        while words and (words[0].lower() in _NOT_NAMES or words[0].lower() in GENRE_WORDS):
            words.pop(0)
        if len(words) >= 2 and all(w[0].isupper() for w in words):
            name = " ".join(words)
            names.append(name)
            text = text.replace(name, " ", 1)
    return names, text


def parse_genres(text: str) -> list[str]:
    low = text.lower()
    found: list[str] = []
    for word, genre in GENRE_WORDS.items():
        if re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", low) and genre not in found:
            found.append(genre)
    return found


def parse_sort(text: str) -> tuple[dict[str, Any] | None, int | None]:
    for pattern, key, desc, singular in SORT_RULES:
        m = re.search(pattern, text, re.I)
        if m:
            plural_after = re.match(r"\s+(?:\w+\s+)?(?:films|movies|ones)\b", text[m.end():], re.I)
            limit = 1 if singular and not plural_after and not re.search(r"\btop \d+|\b\d+ ", text) else None
            top = re.search(r"\b(?:top|the)\s+(\d{1,2})\b", text, re.I)
            if top:
                limit = int(top.group(1))
            return {"key": key, "desc": desc}, limit
    return None, None


_FILLER = re.compile(
    r"\b(?:please|can you|could you|show me|give me|find me|find|i want|i'd like|looking for|"
    r"any|some|movies?|films?|something|anything|about|a movie|a film|which|what|are there|"
    r"list|all|the|of those|of them|sorted by \w+|ordered by \w+|how many|number of|did|direct|count|are|is|were|was)\b",
    re.I,
)


def residual_query(text: str) -> str:
    """What is left to search for once filter phrases and filler words are gone."""
    rest = _FILLER.sub(" ", text)
    rest = re.sub(r"(?<!\w)'s\b|[?!.,;:]+", " ", rest)
    rest = re.sub(r"\s+", " ", rest).strip()
    return rest if re.search(r"[^\W\d_]{3,}", rest) else ""


def understand(question: str, *, titles: list[Title], has_previous: bool) -> Understanding:
    """Route a question by rules. `titles`: catalog titles found in it; `has_previous`: a previous
    turn left result ids to follow up on."""
    q = question.strip()
    if len(q.split()) >= PLOT_WORDS and not SIMILAR.match(q):
        # A pasted plot: its years and names describe the story, they are not filters.
        return Understanding(route="semantic", query=q)
    years, rest = parse_years(q)
    director, actors, rest = parse_people(rest)
    people, rest = parse_named_people(rest)
    genres = parse_genres(rest)
    sort, limit = parse_sort(q)
    filters: dict[str, Any] = dict(years)
    if director:
        filters["director"] = director
    if actors:
        filters["actors"] = actors
    if people:
        filters["people"] = people
    if genres:
        filters["genres"] = genres
    count = bool(COUNT.search(q))
    residual = residual_query(rest)
    for g in GENRE_WORDS:
        residual = re.sub(rf"(?<![\w-]){re.escape(g)}(?![\w-])", " ", residual, flags=re.I)
    residual = re.sub(r"\s+", " ", residual).strip()

    def make(route: Route, **extra: Any) -> Understanding:
        return Understanding(
            route=route, query=extra.pop("query", residual or q), filters=filters, sort=sort,
            limit=limit, count=count, **extra,
        )

    if CHITCHAT.fullmatch(q) or (CHITCHAT.match(q) and len(q.split()) <= 4):
        return make("chitchat", query=q)
    if has_previous and FOLLOW_UP.search(q):
        return make("follow_up")
    if RECOMMEND.search(q):
        return make("recommendation", anchors=titles)
    if titles and SIMILAR.search(q):
        anchor = titles[0]
        # The year that picked the anchor is not a filter on the results.
        if filters.get("year_min") == filters.get("year_max") == anchor[2]:
            filters.pop("year_min", None)
            filters.pop("year_max", None)
        return make("similar", anchors=[anchor])
    if filters or sort or count or LIST_ALL.search(q):
        return make("structured")
    return make("semantic", query=q)
