"""The record formats as pydantic models: field names are `movies` columns, aliases are the keys
each format uses (the course's French keys, MovieLens's camelCase CSV headers). Values go through
the coercers of `coerce`; `parse` turns the first failure into the one-sentence `IngestError`
naming the record or line, the key, what is wrong and what to do."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from retrieval.ingest import coerce
from retrieval.ingest.coerce import Invalid
from retrieval.ingest.records import IngestError

Title = Annotated[str, BeforeValidator(coerce.title)]
Text = Annotated[str | None, BeforeValidator(coerce.text)]
Joined = Annotated[str | None, BeforeValidator(coerce.joined)]
Names = Annotated[list[str], BeforeValidator(coerce.names)]
Year = Annotated[int | None, BeforeValidator(coerce.year)]
Duration = Annotated[int | None, BeforeValidator(coerce.duration)]
Imdb = Annotated[int | None, BeforeValidator(lambda raw: None if raw is None else coerce.imdb(raw))]
Whole = Annotated[int | None, BeforeValidator(coerce.whole)]
RequiredWhole = Annotated[int, BeforeValidator(coerce.required_whole)]


class _Format(BaseModel):
    """A record of one input format. Keys the input leaves out stay unset (`values()` omits them:
    the column keeps what it had); an explicit null sets None."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    def values(self) -> dict[str, Any]:
        """The columns this record sets."""
        return self.model_dump(exclude_unset=True)


class CourseFilm(_Format):
    """A film of the course movies.json; `_id` is the IMDb number, other keys (annonce) are ignored."""

    title: Title = Field(None, alias="titre", validate_default=True)
    year: Year = Field(None, alias="annee")
    country: Joined = Field(None, alias="pays")
    language: Joined = Field(None, alias="langue")
    duration_min: Duration = Field(None, alias="duree")
    summary: Text = Field(None, alias="resume")
    genres: Names = Field(default_factory=list, alias="genre")
    director: Annotated[str | None, BeforeValidator(coerce.joined_names)] = Field(None, alias="realisateur")
    writers: Names = Field(default_factory=list, alias="scenariste")
    actors: Annotated[list[str], BeforeValidator(coerce.actors)] = Field(default_factory=list, alias="role")
    poster_url: Text = Field(None, alias="poster")
    imdb_id: Imdb = Field(None, alias="_id")

    def values(self) -> dict[str, Any]:
        values = super().values()
        if values.get("imdb_id") is None:  # `_id: null` in the course file says nothing
            values.pop("imdb_id", None)
        return values


class NativeFilm(_Format):
    """The native format (keys = `movies` columns) and the plot list (`plot` for `summary`)."""

    title: Title = Field(None, validate_default=True)
    year: Year = None
    country: Text = None
    language: Text = None
    duration_min: Duration = None
    summary: Text = Field(None, validation_alias=AliasChoices("summary", "plot"))
    genres: Names = Field(default_factory=list)
    director: Text = None
    writers: Names = Field(default_factory=list)
    actors: Names = Field(default_factory=list)
    poster_url: Text = None
    imdb_id: Imdb = None

    @model_validator(mode="before")
    @classmethod
    def _one_summary(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "plot" in data and "summary" in data:
            raise Invalid("has both 'plot' and 'summary'", "keep one of them")
        return data


def _keys(model: type[BaseModel]) -> frozenset[str]:
    """Every key a model reads."""
    keys: set[str] = set()
    for name, field in model.model_fields.items():
        choices = field.validation_alias
        if isinstance(choices, AliasChoices):
            keys.update(str(c) for c in choices.choices)
        else:
            keys.add(field.alias or name)
    return frozenset(keys)


NATIVE_KEYS = _keys(NativeFilm)
"""Keys of the native format and the plot list; any other key matches no accepted format."""


class MovieLensFilm(_Format):
    """A line of movies.csv: "Matrix, The (1999)" gives the title and the year, "Seven (a.k.a.
    Se7en) (1995)" an alternative title too."""

    movielens_id: RequiredWhole = Field(alias="movieId")
    title: str
    year: int | None = None
    genres: list[str]
    titles_aka: list[str]

    @model_validator(mode="before")
    @classmethod
    def _split(cls, data: Any) -> Any:
        name, year = coerce.parse_movielens_title(data["title"])
        if not name:
            raise Invalid("the title is empty", "give every movie a title")
        genres = data["genres"].strip()
        listed = [] if genres in ("", "(no genres listed)") else [g.strip() for g in genres.split("|") if g.strip()]
        akas = coerce.alternative_titles(name, coerce.parse_movielens_akas(data["title"]))
        return {**data, "title": name, "year": year, "genres": listed, "titles_aka": akas}


class MovieLensLink(_Format):
    """A line of links.csv: a MovieLens film's IMDb and TMDb ids (either may be empty)."""

    movielens_id: RequiredWhole = Field(alias="movieId")
    imdb_id: Annotated[int | None, BeforeValidator(coerce.imdb_or_empty)] = Field(alias="imdbId")
    tmdb_id: Whole = Field(alias="tmdbId")


class MovieLensRating(_Format):
    """A line of ratings.csv."""

    user_id: RequiredWhole = Field(alias="userId")
    movielens_id: RequiredWhole = Field(alias="movieId")
    rating: Annotated[float, BeforeValidator(coerce.rating)]
    timestamp: Whole


M = TypeVar("M", bound=BaseModel)


def parse(model: type[M], item: Mapping[str, Any], *, where: str, file: str | Path) -> M:
    """`item` as a `model`, or the `IngestError` for its first wrong value."""
    try:
        return model.model_validate(item)
    except ValidationError as exc:
        raise _ingest_error(model, exc, where, file) from None


def _ingest_error(model: type[BaseModel], exc: ValidationError, where: str, file: str | Path) -> IngestError:
    first = exc.errors()[0]
    key = str(first["loc"][0]) if first["loc"] else ""
    if (field := model.model_fields.get(key)) and field.alias:  # a default pydantic validated: loc is the field name
        key = field.alias
    cause = first.get("ctx", {}).get("error")
    if isinstance(cause, Invalid):
        problem, hint = cause.sentence(key)
    elif first["type"] == "missing":
        problem, hint = f"has no {key}", f"give every record a {key}"
    else:  # a shape no coercer checks; pydantic's own words
        problem, hint = f"{key} {first['input']!r}: {first['msg'].lower()}", f"correct {key}"
    return IngestError(file, problem, where=where, hint=hint)
