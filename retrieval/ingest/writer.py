"""The upsert writer: plan inserts/updates against the rows already there, embed only what
changed, and write everything in one transaction under the ingest lock."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import IntegrityError

from retrieval.embeddings import embed_in_batches, embedding_text
from retrieval.ingest.coerce import alternative_titles
from retrieval.ingest.records import (
    CONTENT_COLUMNS,
    LIST_COLUMNS,
    IngestError,
    IngestReport,
    Record,
)
from retrieval.types import Embedder
from retrieval.users import refresh_profiles

INGEST_LOCK = 727_002  # advisory lock: two ingests into one database take turns


@dataclass
class _Plan:
    inserts: list[dict[str, Any]] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    unchanged: int = 0

    def texts_to_embed(self) -> set[str]:
        return {r["embedding_text"] for r in (*self.inserts, *self.updates) if r["_embed"]}


_SELECT_EXISTING = f"""
SELECT id, source_key, source, people, embedding_text, embedding IS NULL AS no_embedding,
       {", ".join(CONTENT_COLUMNS)}
FROM movies
WHERE source_key = ANY(CAST(:keys AS text[]))
   OR movielens_id = ANY(CAST(:ml_ids AS integer[]))
"""

_INSERT = f"""
INSERT INTO movies (source_key, source, people, embedding_text, embedding, {", ".join(CONTENT_COLUMNS)})
VALUES (:source_key, :source, :people, :embedding_text, CAST(:embedding AS vector),
        {", ".join(f"CAST(:{c} AS text[])" if c in LIST_COLUMNS else f":{c}" for c in CONTENT_COLUMNS)})
"""

_UPDATE = f"""
UPDATE movies SET
    source_key = :source_key, source = :source, people = :people, embedding_text = :embedding_text,
    embedding = COALESCE(CAST(:embedding AS vector), embedding),
    {", ".join(f"{c} = CAST(:{c} AS text[])" if c in LIST_COLUMNS else f"{c} = :{c}" for c in CONTENT_COLUMNS)}
