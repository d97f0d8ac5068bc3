"""The synthetic catalog bench section `scale` runs on (eval/bench_scale.py): seed vectors from the
real catalog's embedding texts (cached by their hash), perturbed copies with the seeds' own
covariance so nearest-neighbour cosines look like real ones, and filters that keep realistic
shares of the rows (a ~10 % genre, a decade)."""

from __future__ import annotations

import csv
import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eval.bench import BenchContext


@dataclass(kw_only=True)
class Films:
    """Row i: vectors[i], genres[i], years[i], titles[i]."""

    vectors: np.ndarray
    genres: list[list[str]]
    years: list[int | None]
    titles: list[str]


@dataclass(kw_only=True)
class Seeds(Films):
    source: str


@dataclass(kw_only=True)
class Synthetic(Films):
    noise_scale: float
    target_cosine: float
    mean_cosine_to_seed: float




def seed_texts(movies_path: Path | None, movielens_dir: Path | None) -> list[tuple[str, list[str], int | None, str]]:
    """(embedded text, genres, year, title) of every real film available."""
    from retrieval.embeddings import embedding_text
    from retrieval.ingest import parse_movielens_title
    from retrieval.ingest.formats import read_movies_file

    out = []
    if movies_path is not None:
        _, records = read_movies_file(movies_path)
        for r in records:
            v = r.values
            out.append((embedding_text(v), list(v.get("genres") or []), v.get("year"), v["title"]))
    if movielens_dir is not None:
        with (movielens_dir / "movies.csv").open(encoding="utf-8", newline="") as f:
            for row in csv.DictReader(f):
                title, year = parse_movielens_title(row["title"])
                genres = [] if row["genres"] == "(no genres listed)" else row["genres"].split("|")
                out.append((embedding_text({"title": title, "genres": genres}), genres, year, title))
    if not out:
        raise RuntimeError("The scale bench needs the real catalog (../shared/data) for its seed vectors.")
    return out


def load_seeds(ctx: BenchContext, cache_dir: Path, limit: int | None, progress: bool) -> Seeds:
    """The real films' vectors, embedded once and cached under `cache_dir` by text digest."""
    items = seed_texts(ctx.movies_path, ctx.movielens_dir)
    if limit is not None:
        items = items[:limit]
    texts = [t for t, _, _, _ in items]
    digest = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
    cache = cache_dir / f"scale-seeds-{digest}.npy"
    if cache.is_file():
        vectors = np.load(cache)
    else:
        from retrieval.embeddings import embed_in_batches, load_embedder

        embedder = ctx.cache.get("embedder") or load_embedder()
        ctx.cache["embedder"] = embedder
        vectors = np.asarray(embed_in_batches(embedder, texts, progress=progress, desc="scale: seed vectors"),
                             dtype=np.float32)
        cache_dir.mkdir(parents=True, exist_ok=True)
        np.save(cache, vectors)
    sources = [s for s, p in (("course", ctx.movies_path), ("movielens", ctx.movielens_dir)) if p is not None]
    return Seeds(vectors=vectors, genres=[g for _, g, _, _ in items], years=[y for _, _, y, _ in items],
                 titles=[t for _, _, _, t in items], source="+".join(sources))


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def nearest_neighbour_cosine(vectors: np.ndarray, sample: int = 1000, rng: np.random.Generator | None = None) -> float:
    """Median cosine between a real film and its nearest other real film."""
    rng = rng or np.random.default_rng(0)
    idx = rng.choice(len(vectors), size=min(sample, len(vectors)), replace=False)
    sims = vectors[idx] @ vectors.T
    sims[np.arange(len(idx)), idx] = -np.inf
    return float(np.median(sims.max(axis=1)))


class Perturber:
    """Noise with the seeds' covariance, scaled so copies sit at real neighbour distance."""

    def __init__(self, seeds: np.ndarray, rng: np.random.Generator):
        self.seeds = seeds
        self.rng = rng
        centred = seeds - seeds.mean(axis=0)
        _, s, vt = np.linalg.svd(centred, full_matrices=False)
        self.basis = (s[:, None] / math.sqrt(max(1, len(seeds) - 1))) * vt  # rows: scaled components
        trace = float((s**2).sum() / max(1, len(seeds) - 1))
        self.target_cosine = nearest_neighbour_cosine(seeds, rng=rng)
        c = min(max(self.target_cosine, 0.05), 0.999)
        self.scale = math.sqrt(1 / c**2 - 1) / math.sqrt(trace)

    def copies(self, base: np.ndarray) -> np.ndarray:
        noise = self.rng.standard_normal((len(base), self.basis.shape[0])).astype(np.float32) @ self.basis
        return unit(self.seeds[base] + self.scale * noise)


def synthesize(seeds: Seeds, n: int, rng: np.random.Generator) -> tuple[Synthetic, Perturber]:
    perturber = Perturber(seeds.vectors, rng)
    base = np.arange(n) % len(seeds.vectors)
    vectors = np.empty((n, seeds.vectors.shape[1]), dtype=np.float32)
    for start in range(0, n, 50_000):
        vectors[start:start + 50_000] = perturber.copies(base[start:start + 50_000])
    jitter = np.rint(rng.normal(0, 3, n)).astype(int)
    years = [None if seeds.years[b] is None else int(min(2025, max(1890, seeds.years[b] + j)))
             for b, j in zip(base, jitter, strict=True)]
    mean_cos = float(np.mean(np.sum(vectors[:5000] * seeds.vectors[base[:5000]], axis=1)))
    return Synthetic(
        vectors=vectors, genres=[seeds.genres[b] for b in base], years=years,
        titles=[f"{seeds.titles[b]} #{i // len(seeds.vectors) + 1}" for i, b in enumerate(base)],
        noise_scale=perturber.scale, target_cosine=perturber.target_cosine, mean_cosine_to_seed=mean_cos,
    ), perturber


def ten_percent_genre(genres: list[list[str]], share: float = 0.10) -> tuple[str, float]:
    """The genre whose share of rows is closest to `share` (10 % unless told)."""
    counts: dict[str, int] = {}
    for gs in genres:
        for g in set(gs):
            counts[g] = counts.get(g, 0) + 1
    name = min(counts, key=lambda g: (abs(counts[g] / len(genres) - share), g))
    return name, counts[name] / len(genres)


def year_range(years: list[int | None]) -> tuple[int, int, float]:
    """The decade whose share of rows (unknown years included in the total) is closest to 10 %."""
    known = np.array([y for y in years if y is not None])
    best = None
    for start in range(1900, 2030, 10):
        share = float(np.mean((known >= start) & (known <= start + 9))) * len(known) / len(years)
        if best is None or abs(share - 0.10) < abs(best[2] - 0.10):
            best = (start, start + 9, share)
    assert best is not None
    return best
