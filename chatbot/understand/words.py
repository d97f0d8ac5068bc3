"""Word-set conditions: genres, people, countries and languages, with and / or / not."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from chatbot.understand.lexicon import (
    CASE_SENSITIVE_ALIASES,
    COUNTRY_ALIASES,
    FILLER,
    GENRE_PAIRS,
    GENRE_PHRASES,
    GENRES,
    LANGUAGE_WORDS,
    MOVIE_NOUNS,
    NATIONALITIES,
)
from chatbot.understand.people import (
    ROLES,
    PeopleIndex,
    Role,
    default_role,
    per_vocabulary,
)
from chatbot.understand.text import GAP, Question
from retrieval.plan import Filters, Names, Vocabulary
from retrieval.text import fold

NEGATION = re.compile(
    r"(?:\b(?:not|no|non|without|except|excluding|exclude|minus|but not|other than|anything but|"
    r"nothing|never|isn't|aren't|isnt|arent|wasn't|weren't|don't|doesn't|avoid|skip|none)\b[\s\x00\-]*(?:(?:a|an|any|the|too|much|for|"
    r"starring|featuring|with|directed by|by|written by|in|from|made in|movies?|films?)\b[\s\x00]*)*|\bnon-)$"
)
_ART = r"(?:(?:a|an|the|some)\s+)?"
OR_GAP = re.compile(rf"^[\s\x00]*(?:,?\s*(?:or|either|nor)|/)[\s\x00]*{_ART}$")
AND_GAP = re.compile(rf"^[\s\x00]*(?:,|&|-|\+|,?\s*and|as well as|plus|along with|together with)?[\s\x00]*(?:both|also)?[\s\x00]*{_ART}$")


@dataclass
class Mentions:
    """Values found for one Names field: each mention with whether it was negated / or-joined."""

    all_of: list[str] = field(default_factory=list)
    any_of: list[str] = field(default_factory=list)
    none_of: list[str] = field(default_factory=list)

    def names(self) -> Names:
        def uniq(xs: Iterable[str]) -> tuple[str, ...]:
            return tuple(dict.fromkeys(xs))

        any_of = uniq(self.any_of)
        all_of = uniq(x for x in self.all_of if x not in any_of)
        if len(any_of) == 1:  # "or" with nothing to choose between is a plain condition
            all_of, any_of = uniq([*all_of, *any_of]), ()
        return Names(all_of=all_of, any_of=any_of, none_of=uniq(x for x in self.none_of if x not in all_of))


@dataclass
class _Hit:
    start: int
    end: int
    values: tuple[str, ...]
    negated: bool = False


def _group_mode(q: Question, hits: Sequence[_Hit], *, and_means_or: bool = False) -> list[tuple[list[_Hit], str]]:
    """Consecutive mentions joined by and/or/commas: (hits, 'and' | 'or')."""
    groups: list[tuple[list[_Hit], str]] = []
    for hit in hits:
        if groups and not hit.negated and not groups[-1][0][-1].negated:
            gap = q.view[groups[-1][0][-1].end : hit.start]
            if OR_GAP.match(gap):
                groups[-1] = (groups[-1][0] + [hit], "or")
                continue
            if AND_GAP.match(gap):
                mode = groups[-1][1] if len(groups[-1][0]) > 1 else "and"
                groups[-1] = (groups[-1][0] + [hit], mode)
                continue
        groups.append(([hit], "and"))
    for i, (group, mode) in enumerate(groups):
        before = q.view[max(0, group[0].start - 12) : group[0].start]
        if re.search(r"\beither[\s\x00]*$", before) or and_means_or and mode == "and" and len(group) > 1 and not re.search(r"\bboth[\s\x00]*$", before):
            groups[i] = (group, "or")
    return groups


def _negated(q: Question, start: int) -> bool:
    before = q.view[max(0, start - 40) : start]
    return bool(NEGATION.search(before.replace(GAP, " ").rstrip() + (" " if before.endswith(" ") else "")))


def _mark_negation(q: Question, hits: list[_Hit]) -> None:
    prev_neg = False
    prev_end = 0
    for hit in hits:
        gap = q.view[prev_end : hit.start]
        hit.negated = _negated(q, hit.start) or (prev_neg and bool(re.fullmatch(r"[\s\x00]*(?:,|or|nor|and|,\s*or|,\s*nor|,\s*and)[\s\x00]*", gap)))
        prev_neg, prev_end = hit.negated, hit.end


def _collect(q: Question, hits: list[_Hit], into: Mentions, *, and_means_or: bool = False) -> None:
    _mark_negation(q, hits)
    for group, mode in _group_mode(q, hits, and_means_or=and_means_or):
        for hit in group:
            target = into.none_of if hit.negated else into.any_of if mode == "or" else into.all_of
            target.extend(hit.values)
    for hit in hits:
        neg = NEGATION.search(q.view[: hit.start])
        q.consume(neg.start() if hit.negated and neg else hit.start, hit.end)


@lru_cache(maxsize=64)
def _by_fold(known: frozenset[str]) -> dict[str, str]:
    return {fold(k): k for k in known}


def pick(candidates: Sequence[str], known: frozenset[str]) -> str:
    """The first candidate the catalog has (case-insensitive), as the catalog spells it."""
    by_fold = _by_fold(known)
    for c in candidates:
        if fold(c) in by_fold:
            return by_fold[fold(c)]
    return candidates[0]


# --- genres --------------------------------------------------------------------------------


def _genre_table(vocab: Vocabulary) -> tuple[dict[str, tuple[tuple[str, ...], ...]], re.Pattern[str]]:
    own = _by_fold(vocab.genres)
    table: dict[str, tuple[tuple[str, ...], ...]] = {
        **{w: (c,) for w, c in GENRES.items()}, **{w: (c,) for w, c in GENRE_PHRASES.items()},
        **GENRE_PAIRS, **{w: ((g,),) for w, g in own.items() if w not in GENRES},
    }
    words = sorted(table, key=len, reverse=True)
    alt = "|".join(re.escape(w) for w in words)
    return table, re.compile(rf"(?<![\w'])({alt})(?:'s)?(?![\w'])(?!-(?:minute|hour))")


_OWNED = re.compile(r"\b(?:his|her|their|its|whose|my|your|our)\s+$")
"""A genre word owned by someone ("his family", "whose family") is a noun of the story, not a genre."""
_FILM_NOUN_AFTER = re.compile(r"\s*(?:movies?|films?|pictures?|flicks?|titles?|ones?)\b")


def read_genres(q: Question, vocab: Vocabulary) -> Names:
    hits: list[_Hit] = []
    table, pattern = per_vocabulary(vocab, "genres", lambda: _genre_table(vocab))
    taken: list[tuple[int, int]] = []
    for m in re.finditer(pattern, q.view):
        if any(s < m.end() and m.start() < e for s, e in taken):
            continue
        if m.group(1) == "war" and re.search(r"\bworld war|\bwar (?:ii|2|i|one|two)\b|\bcivil war\b|\bstar wars?", q.view[max(0, m.start() - 6): m.end() + 4]):
            continue
        if _OWNED.search(q.view[max(0, m.start() - 8) : m.start()]) and not _FILM_NOUN_AFTER.match(q.view[m.end() :]):
            continue
        taken.append((m.start(), m.end()))
        values = tuple(pick(c, vocab.genres) if vocab.genres else c[0] for c in table[m.group(1)])
        hits.append(_Hit(m.start(), m.end(), values))
    into = Mentions()
    _collect(q, hits, into)
    return into.names()


# --- countries and languages ---------------------------------------------------------------


_PlaceTables = tuple[
    dict[str, tuple[str, ...]], dict[str, tuple[str, ...]], re.Pattern[str], re.Pattern[str], re.Pattern[str], re.Pattern[str]
]


def _place_tables(vocab: Vocabulary) -> _PlaceTables:
    """Language and country words (the lexicon's and the catalog's own) and their patterns."""
    lang_words = {**LANGUAGE_WORDS, **{fold(x): (x,) for x in vocab.languages}}
    country_words = {
        **{fold(c): (c,) for cs, _ in NATIONALITIES.values() for c in cs},
        **{fold(x): (x,) for x in vocab.countries}, **COUNTRY_ALIASES,
    }

    def alt(words: Iterable[str]) -> str:
        return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))

    nat_alt = alt(NATIONALITIES)
    lang_alt = alt(set(lang_words) | {w for w, (_, ls) in NATIONALITIES.items() if ls})
    lang_only = r"(?:[- ](?:language|speaking|spoken|dialogue|audio|dub(?:bed)?)\b)"
    lang_re = re.compile(
        rf"(?:\b(?:in|spoken in|speaking|dubbed in|language:?|languages?(?: is| of)?)\s+)((?:{lang_alt})(?:\s*(?:,|or|and|/)\s*(?:{lang_alt}))*)\b"
        rf"(?!{lang_only}?\s*(?:director|actor|actress))|\b((?:{lang_alt}))\b{lang_only}"
    )
    country_re = re.compile(rf"(?<![\w-])({alt(country_words)})(?![\w-])|\b({nat_alt})[- ](?:made|produced|productions?)\b")
    nat_re = re.compile(rf"(?<!\w)({nat_alt})(?![\w-])")
    pure = alt(w for w in lang_words if w not in NATIONALITIES)  # "Mandarin films": a language, not a people
    lang_re = re.compile(rf"{lang_re.pattern}|\b({pure})\b(?= (?:movies?|films?|pictures?|flicks?)\b)")
    return lang_words, country_words, lang_re, re.compile(lang_alt), country_re, nat_re


SETTING = re.compile(
    r"\b(?:to|into|towards?|across|around|through(?:out)?|visits?|visiting|set in|takes? place in|taking place in|"
    r"(?:travel|travels|travelled|traveled|flies|fly|flew|moves?|moved|returns?|returned|escapes?|escaped|"
    r"trip|journey|voyage|holiday|vacation|flight)(?: back)? (?:to|in|from))\s+(?:the\s+)?$"
)
"""Words before a country that make it where the story goes, not where the film was made ("his
family flies to France", "set in Japan"): the country stays in the plot phrase."""


def read_places(q: Question, vocab: Vocabulary) -> tuple[Names, Names, tuple[Filters, ...], list[str]]:
    """(countries, languages, either-groups, unapplied): "Italian movies" is made in Italy or in Italian."""
    countries, languages = Mentions(), Mentions()
    either_c: list[str] = []
    either_l: list[str] = []
    unapplied: list[str] = []
    lang_words, country_words, lang_re, lang_word_re, country_re, nat_re = per_vocabulary(
        vocab, "places", lambda: _place_tables(vocab)
    )
    known_c, known_l = _by_fold(vocab.countries), _by_fold(vocab.languages)

    def langs_of(word: str) -> tuple[str, ...]:
        if word in NATIONALITIES:
            return NATIONALITIES[word][1]
        return lang_words.get(word, ())

    def choose(cands: Sequence[str], known: frozenset[str]) -> list[str]:
        have = [pick([c], known) for c in cands if fold(c) in _by_fold(known)]
        return have or list(cands[:1])

    def add(target: Mentions, values: list[str], start: int, end: int) -> None:
        neg = _negated(q, start)
        (target.none_of if neg else target.any_of).extend(values)
        m = NEGATION.search(q.view[:start])
        q.consume(m.start() if neg and m else start, end)

    # languages named as languages: "in Japanese", "Japanese-language", "spoken in French"
    for m in list(lang_re.finditer(q.view)):
        words = lang_word_re.findall(m.group(1) or m.group(2) or m.group(3))
        values = [v for w in words for v in choose(langs_of(w), vocab.languages)]
        if values and not vocab.languages:  # the catalog records no languages (MovieLens)
            unapplied.append(q.orig[m.start() : m.end()])
            q.consume(m.start(), m.end())
        elif values:
            add(languages, values, m.start(), m.end())
    # countries named as countries: "from Italy", "made in Japan", "French-made"
    for m in list(country_re.finditer(q.view)):
        if GAP in q.view[m.start() : m.end()] or SETTING.search(q.view[max(0, m.start() - 30) : m.start()]):
            continue
        if m.group(1):
            values = choose(country_words[m.group(1)], vocab.countries)
        else:
            values = choose(NATIONALITIES[m.group(2)][0], vocab.countries)
        if not vocab.countries:  # the catalog records no countries
            unapplied.append(q.orig[m.start() : m.end()])
            q.consume(m.start(), m.end())
            continue
        add(countries, values, m.start(), m.end())
    for word, aliases in CASE_SENSITIVE_ALIASES.items():
        for m in list(re.finditer(rf"(?<![\w.]){re.escape(word)}(?![\w.])", q.orig)):
            if GAP not in q.view[m.start() : m.end()]:
                add(countries, choose(aliases, vocab.countries), m.start(), m.end())
    # nationalities: "Italian movies" -> made in Italy or spoken in Italian (what the catalog has)
    for m in list(nat_re.finditer(q.view)):
        cs, ls = NATIONALITIES[m.group(1)]
        has_c = [c for c in cs if fold(c) in known_c]
        has_l = [x for x in ls if fold(x) in known_l]
        neg = _negated(q, m.start())
        if not (vocab.countries or vocab.languages):
            unapplied.append(q.orig[m.start() : m.end()])
            q.consume(m.start(), m.end())
            continue
        c_vals = [pick([c], vocab.countries) for c in has_c] or ([] if has_l else list(cs[:1]))
        l_vals = [pick([x], vocab.languages) for x in has_l]
        if neg:
            countries.none_of.extend(c_vals)
            languages.none_of.extend(l_vals)
        elif c_vals and l_vals:
            either_c.extend(c_vals)
            either_l.extend(l_vals)
        elif c_vals:
            countries.any_of.extend(c_vals)
        else:
            languages.any_of.extend(l_vals)
        add(Mentions(), [], m.start(), m.end())
    either: tuple[Filters, ...] = ()
    if either_c:
        either = (
            Filters(countries=Names(any_of=tuple(dict.fromkeys(either_c)))),
            Filters(languages=Names(any_of=tuple(dict.fromkeys(either_l)))),
        )
    return _any(countries), _any(languages), either, unapplied


def _any(m: Mentions) -> Names:
    """Places are one-of: a film has one language, and "French and Italian films" means either."""
    vals = tuple(dict.fromkeys([*m.all_of, *m.any_of]))
    return Names(any_of=vals, none_of=tuple(dict.fromkeys(x for x in m.none_of if x not in vals)))


# --- people --------------------------------------------------------------------------------

_BEFORE_ROLE: tuple[tuple[str, Role], ...] = (
    (r"\b(?:written|penned|scripted|screenplays?|scripts?|story|stories|co-written)(?: and directed)? by|\b(?:screen)?writers?(?: named)?", "writers"),
    (r"\b(?:directed|helmed|made|shot|filmed|direction|directors?|filmmakers?|co-directed)(?: by)?|\b(?:movies?|films?|pictures?|flicks?|works?|something|anything|one|ones) (?:by|from)|^by|\bby director|\bfrom director", "directors"),
    (r"\b(?:starring|featuring|feat\.?|features?|with|w/|played by|acted by|stars?|co-?starring|appearances? by|casting|actors?|actress(?:es)?|cast members?|in which|where)(?: actors?| actress(?:es)?)?", "actors"),
    (r"\bby", "directors"),
)
_AFTER_ROLE: tuple[tuple[str, Role], ...] = (
    (r"^(?:'s)?[\s\x00]*(?:has |had |have )?(?:directed|direct|directs|helmed|made|make|makes|-directed)\b", "directors"),
    (r"^(?:'s)?[\s\x00]*(?:has |had |have |is |was )?(?:starred|stars|star|starring|acted|acts|act|appears|appeared|appear|played|plays|play|is in|was in|are in|were in|-starring)\b", "actors"),
    (r"^(?:'s)?[\s\x00]*(?:has |had |have )?(?:wrote|write|writes|written|penned|scripted)\b", "writers"),
)
_LINK = r"(?:[\s\x00]*(?:,|&|and|or|nor|both|either|neither|as well as|also|plus)?[\s\x00]*)*"


def _cue_before(q: Question, start: int) -> Role | None:
    before = q.view[max(0, start - 40) : start]
    before = re.sub(r"(?:[\s\x00,&]|\b(?:and|or|nor|both|either|neither|not|no|without|except|excluding|but|also|the director|the actors?|the actress|actors?|actress)\b)*$", "", before)
    for pattern, role in _BEFORE_ROLE:
        if re.search(rf"(?:{pattern})[\s\x00]*$", before):
            return role
    return None


def _cue_after(q: Question, end: int) -> Role | None:
    after = q.view[end : end + 30]
    for pattern, role in _AFTER_ROLE:
        if re.match(pattern, after):
            return role
    return None


@dataclass
class People:
    by_role: dict[str, Mentions] = field(default_factory=lambda: {r: Mentions() for r in (*ROLES, "people")})
    unresolved: list[tuple[int, int]] = field(default_factory=list)
    """Spans of surnames several people share (left for later passes: "set in New York")."""
    unknown: bool = False
    """A name the catalog does not have was taken as written."""


_NOT_A_NAME = FILLER | MOVIE_NOUNS | set(GENRES) | set(NATIONALITIES) | {
    "best", "top", "old", "new", "long", "short", "young", "first", "last", "latest", "newest",
    "oldest", "longest", "shortest", "worst", "highest", "lowest", "early", "late", "mid", "rated",
    "rating", "ratings", "minutes", "hours", "year", "years", "decade", "time", "day", "night",
    "man", "men", "woman", "women", "girl", "boy", "king", "story", "life", "love", "black", "white",
    "green", "brown", "gray", "grey", "rose", "hill", "wood", "woods", "price", "cash",
    "christmas", "space", "dog", "cat", "heist", "robot", "robots", "english", "actor", "actress",
    "director", "writer", "cast",
}


def _other_first_name(q: Question, start: int, resolved: str | None) -> bool:
    """A capitalised word right before a surname makes another person's name ("John Wayne" is
    not Naunton Wayne), unless it is the resolved person's first name or close ("Charlie" Chaplin)."""
    m = re.search(r"([^\W\d_][\w'-]*) $", q.orig[:start])
    if not (m and m.group(1)[0].isupper() and fold(m.group(1)) not in _NOT_A_NAME):
        return False
    first = fold(resolved.split()[0]) if resolved else ""
    return fold(m.group(1))[:4] != first[:4] or len(first) < 3


KNOWN_CREDITS = 3
"""A capitalised surname alone ("Spielberg") is a name when its person has this many credits."""
_GENRE_ALT = "|".join(re.escape(w) for w in sorted(GENRES, key=len, reverse=True))
_NAME_CONTEXT = re.compile(
    rf"(?:'s\b|[\s\x00]+(?:(?:and|or|&|,)[\s\x00]+[^\W\d_]|movies?\b|films?\b|pictures?\b|flicks?\b|works?\b|(?:{_GENRE_ALT})\b))"
)


def read_people(q: Question, index: PeopleIndex) -> People:
    """Catalog names in the question, each with its role (a role word, else what the catalog says)."""
    tokens = [(m.start(), m.end(), m.group(0)) for m in re.finditer(r"[^\W_]+", q.view)]
    found: list[tuple[int, int, str, bool]] = []  # start, end, name, was a bare tail
    i = 0
    while i < len(tokens):
        got = None
        for n in range(min(index.longest, len(tokens) - i), 0, -1):
            span = tokens[i : i + n]
            if any(GAP in q.view[a:b] for a, b, _ in span) or re.search(r"[,;:?!()\"]", q.view[span[0][1] : span[-1][0]]):
                continue
            key = tuple(t for _, _, t in span)
            start, end = span[0][0], span[-1][1]
            written = q.orig[start:end]
            capital = written[:1].isupper()
            name = index.full.get(key)
            if name and (n > 1 or capital):
                got = (n, name, False)
                break
            if key in index.tails and (n > 1 or (len(key[0]) >= 3 and key[0] not in _NOT_A_NAME)):
                # a bare surname needs evidence it is a name: a role word, "'s", "films" or a
                # genre after it, another name joined to it, or a capital and a known filmography
                cue = _cue_before(q, start) or _cue_after(q, end)
                context = bool(_NAME_CONTEXT.match(q.view[end:]))
                resolved = index.resolve_tail(key, cue)
                if _other_first_name(q, start, resolved):
                    continue
                known = resolved is not None and (not index.credits or index.credits.get(resolved, 0) >= KNOWN_CREDITS)
                if not (cue or context or (capital and known)):
                    continue
                got = (n, resolved or "", True) if resolved or index.ambiguous(key) else None
                if got:
                    break
        if got:
            n, name, _ = got
            start, end = tokens[i][0], tokens[i + n - 1][1]
            if name and (first := re.search(r"([^\W\d_][\w'-]*) $", q.orig[:start])) and first.group(1)[0].isupper() \
                    and fold(first.group(1))[:4] == fold(name.split()[0])[:4] and GAP not in q.view[first.start() : start]:
                start = first.start()  # "Charlie Chaplin": the first name as people say it
            found.append((start, end, name, True))
            i += n
        else:
            i += 1
    people = People()
    hits: list[tuple[_Hit, Role | None]] = []
    for start, end, name, _ in found:
        if not name:
            people.unresolved.append((start, end))
            continue
        hits.append((_Hit(start, end, (name,)), None))
    _assign(q, index, hits, people)
    return people


def _assign(q: Question, index: PeopleIndex, hits: list[tuple[_Hit, Role | None]], people: People) -> None:
    """Role per connected group of names (a role word before the first or after the last)."""
    plain = [h for h, _ in hits]
    _mark_negation(q, plain)
    groups = _group_mode(q, plain)
    for group, mode in groups:
        role = _cue_before(q, group[0].start) or _cue_after(q, group[-1].end)
        if role is None and mode == "or" and len(group) > 1:
            # "Bruce Willis or Sylvester Stallone movies": one role for the alternatives, the
            # first both have (else any role), so the "or" stays inside one condition
            shared = set(ROLES)
            for hit in group:
                shared &= set(index.roles.get(hit.values[0], frozenset()))
            role = next((r for r in ROLES if r in shared), None) or "people"
        before = q.view[max(0, group[0].start - 12) : group[0].start]
        both = bool(re.search(r"\bboth[\s\x00]*$", before))
        for hit in group:
            name = hit.values[0]
            r = role if role and (role == "people" or role in index.roles.get(name, frozenset())) else (
                role if role and name not in index.roles else default_role(index.roles.get(name, frozenset()))
            )
            key = r or "people"
            target = people.by_role[key]
            if hit.negated:
                target.none_of.append(name)
            elif mode == "or" or (key == "directors" and len(group) > 1 and not both):
                target.any_of.append(name)
            else:
                target.all_of.append(name)
            q.consume(hit.start, hit.end)
            if hit.negated and (neg := re.search(NEGATION, q.view[: hit.start])):
                q.consume(neg.start(), hit.start)
        _consume_links(q, group)


def _consume_links(q: Question, group: list[_Hit]) -> None:
    for a, b in zip(group, group[1:], strict=False):
        if re.fullmatch(_LINK, q.view[a.end : b.start]):
            q.consume(a.end, b.start)
    for start in (group[0].start,):
        m = re.search(r"(?:\b(?:both|either|neither)[\s\x00]*)$", q.view[:start])
        if m:
            q.consume(m.start(), start)


_CAP_NAME = r"(?<![\w'])((?:[A-Z][\w'\-.]*[a-z][\w'\-]*|[A-Z]\.)(?: (?:[A-Z][\w'\-.]*|(?:de|da|van|von|der|del|di|le|la)\b)){1,3})"


_STRONG_CUE = r"\b(?:starring|featuring|directed by|written by|made by|a film by|co-starring|with)"


def read_unknown_names(q: Question) -> People:
    """Capitalised names the catalog does not have ("Greta Gerwig films"), taken as written."""
    people = People()
    hits: list[tuple[_Hit, Role | None]] = []
    for m in re.finditer(_CAP_NAME, q.orig):
        if GAP in q.view[m.start() : m.end()]:
            continue
        words = m.group(1).split()
        while words and fold(words[0]) in _NOT_A_NAME | {"which", "what", "who", "show", "list", "give", "find", "any", "all"}:
            words.pop(0)
        while words and fold(words[-1]).removesuffix("'s") in _NOT_A_NAME:
            words.pop()
        if len(words) < 2 or any(fold(w).strip(".") in _NOT_A_NAME for w in words):
            continue
        name = " ".join(words).removesuffix("'s")
        start = q.orig.index(name, m.start())
        end = start + len(name)
        after = q.view[end : end + 20]
        cue = _cue_before(q, start) or _cue_after(q, end)
        if not (cue or re.match(r"^(?:'s)?[\s\x00]*(?:movies|films|pictures|flicks|movie|film|work)\b", after)):
            continue
        hits.append((_Hit(start, end, (name,)), cue))
    # one capitalised word right after a strong role word: "starring Zendaya", "directed by Kurosawa"
    for m in re.finditer(rf"(?:{_STRONG_CUE})\s+([A-Z][\w'-]{{2,}})(?![\w'-]| [A-Z])", q.orig, re.I):
        start, end = m.start(1), m.end(1)
        if GAP not in q.view[start:end] and fold(m.group(1)) not in _NOT_A_NAME and m.group(1)[0].isupper():
            hits.append((_Hit(start, end, (m.group(1),)), _cue_before(q, start)))
    hits.sort(key=lambda h: h[0].start)
    if hits:
        people.unknown = True
        empty = PeopleIndex(full={}, tails={}, roles={}, credits={}, longest=1)
        _assign(q, empty, hits, people)
    return people


def merge_people(a: People, b: People) -> dict[str, Names]:
    out: dict[str, Names] = {}
    for key in (*ROLES, "people"):
        m = Mentions(
            all_of=a.by_role[key].all_of + b.by_role[key].all_of,
            any_of=a.by_role[key].any_of + b.by_role[key].any_of,
            none_of=a.by_role[key].none_of + b.by_role[key].none_of,
        )
        out[key] = m.names()
    return out
