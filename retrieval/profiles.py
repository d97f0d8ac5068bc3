"""Embedding profiles: model + text recipe + dimension + its own vectors and HNSW index.

A profile answers "which vectors does `similar`/`search` compare?". The default, `minilm`, is the
catalog as it always was: all-MiniLM-L6-v2 over `embedding_text` in `movies.embedding` (written by
ingest; the relation the LLM sees keeps its `embedding vector(384)`). Every other profile keeps
its vectors in **a table of its own keyed by movie id**:

    profile_<name> (movie_id int PRIMARY KEY REFERENCES movies ON DELETE CASCADE,
                    embedding_text text, embedding vector(dim),
                    bits bit(dim) GENERATED ALWAYS AS (binary_quantize(embedding)::bit(dim)) STORED)
    + HNSW on embedding (vector_cosine_ops) and on bits (bit_hamming_ops)

Why tables, not columns on `movies`: profiles of different dimensions come and go without
rewriting the wide `movies` rows (every vector column would be read by every scan), `llm.movies`
stays exactly the documented relation, a profile is dropped with one statement, and "embedded or
not" is a row that exists, which makes `profiles embed` resumable batch by batch. The tables are
created on first use, idempotently (`IF NOT EXISTS`), under the schema's advisory lock; nothing
in `retrieval/schema.py` changes. Storage, embedding and the similarity SQL are in
retrieval/profiles_store.py; this module is the registry (no database, no model at import).

The binary-quantized `bits` (one bit per dimension: its sign) serve hamming and jaccard.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from retrieval.types import Embedder

MINILM_DIM = 384
"""= retrieval.schema.EMBEDDING_DIM (not imported: this registry loads without SQLAlchemy)."""

# --- text recipes -------------------------------------------------------------------------------


def _clean(value: object) -> str:
    return " ".join(str(value).split()) if value is not None else ""


def course_text(movie: Mapping[str, Any]) -> str:
    """The course's recipe: title (year), genres, country, director, cast, then the plot."""
    title = _clean(movie.get("title"))
    year = movie.get("year")
    parts = [f"{title} ({year})" if year else title]
    genres = ", ".join(g for g in (_clean(x) for x in movie.get("genres") or ()) if g)
    if genres:
        parts.append(f"Genres: {genres}")
    if country := _clean(movie.get("country")):
        parts.append(f"Country: {country}")
    if director := _clean(movie.get("director")):
        parts.append(f"Director: {director}")
    actors = ", ".join(a for a in (_clean(x) for x in (movie.get("actors") or ())[:5]) if a)
    if actors:
        parts.append(f"Cast: {actors}")
    if summary := _clean(movie.get("summary")):
        parts.append(f"Plot: {summary}")
    return ". ".join(p.rstrip(".") for p in parts) + "."


def plot_text(movie: Mapping[str, Any]) -> str:
    """Plot only (the title when a row has no summary, so every row gets a vector)."""
    return _clean(movie.get("summary")) or _clean(movie.get("title"))


def content_text(movie: Mapping[str, Any]) -> str:
    """Today's recipe, the text ingest stores in `movies.embedding_text`."""
    from retrieval.embeddings import embedding_text

    return embedding_text(movie)


RECIPES: Mapping[str, Callable[[Mapping[str, Any]], str]] = {
    "content": content_text,
    "course": course_text,
    "plot": plot_text,
}
"""Text recipes by name. `content` is today's title + genres + summary + director."""

RECIPE_DOCS: Mapping[str, str] = {
    "content": "title. genres. summary. Directed by director (year and cast left out)",
    "course": "title (year). genres. country. director. top-5 cast. plot (the course's recipe)",
    "plot": "the summary alone",
}

# --- the profiles -------------------------------------------------------------------------------

ModelKind = Literal["minilm", "mpnet", "wordllama"]


