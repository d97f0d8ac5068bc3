"""People's names in a question, resolved against the catalog's own credits.

A name with no role word takes the first role the catalog gives it, director before actor before
writer ("Scorsese films", "Eastwood westerns" are the ones they directed; "starring Clint
Eastwood" says otherwise). A full name matches in any case ("tom hanks"); a surname or other tail of a name ("Hitchcock",
"De Niro") matches when written with a capital or right after a role word ("directed by
hitchcock"), and only when it points at one person: the director tier first (people say "the
Spielberg films"), then actors, then writers, a clear leader by credits settling a tie.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from retrieval.plan import Vocabulary
from retrieval.text import fold

Role = str  # "directors" | "actors" | "writers"
ROLES: tuple[Role, ...] = ("directors", "actors", "writers")
_TOKEN = re.compile(r"[^\W_]+")
CLEAR_LEAD = 2
"""A surname shared by several people goes to the one with this many times the others' credits."""


def name_tokens(s: str) -> tuple[str, ...]:
    return tuple(_TOKEN.findall(fold(s)))


@dataclass(frozen=True)
class PeopleIndex:
    full: dict[tuple[str, ...], str]
    """Folded tokens of a whole name -> the name as the catalog spells it."""
    tails: dict[tuple[str, ...], frozenset[str]]
    """Folded tokens of a proper tail of a name ("hitchcock", "de niro") -> every name ending so."""
    roles: dict[str, frozenset[Role]]
    credits: dict[str, int]
    longest: int

    def resolve_tail(self, tail: tuple[str, ...], role: Role | None) -> str | None:
        """The one person a bare surname means, or None when it is nobody's or several people's."""
        names = self.tails.get(tail, frozenset())
        tiers = (role,) if role else ROLES
        for tier in tiers:
            cands = sorted(n for n in names if tier in self.roles[n])
            if not cands:
                continue
            if len(cands) == 1:
                return cands[0]
            ranked = sorted(cands, key=lambda n: -self.credits.get(n, 0))
            first, second = (self.credits.get(n, 0) for n in ranked[:2])
            return ranked[0] if first >= CLEAR_LEAD * max(second, 1) and first > 0 else None
        return None

    def ambiguous(self, tail: tuple[str, ...]) -> bool:
        return len(self.tails.get(tail, frozenset())) > 1


T = TypeVar("T")
_MEMO: dict[int, tuple[Vocabulary, dict[str, Any]]] = {}
_MEMO_SIZE = 8


def per_vocabulary(vocab: Vocabulary, name: str, build: Callable[[], T]) -> T:
    """`build()` once per vocabulary object (the catalog keeps one while its rows do not change)."""
    entry = _MEMO.get(id(vocab))
    if entry is None or entry[0] is not vocab:
        if len(_MEMO) >= _MEMO_SIZE:
            _MEMO.pop(next(iter(_MEMO)))
        entry = _MEMO[id(vocab)] = (vocab, {})
    if name not in entry[1]:
        entry[1][name] = build()
    return entry[1][name]  # type: ignore[no-any-return]


def build_index(vocab: Vocabulary) -> PeopleIndex:
    return per_vocabulary(vocab, "people", lambda: _build_index(vocab))


def _build_index(vocab: Vocabulary) -> PeopleIndex:
    roles: dict[str, set[Role]] = {}
    for role, names in zip(ROLES, (vocab.directors, vocab.actors, vocab.writers), strict=True):
        for name in names:
            roles.setdefault(name, set()).add(role)
    full: dict[tuple[str, ...], str] = {}
    tails: dict[tuple[str, ...], set[str]] = {}
    for name in sorted(roles):
        toks = name_tokens(name)
        if not toks:
            continue
        full.setdefault(toks, name)
        for i in range(1, len(toks)):
            tail = toks[i:]
            if len(tail) == 1 and len(tail[0]) < 3:
                continue
            tails.setdefault(tail, set()).add(name)
    longest = max((len(k) for k in full), default=1)
    return PeopleIndex(
        full=full, tails={k: frozenset(v) for k, v in tails.items()},
        roles={k: frozenset(v) for k, v in roles.items()}, credits=dict(vocab.credits), longest=longest,
    )


def default_role(roles: Iterable[Role]) -> Role | None:
    """The role a name with no role word plays: the catalog's first of director, actor, writer
    ("Scorsese films" are the ones he directed); None (any role) for a name it does not have."""
    rs = set(roles)
    for role in ROLES:
        if role in rs:
            return role
    return None
