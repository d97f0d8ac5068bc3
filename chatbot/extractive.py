"""The answer written without an LLM: readable, grounded, built only from the rows."""

from __future__ import annotations

from typing import Any

NO_LLM_NOTE = "No LLM was reachable, so this answer lists the catalog rows directly."
NO_LLM_CONFIGURED_NOTE = "Answering from the catalog without an LLM."

_SORT_WORDS = {
    "duration_min": "running time", "year": "year", "avg_rating": "average rating",
    "num_ratings": "number of ratings", "title": "title",
}


def describe_row(row: dict[str, Any]) -> str:
    """One line: **Title** (Year) — director; genres; runtime; rating."""
    head = f"**{row['title']}**" + (f" ({row['year']})" if row.get("year") else "")
    bits = []
    if row.get("director"):
        bits.append(f"directed by {row['director']}")
    if row.get("genres"):
        bits.append(", ".join(row["genres"][:3]))
    if row.get("duration_min"):
        bits.append(f"{row['duration_min']} min")
    if row.get("avg_rating") is not None and row.get("num_ratings"):
        bits.append(f"rated {row['avg_rating']:.1f}/5 by {row['num_ratings']} users")
    if row.get("actors"):
        bits.append("with " + ", ".join(list(row["actors"])[:2]))
    return head + (" — " + "; ".join(bits) if bits else "")


def lead(route: str, *, count: int, anchors: list[dict[str, Any]], sort: dict[str, Any] | None,
         counting: bool, capped: bool) -> str:
    if counting:
        return f"Your catalog has {'at least ' if capped else ''}{count} matching film{'s' if count != 1 else ''}:"
    if route == "similar" and anchors:
        a = anchors[0]
        return f"Films in your catalog closest to {a['title']} ({a['year']}):"
    if route == "recommendation":
        seeds = ", ".join(a["title"] for a in anchors)
        return f"Recommended from your catalog{' for fans of ' + seeds if seeds else ''}:"
    if route == "follow_up":
        return "From the previous results:"
    order = f", by {_SORT_WORDS.get(sort['key'], sort['key'])}" if sort else ""
    return f"{count} film{'s' if count != 1 else ''} from your catalog match{'es' if count == 1 else ''}{order}:"


def extractive_answer(
    rows: list[dict[str, Any]], *, route: str, anchors: list[dict[str, Any]] | None = None,
    sort: dict[str, Any] | None = None, counting: bool = False, capped: bool = False,
    sql: str | None = None,
) -> str:
    """A grounded answer listing `rows` in order."""
    titled = [r for r in rows if r.get("title")]
    if not titled:
        if rows:  # an aggregate from SQL, e.g. a count
            return "Result: " + "; ".join(", ".join(f"{k} = {v}" for k, v in r.items()) for r in rows)
        return "I found no film in your catalog that matches."
    lines = [lead(route, count=len(titled), anchors=anchors or [], sort=sort, counting=counting, capped=capped)]
    lines += [f"{i}. {describe_row(r)}" for i, r in enumerate(titled, 1)]
    if sql:
        lines.append(f"\nFound with this SQL:\n```sql\n{sql}\n```")
    return "\n".join(lines)