@dataclass(frozen=True, kw_only=True)
class Profile:
    """One way of turning a movie into a vector, with where those vectors live."""

    name: str
    model: ModelKind
    """Which model family loads it (see `load_profile_embedder`)."""
    model_name: str
    """The model as people know it."""
    recipe: str
    """Key of `RECIPES`."""
    dim: int
    description: str

    @property
    def default(self) -> bool:
        return self.name == DEFAULT_PROFILE

    @property
    def table(self) -> str:
        """Where its vectors live: `movies` for the default, else `profile_<name>`."""
        return "movies" if self.default else "profile_" + self.name.replace("-", "_")

    def text(self, movie: Mapping[str, Any]) -> str:
        return RECIPES[self.recipe](movie)


DEFAULT_PROFILE = "minilm"
MPNET_DIR = "all-mpnet-base-v2"
"""Folder under `MOVIE_RAG_HOME/models/` that `movie-rag profiles install mpnet` fills."""

PROFILES: Mapping[str, Profile] = {
    p.name: p
    for p in (
        Profile(name="minilm", model="minilm", model_name="all-MiniLM-L6-v2", recipe="content",
                dim=MINILM_DIM, description="the bundled default (vectors in movies.embedding)"),
        Profile(name="minilm-course", model="minilm", model_name="all-MiniLM-L6-v2", recipe="course",
                dim=MINILM_DIM, description="the default model on the course's recipe (cast, year, country)"),
        Profile(name="minilm-plot", model="minilm", model_name="all-MiniLM-L6-v2", recipe="plot",
                dim=MINILM_DIM, description="the default model on the plot alone"),
        Profile(name="mpnet", model="mpnet", model_name="all-mpnet-base-v2", recipe="content",
                dim=768, description="bigger sentence model; optional install (~420 MB from PyPI)"),
        Profile(name="wordllama", model="wordllama", model_name="wordllama l2_supercat", recipe="content",
                dim=256, description="static token embeddings: very fast on CPU, for big catalogs"),
    )
}


class ProfileError(LookupError):
    """A profile that does not exist or is not installed; the message says what to do."""


def get_profile(name: str | None) -> Profile:
    """The profile called `name` (None: the default)."""
    key = (name or DEFAULT_PROFILE).strip().lower()
    if key not in PROFILES:
        raise ProfileError(f"No embedding profile {name!r}; use one of {', '.join(PROFILES)}.")
    return PROFILES[key]


def mpnet_path(home: Path) -> Path:
    return home / "models" / MPNET_DIR


def installed(profile: Profile, home: Path) -> bool:
    """Whether the profile's model can load here without a download."""
    if profile.model == "mpnet":
        return (mpnet_path(home) / "modules.json").is_file()
    if profile.model == "wordllama":
        try:
            import wordllama  # noqa: F401
        except ImportError:
            return False
    return True


def load_profile_embedder(profile: Profile, home: Path) -> Embedder:
    """Load the profile's model offline; ProfileError with the install command when missing."""
    from retrieval.embeddings import load_embedder
    from retrieval.profiles_models import load_wordllama

    if not installed(profile, home):
        hint = (f"run `movie-rag profiles install {profile.name}`" if profile.model == "mpnet"
                else "run `pip install wordllama`")
        raise ProfileError(f"The {profile.name} profile's model is not installed; {hint}.")
    if profile.model == "mpnet":
        return load_embedder(str(mpnet_path(home)))
    if profile.model == "wordllama":
        return load_wordllama(home / "models" / "wordllama", dim=profile.dim)
    return load_embedder()


class EmbedderCache:
    """One loaded model per profile per process (profiles sharing a model share it)."""

    def __init__(self, home: Path, default: Embedder | None = None):
        self.home = home
        self._loaded: dict[str, Embedder] = {}
        if default is not None:
            self._loaded["minilm"] = default
        self._lock = threading.Lock()

    def __call__(self, profile: Profile | str) -> Embedder:
        p = get_profile(profile) if isinstance(profile, str) else profile
        with self._lock:
            if p.model not in self._loaded:
                self._loaded[p.model] = load_profile_embedder(p, self.home)
            return self._loaded[p.model]
