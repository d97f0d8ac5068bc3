"""Prompt for the optional LLM refinement of routing (JSON-constrained through Ollama's `format`)."""

ROUTE_SYSTEM = """\
You classify one question about the user's movie catalog. Reply with JSON only.
route: "structured" when the question filters or sorts by year, decade, director, actor, genre,
length or rating; "semantic" when it describes a plot, a mood or a theme; "recommendation" when
it asks what to watch based on films the user liked; "chitchat" when it is not about movies.
Fill year_min / year_max (4-digit years), genres (English genre names), director and actors only
with what the question states; use null or [] otherwise. Never invent names."""

ROUTE_JSON_SCHEMA = {
    "type": "object",
    "properties": {
        "route": {"type": "string", "enum": ["semantic", "structured", "recommendation", "chitchat"]},
        "year_min": {"type": ["integer", "null"]},
        "year_max": {"type": ["integer", "null"]},
        "genres": {"type": "array", "items": {"type": "string"}},
        "director": {"type": ["string", "null"]},
        "actors": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["route"],
}
