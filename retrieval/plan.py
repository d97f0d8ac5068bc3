"""The query plan: what a question asks for, as a typed value compiled to SQL over the whole catalog.

The rule parser (`chatbot.understand`) and, when one is reachable, an LLM (through Ollama's
JSON-schema `format`, schema from `QueryPlan.model_json_schema()`) both fill this one shape;
`retrieval.compile` turns it into parameterised SQL. Values are catalog words: names, genres,
countries and languages as the catalog spells them (the parser resolves people's words against
the catalog's own vocabulary before they land here).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Intent = Literal[
    "list",  # every row matching the filters
    "fact",  # one or more fields of the titles named (anchors)
    "count",  # how many rows match
    "superlative",  # the rows at the top of `sort` (limit, ties kept)
    "similar",  # rows nearest to the anchors' embeddings
    "search",  # plot / mood search: rows nearest to `semantic`
    "recommend",  # recommendations (from ratings when loaded)
    "aggregate",  # a figure: one average or total (measure), a table over groups (group), else guarded LLM SQL
    "chitchat",  # greetings, thanks, "what can you do"
]
INTENTS: tuple[str, ...] = Intent.__args__  # type: ignore[attr-defined]

SortKey = Literal["title", "year", "duration_min", "avg_rating", "num_ratings"]
FieldName = Literal[
    "title", "year", "director", "actors", "writers", "duration_min", "summary", "genres",
    "country", "language", "avg_rating", "num_ratings",
]
Scope = Literal["catalog", "previous"]
CompareField = Literal["year", "duration_min", "avg_rating", "num_ratings"]
Measure = Literal["avg", "sum"]
GroupKey = Literal["director", "actor", "writer", "genre", "country", "language", "year", "decade"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Range(_Strict):
    """Inclusive bounds unless marked open; either may be missing. Whole-number columns use
    inclusive bounds ("under 90 minutes" is max=89, "the 90s" 1990..1999); ratings use open ones."""

    min: float | None = None
    max: float | None = None
    min_open: bool = False
    """`min` itself is excluded ("rated above 4.3" on a continuous value)."""
    max_open: bool = False
    """`max` itself is excluded ("rated below 2.5")."""

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"range min {self.min} is above max {self.max}")
        return self

    def is_empty(self) -> bool:
        return self.min is None and self.max is None


class Names(_Strict):
    """A set condition on a text or text[] column: every of `all_of`, one of `any_of`, none of `none_of`.

    Matching is case- and accent-insensitive equality with a catalog value (one element of an
    array column, or one name of a comma-separated director field), never a substring.
    """

    all_of: tuple[str, ...] = ()
    any_of: tuple[str, ...] = ()
    none_of: tuple[str, ...] = ()

    def is_empty(self) -> bool:
        return not (self.all_of or self.any_of or self.none_of)


class Filters(_Strict):
    """Conditions every returned row satisfies (AND of the fields; `either` adds an OR group)."""

    title: str | None = None
    """Case-insensitive substring of the title."""
    year: Range = Range()
    duration_min: Range = Range()
    avg_rating: Range = Range()
    num_ratings: Range = Range()
    genres: Names = Names()
    directors: Names = Names()
    actors: Names = Names()
    writers: Names = Names()
    people: Names = Names()
    """A name in any role: director, writer or actor."""
    countries: Names = Names()
    languages: Names = Names()
    exclude_ids: tuple[int, ...] = ()
    """Rows never returned (the anchors of a "movies like X" question)."""
    either: tuple[Filters, ...] = ()
    """At least one of these groups holds ("comedies before 1980 or dramas after 2000")."""

    def is_empty(self) -> bool:
        return (
            self.title is None
            and all(r.is_empty() for r in (self.year, self.duration_min, self.avg_rating, self.num_ratings))
            and all(
                n.is_empty()
                for n in (
                    self.genres, self.directors, self.actors, self.writers, self.people,
                    self.countries, self.languages,
                )
            )
            and not self.exclude_ids
            and not self.either
        )


class Sort(_Strict):
    key: SortKey
    desc: bool = False


class Compare(_Strict):
    """A yes/no comparison of the first named film with the others on one field ("is Jaws longer
    than Alien?": duration_min, more)."""

    field: CompareField
    more: bool = True
    """The question asks whether the first film has more of it (longer, newer, better rated)."""


class Group(_Strict):
    """The matching films grouped by one value, one figure per group: "which director has the
    most films" (director, count, top 1), "how many films per decade" (decade, count), "the
    average running time per genre" (genre, avg of duration_min)."""

    by: GroupKey
    measure: Literal["count", "avg", "sum"] = "count"
    field: CompareField | None = None
    """The column an avg or sum is of (none for a count)."""
    desc: bool | None = None
    """Groups ordered by the figure, highest first (True) or lowest (False); None: year and
    decade in time order, the others highest first."""
    top: int | None = Field(default=None, ge=1)
    """Keep the first N groups, ties kept ("the most": 1); None: every group."""
    min_films: int = Field(default=1, ge=1)
    """Groups with fewer matching films are left out (an average over one film ranks first by luck)."""
    pick: Sort | None = None
    """Instead of a figure, each group's films at the top of this sort, ties kept ("the longest
    film of each decade"): the rows are films, each with its group."""

    @model_validator(mode="after")
    def _measured(self) -> Group:
        if (self.measure == "count") != (self.field is None):
            raise ValueError("a group's count takes no field; its avg or sum needs one (year, duration_min, ...)")
        if self.pick is not None and self.measure != "count":
            raise ValueError("a group's pick ('the longest film of each decade') takes no measure")
        return self


class QueryPlan(_Strict):
    """One question, read."""

    intent: Intent
    filters: Filters = Filters()
    scope: Scope = "catalog"
    """`previous`: a follow-up, applied to the previous turn's full result ids."""
    sort: Sort | None = None
    limit: int | None = Field(default=None, ge=1)
    """Keep the first N rows after sorting ("top 5", "the three longest"); superlatives default to 1."""
    ties: bool = True
    """With a limit, rows tied with the last kept row on the sort key are kept too."""
    rank: int | None = Field(default=None, ge=2)
    """A superlative's place below the top ("the second longest": 2): the rows holding the
    rank-th distinct value of the sort key (ties kept)."""
    measure: Measure | None = None
    """An aggregate the plan computes itself ("the average running time of Kubrick films"): the
    average or total of `fields[0]` over every matching row; other aggregates draft SQL."""
    group: Group | None = None
    """An aggregate over groups the plan computes itself (the answer is a table of groups)."""
    compare: Compare | None = None
    """A fact question comparing the anchors ("is Jaws longer than Alien?"): answered yes or no."""
    position: int | None = None
    """A follow-up's pick by its place in the previous answer's list ("the third one": 3, "the
    last one": -1); applied to the previous ids before the plan runs."""
    fields: tuple[FieldName, ...] = ()
    """What the question asks about the rows (a fact question's answer; list columns)."""
    semantic: str | None = None
    """A phrase to rank (search) or re-rank (list/similar) the filtered rows by embedding distance."""
    anchors: tuple[int, ...] = ()
    """Catalog ids of the titles the question names (similar, fact)."""
    unapplied: tuple[str, ...] = ()
    """Conditions the reader understood but could not apply, in the user's words (said in the answer)."""
    confidence: float = Field(default=1.0, ge=0.0, le=1.0)
    """How sure the reader is; a low value lets a reachable LLM fill the plan instead."""

    @model_validator(mode="after")
    def _placed(self) -> QueryPlan:
        if self.position == 0:
            raise ValueError("position counts from 1 (the first film) or from -1 (the last one), never 0")
        if self.rank is not None and self.sort is None:
            raise ValueError("a rank ('the second longest') needs a sort key")
        return self


@dataclass(frozen=True)
class Vocabulary:
    """The catalog's own words, as it spells them: what the parser resolves people's words against.

    Loaded once per catalog (`Catalog.vocabulary()`); tests build one by hand.
    """

    directors: frozenset[str] = frozenset()
    actors: frozenset[str] = frozenset()
    writers: frozenset[str] = frozenset()
    genres: frozenset[str] = frozenset()
    countries: frozenset[str] = frozenset()
    languages: frozenset[str] = frozenset()
    credits: Mapping[str, int] = field(default_factory=dict)
    """Films each name is credited on, any role (optional): settles a bare surname shared by
    several people ("Hanks" -> Tom Hanks, not Colin Hanks) when one clearly has more."""