WHERE id = :id
"""

_COMPARED = ("source_key", "source", "people", "embedding_text", *CONTENT_COLUMNS)

AfterHook = Callable[[Connection], set[int]]
"""Extra writes in the same transaction (MovieLens ratings); returns ids of movies it changed."""


def apply(
    engine: Engine, records: Sequence[Record], embedder: Embedder, *, file: str, fmt: str,
    source: str, progress: bool, after: AfterHook | None = None, report: IngestReport | None = None,
) -> IngestReport:
    """Embed what changed (outside the transaction, from a snapshot), then write everything in one
    transaction that re-reads the rows under lock and embeds anything the snapshot missed."""
    vectors: dict[str, list[float]] = {}

    def embed(texts: Iterable[str]) -> None:
        todo = sorted(set(texts) - vectors.keys())
        if todo:
            for t, v in zip(todo, embed_in_batches(embedder, todo, progress=progress), strict=True):
                vectors[t] = v

    with engine.connect() as conn:
        embed(_plan(_existing(conn, records), records, source).texts_to_embed())

    report = report or IngestReport(file=file, format=fmt)
    try:
        with engine.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": INGEST_LOCK})
            plan = _plan(_existing(conn, records, lock=True), records, source)
            embed(plan.texts_to_embed())
            for row in (*plan.inserts, *plan.updates):
                row["embedding"] = _vector_literal(vectors[row["embedding_text"]]) if row.pop("_embed") else None
            if plan.inserts:
                conn.execute(text(_INSERT), plan.inserts)
            if plan.updates:
                conn.execute(text(_UPDATE), plan.updates)
            if any(row["embedding"] is not None for row in plan.updates) and after is None:
                # Films re-embedded: the users' dense profiles are means of these vectors (a
                # MovieLens ingest's hook recomputes them with the users).
                refresh_profiles(conn)
            updated = {row["id"] for row in plan.updates}
            if after is not None:
                # Rows this ingest touched only through the hook (ratings) count as updated too;
                # new rows stay "inserted".
                new_keys = [row["source_key"] for row in plan.inserts]
                new_ids = {r[0] for r in conn.execute(
                    text("SELECT id FROM movies WHERE source_key = ANY(CAST(:k AS text[]))"), {"k": new_keys}
                )} if new_keys else set()
                updated |= after(conn) - new_ids
            report.inserted = len(plan.inserts)
            report.updated = len(updated)
            report.unchanged = max(0, len(records) - report.inserted - report.updated)
            report.embedded = sum(1 for row in (*plan.inserts, *plan.updates) if row["embedding"] is not None)
            report.total_movies = conn.execute(text("SELECT count(*) FROM movies")).scalar_one()
            if plan.inserts or plan.updates:
                # Fresh statistics now, not at autovacuum's next pass: retrieval.indexing reads the
                # row count and filter selectivity from them to choose exact or HNSW.
                conn.execute(text("ANALYZE movies"))
    except IntegrityError as exc:
        detail = getattr(exc.orig, "diag", None)
        reason = getattr(detail, "message_detail", None) or str(exc.orig).splitlines()[0]
        raise IngestError(
            file, f"conflicts with rows already in the catalog ({reason})",
            hint="correct the ids in the file or remove the conflicting rows",
        ) from None
    return report


def _existing(conn: Connection, records: Sequence[Record], *, lock: bool = False) -> dict[str, dict[str, Any]]:
    """Catalog rows the records may land on, by source_key; MovieLens films also find the row
    that already holds their movielens_id or IMDb id (so the join makes one row, not two)."""
    keys = [r.source_key for r in records]
    ml_ids = [r.values["movielens_id"] for r in records if r.values.get("movielens_id") is not None]
    sql = _SELECT_EXISTING + (" FOR UPDATE" if lock else "")
    rows = [dict(r) for r in conn.execute(text(sql), {"keys": keys, "ml_ids": ml_ids}).mappings()]
    by_key = {row["source_key"]: row for row in rows}
    if ml_ids:
        by_ml = {row["movielens_id"]: row for row in rows if row["movielens_id"] is not None}
        for rec in records:
            hit = by_ml.get(rec.values.get("movielens_id"))
            if hit is not None:
                by_key[rec.source_key] = hit
    return by_key


def _plan(existing: Mapping[str, dict[str, Any]], records: Sequence[Record], source: str) -> _Plan:
    plan = _Plan()
    for rec in records:
        old = existing.get(rec.source_key)
        if old is None:
            row: dict[str, Any] = {c: ([] if c in LIST_COLUMNS else None) for c in CONTENT_COLUMNS}
            row.update(rec.values)
            row.update(source_key=rec.source_key, source=source)
            _derive(row)
            row["_embed"] = True
            plan.inserts.append(row)
            continue
        new = {c: old[c] for c in (*CONTENT_COLUMNS, "source", "source_key")}
        for c in LIST_COLUMNS:
            new[c] = list(old[c] or [])
        if rec.movielens_only and old["source"] != "movielens":
            # A film another source made: MovieLens only adds its ids (the join) and its titles as
            # alternatives (people know "Amelie"), never its text.
            new["movielens_id"] = rec.values["movielens_id"]
            new["tmdb_id"] = rec.values["tmdb_id"]
            new["titles_aka"] += [rec.values["title"], *rec.values["titles_aka"]]
        else:
            if old["source"] == "movielens" and not rec.movielens_only:
                new["titles_aka"].append(old["title"])  # taken over: MovieLens's title stays findable
            new.update(rec.values)
            new["source"] = source
            # Same key unless a MovieLens film without a link (ml:<n>) has gained an IMDb id.
            new["source_key"] = rec.source_key
        new["titles_aka"] = alternative_titles(new["title"], new["titles_aka"])
        _derive(new)
        if all(new[c] == old[c] for c in _COMPARED) and not old["no_embedding"]:
            plan.unchanged += 1
            continue
        new["id"] = old["id"]
        new["_embed"] = old["no_embedding"] or new["embedding_text"] != old["embedding_text"]
        plan.updates.append(new)
    return plan


def _derive(row: dict[str, Any]) -> None:
    """Fill the columns computed from the others: `people` (full-text search) and `embedding_text`."""
    names = [row.get("director") or "", *(row.get("writers") or []), *(row.get("actors") or [])]
    people = " ; ".join(dict.fromkeys(n for n in names if n))
    row["people"] = people or None
    row["embedding_text"] = embedding_text(row)


def _vector_literal(vec: Sequence[float]) -> str:
    return "[" + ",".join(f"{x:.9g}" for x in vec) + "]"

