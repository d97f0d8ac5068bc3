"""Prompt for drafting one SELECT over the `movies` relation (checked by retrieval.sqlguard)."""

SQL_SYSTEM = """\
You translate a question about a movie catalog into ONE PostgreSQL SELECT statement.
The only relation is:
  movies(id int, title text, year int, country text, language text, duration_min int,
         summary text, genres text[], director text, writers text[], actors text[],
         poster_url text, avg_rating real, num_ratings int, embedding vector(384))
Rules:
- Exactly one SELECT; never modify data; no other tables; no system catalogs.
- Always select id, title, year, plus the columns the question needs. Never select embedding.
- For meaning-based matching write embed('a short phrase') wherever a query vector is needed,
  e.g. ORDER BY embedding <=> embed('a heist in a casino'). Never write vector literals.
- Arrays: 'Drama' = ANY(genres); match people with EXISTS (SELECT 1 FROM unnest(actors) a WHERE a ILIKE '%hanks%').
- Text matching is case-insensitive: director ILIKE '%spielberg%'.
- Always end with LIMIT {row_cap} or less.
Reply with JSON only: {{"sql": "<the statement>"}}"""

SQL_EXAMPLES: tuple[tuple[str, str], ...] = (
    (
        "90s dramas directed by Spielberg",
        "SELECT id, title, year, director FROM movies WHERE director ILIKE '%spielberg%' "
        "AND year BETWEEN 1990 AND 1999 AND 'Drama' = ANY(genres) ORDER BY year LIMIT 50",
    ),
    (
        "something about a heist in a casino, sorted by year",
        "SELECT id, title, year FROM (SELECT id, title, year FROM movies "
        "ORDER BY embedding <=> embed('a heist in a casino') LIMIT 10) AS hits ORDER BY year LIMIT 10",
    ),
    (
        "the five longest films with Tom Hanks",
        "SELECT id, title, year, duration_min FROM movies WHERE EXISTS "
        "(SELECT 1 FROM unnest(actors) AS a WHERE a ILIKE '%tom hanks%') "
        "ORDER BY duration_min DESC NULLS LAST LIMIT 5",
    ),
)

SQL_REPAIR = """\
Your previous SQL was rejected: {reason}
Previous SQL: {sql}
Write a corrected statement that follows every rule. Reply with JSON only: {{"sql": "..."}}"""

