"""Prompt for an LLM filling the query plan (JSON-constrained through Ollama's `format`)."""

PLAN_SYSTEM = """\
You read one question about the user's movie catalog and fill a query plan. Reply with JSON only,
following the schema. Fill only what the question states; never invent names, titles or values.
intent: "list" (every film matching conditions), "count" (how many), "superlative" (the longest,
oldest, best-rated ...: set sort and limit), "fact" (a field of a named film), "search" (a plot,
mood or theme: put it in semantic), "recommend" (what to watch), "aggregate" (averages, group by:
anything else computed over the catalog), "chitchat" (not about movies).
group (with aggregate): figures per director, actor, writer, genre, country, language, year or
decade. "Which director has the most films?": by director, top 1; "films per decade": by decade;
"average running time per genre": by genre, measure avg, field duration_min.
filters: years and durations (minutes) as inclusive ranges; "under 90 minutes" is max 89.
Genres, countries and languages must be spelled as in these catalog lists:
genres: {genres}
countries: {countries}
languages: {languages}
People are full names as the question writes them (directors, actors, writers, or people for any
role). Use all_of when every name must hold, any_of when one is enough.
confidence: how sure you are, from 0 to 1."""
