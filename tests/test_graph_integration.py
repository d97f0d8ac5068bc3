"""The real graph end to end: embedded Postgres with the course catalog, the real catalog search,
SQL guard and Postgres checkpointer, and the real ChatOllama cascade talking to the loopback fake."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from conftest import COURSE_MOVIES
from ollama_fake import OllamaFake

from chatbot.api import Chatbot
from chatbot.extractive import NO_LLM_CONFIGURED_NOTE
from chatbot.llm import NO_LLM_NOTE
from chatbot.settings import Settings
from chatbot.wiring import open_deps

pytestmark = pytest.mark.integration

PRIMARY, SECOND, SMALL = "llama3.1:8b", "llama3.2:3b", "llama3.2:1b"


@pytest.fixture
def fake():
    with OllamaFake() as f:
        yield f


def settings_for(db: str, fake: OllamaFake | None, **kw) -> Settings:
    base = fake.base_url if fake else "http://127.0.0.1:9"  # port 9: nothing listens
    return Settings(database_url=db, ollama_base_url=base, models=(PRIMARY, SECOND, SMALL), **kw)


async def open_bot(settings: Settings) -> Chatbot:
    deps, checkpointer, closers = await open_deps(settings)
    return Chatbot(deps, checkpointer=checkpointer, closers=closers)


def titles(answer):
    return [(c.title, c.year) for c in answer.citations]


def truth(db: str, sql: str, *params) -> list[tuple]:
    """What the catalog itself says (plain SQL, independent of the plan compiler)."""
    import psycopg

    with psycopg.connect(db) as conn:
        return [tuple(r) for r in conn.execute(sql, params).fetchall()]


def row_titles(answer) -> set[tuple[str, int]]:
    return {(r["title"], r["year"]) for r in answer.rows}


DIRECTED_BY = "SELECT title, year, duration_min FROM movies WHERE %s = ANY(regexp_split_to_array(director, '\\s*,\\s*'))"


async def test_similar_route_without_llm(course_db):
    async with await open_bot(settings_for(course_db, None, llm="none", k=5)) as bot:
        a = await bot.aask("movies like Finding Nemo")
    assert a.route == "similar" and a.model is None and a.notes == [NO_LLM_CONFIGURED_NOTE]
    assert len(a.citations) == 5 and ("Finding Nemo", 2003) not in titles(a)
    assert a.answer.startswith("Films in your catalog closest to Finding Nemo (2003):")
    # every cited row is a real row of the answer
    assert [c.id for c in a.citations] == [r["id"] for r in a.rows]


async def test_similar_route_anchors_on_the_film_people_know_by_its_movielens_title(course_movielens_db):
    course = {f["_id"]: f for f in json.loads(COURSE_MOVIES.read_text())["films"]["film"]}
    amelie = (course["211915"]["titre"], int(course["211915"]["annee"]))  # MovieLens: "Amelie (...) (2001)"
    async with await open_bot(settings_for(course_movielens_db, None, llm="none", k=5)) as bot:
        a = await bot.aask("movies like Amelie")
        english = await bot.aask("something like Amélie but in English")
    assert a.route == "similar" and a.answer.startswith(f"Films in your catalog closest to {amelie[0]} ({amelie[1]}):")
    assert len(a.citations) == 5 and amelie not in titles(a)
    assert english.route == "similar" and amelie[0] in english.answer and amelie not in titles(english)
    assert english.rows and all("English" in r["language"] for r in english.rows)


async def test_with_ratings_loaded_similar_titles_are_ranked_by_the_blend(course_db, course_movielens_db, embedder):
    from chatbot.deps import BLEND
    from retrieval.database import make_engine
    from retrieval.profiles_blend import blended_similar
    from retrieval.search import PgCatalog

    async with await open_bot(settings_for(course_db, None, llm="none")) as bot:
        assert bot.deps.profile is None  # no ratings: nothing for the blend to add
    async with await open_bot(settings_for(course_movielens_db, None, llm="none", k=5)) as bot:
        assert bot.deps.profile == BLEND
        a = await bot.aask("movies like Se7en")
        nineties = await bot.aask("movies like Se7en from the 90s")
    engine = make_engine(course_movielens_db)
    try:
        # Se7en's MovieLens fans also rated the fixture's other MovieLens films: co-liking moves them up
        [(seven, year)] = truth(course_movielens_db, "SELECT id, year FROM movies WHERE title = 'Se7en'")
        pool = blended_similar(engine, seven, k=500)
        by_vectors = [h.id for h in PgCatalog(engine, embedder).similar("Se7en", year=year, k=5)]
    finally:
        engine.dispose()
    assert [c.id for c in a.citations] == [h.id for h in pool[:5]] != by_vectors
    # the conditions keep the blend's best that meet them, in its order
    assert [c.id for c in nineties.citations] == [h.id for h in pool if h.year and 1990 <= h.year <= 1999][:5]
    assert nineties.answer.startswith(f"Films in your catalog closest to Se7en ({year}), from 1990–1999:")


async def test_structured_route_without_sql_finds_the_exact_set(course_db):
    async with await open_bot(settings_for(course_db, None, llm="none")) as bot:
        a = await bot.aask("90s dramas directed by Spielberg, sorted by year")
    assert a.route == "structured"
    assert titles(a) == [("Schindler's List", 1993), ("Saving Private Ryan", 1998)]


async def test_recommendation_route_seeds_from_the_named_film(course_db):
    async with await open_bot(settings_for(course_db, None, llm="none", k=5)) as bot:
        a = await bot.aask("I liked Toy Story, what should I watch?")
    assert a.route == "recommendation"
    # "I liked Toy Story" is a rating too: the answer says it was noted, then recommends
    noted, rest = a.answer.split("\n\n", 1)
    assert noted == "Noted your ratings: *Toy Story* (1995) 4 stars. I'll use them when you ask for recommendations."
    assert rest.startswith("Recommended from your catalog for fans of Toy Story:")
    # no ratings in this catalog: the films nearest the liked one's embedding, itself excluded
    assert len(a.citations) == 5 and ("Toy Story", 1995) not in titles(a)
    assert ("Toy Story 2", 1999) in titles(a)


async def test_chitchat_route_answers_without_rows(course_db, fake):
    fake.script(PRIMARY, default="Hi! Ask me about the films in your catalog.")
    async with await open_bot(settings_for(course_db, fake)) as bot:
        a = await bot.aask("hello")
    assert (a.route, a.answer, a.model, a.citations, a.rows) == (
        "chitchat", "Hi! Ask me about the films in your catalog.", PRIMARY, [], []
    )
    assert list(a.timings_ms) == ["understand", "generate", "check_citations"]


async def test_follow_up_uses_previous_ids_and_thread_resumes_after_rebuild(course_db):
    s = settings_for(course_db, None, llm="none")
    async with await open_bot(s) as bot:
        first = await bot.aask("movies with Tom Hanks", thread_id="resume-1")
    assert ("Forrest Gump", 1994) in titles(first)
    # a new process: new pool, new graph, same database
    async with await open_bot(s) as bot:
        second = await bot.aask("which of those is the longest?", thread_id="resume-1")
    assert second.route == "follow_up"
    assert len(second.citations) == 1
    first_ids = {c.id for c in first.citations}
    assert second.citations[0].id in first_ids
    longest = max((r for r in first.rows), key=lambda r: r.get("duration_min") or 0)
    assert second.citations[0].id == longest["id"]


async def test_llm_answer_streams_and_hallucinated_title_is_flagged(course_db, fake):
    fake.script(PRIMARY, default="You could watch **Jaws** (1975) or **Sharknado 7** (2029).")
    async with await open_bot(settings_for(course_db, fake)) as bot:
        a = await bot.aask("a shark terrorizes a beach town")
    assert a.model == PRIMARY and a.fallbacks == []
    assert ("Jaws", 1975) in titles(a)
    assert "**Sharknado 7** [not in the retrieved rows]" in a.answer
    assert a.notes == ["Not among the retrieved rows, so not verified: Sharknado 7."]
    prompt = fake.chat_requests(PRIMARY)[0].messages[-1]["content"]
    assert "<<<ROWS" in prompt and '"title": "Jaws"' in prompt


async def test_hung_primary_falls_back_within_budget(course_db, fake):
    fake.script(PRIMARY, failure="hang")
    fake.script(SECOND, default="**Jaws** (1975) fits.")
    s = settings_for(course_db, fake, first_token_timeout_s=1.0, llm_timeout_s=5.0)
    async with await open_bot(s) as bot:
        t0 = time.perf_counter()
        a = await bot.aask("a shark terrorizes a beach town")
        elapsed = time.perf_counter() - t0
    assert a.model == SECOND
    assert [f.model for f in a.fallbacks] == [PRIMARY]
    assert elapsed < 5.0  # the hang cost the first-token timeout, not the whole budget


async def test_all_models_down_gives_extractive_answer(course_db, fake):
    for m in (PRIMARY, SECOND, SMALL):
        fake.script(m, status=500)
    async with await open_bot(settings_for(course_db, fake)) as bot:
        a = await bot.aask("a shark terrorizes a beach town")
    assert a.model is None
    assert [f.model for f in a.fallbacks] == [PRIMARY, SECOND, SMALL]
    assert a.notes == [NO_LLM_NOTE]
    assert ("Jaws", 1975) in titles(a)


async def test_no_ollama_listening_gives_extractive_answer(course_db):
    async with await open_bot(settings_for(course_db, None)) as bot:
        a = await bot.aask("a shark terrorizes a beach town")
    assert a.model is None and a.notes == [NO_LLM_NOTE] and ("Jaws", 1975) in titles(a)


# a median: an aggregate the plan does not compute itself (an average it does), so it drafts SQL
AVERAGE_Q = "What is the median running time of Stanley Kubrick films?"
AVERAGE_SQL = ("SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_min) AS median_minutes "
               "FROM movies WHERE director ILIKE '%kubrick%'")


def sql_reply(*drafts: str) -> list[str]:
    import json

    return [json.dumps({"sql": d}) for d in drafts]


async def test_sql_path_for_an_aggregate(course_db, fake):
    fake.script(PRIMARY, queue=sql_reply(AVERAGE_SQL), default="About two hours.")
    async with await open_bot(settings_for(course_db, fake)) as bot:
        a = await bot.aask(AVERAGE_Q)
    durations = sorted(d for _, _, d in truth(course_db, DIRECTED_BY, "Stanley Kubrick"))
    expected = durations[len(durations) // 2]  # an odd number of films: the middle one
    assert len(durations) % 2 == 1
    assert a.plan["intent"] == "aggregate"
    assert a.sql is not None and "ILIKE '%kubrick%'" in a.sql and a.sql_draft == AVERAGE_SQL
    assert len(a.rows) == 1 and abs(float(a.rows[0]["median_minutes"]) - expected) < 1e-6
    assert a.notes == []


async def test_sql_rows_without_ids_are_cited_and_an_invented_title_is_flagged(course_db, fake):
    draft = "SELECT title, year FROM movies WHERE director = 'Christopher Nolan'"
    fake.script(PRIMARY, queue=sql_reply(draft), default="Memento (2000) is his, and so is Totally Fake Movie (1999).")
    async with await open_bot(settings_for(course_db, fake)) as bot:
        a = await bot.aask("What is the median rating of Christopher Nolan films per decade?")
    nolan = truth(course_db, "SELECT title, year FROM movies WHERE director = 'Christopher Nolan'")
    assert ("Memento", 2000) in nolan
    assert ("Memento", 2000) in titles(a)
    assert "Memento (2000) is his" in a.answer  # a row is never flagged
    assert "Totally Fake Movie [not in the retrieved rows]" in a.answer


async def test_sql_rejected_then_repaired(course_db, fake):
    bad = "SELECT title FROM movies WHERE embedding @> ANY('Finding Nemo')"
    fake.script(PRIMARY, queue=sql_reply(bad, AVERAGE_SQL), default="About two hours.")
    async with await open_bot(settings_for(course_db, fake)) as bot:
        a = await bot.aask(AVERAGE_Q)
    drafts = fake.chat_requests(PRIMARY)
    assert "Your previous SQL was rejected:" in drafts[1].messages[-1]["content"]
    assert a.sql is not None and len(a.rows) == 1


async def test_sql_rejected_twice_falls_back_to_the_plan_with_note(course_db, fake):
    bad = "DELETE FROM movies"
    fake.script(PRIMARY, queue=sql_reply(bad, bad), default="**Full Metal Jacket** (1987).")
    async with await open_bot(settings_for(course_db, fake)) as bot:
        a = await bot.aask(AVERAGE_Q)
    assert a.sql is None
    assert len(a.notes) == 1 and a.notes[0].startswith("The drafted SQL was rejected (")
    assert a.notes[0].endswith("). Answered from the query plan instead.")
    # the plan's own rows: every Kubrick film
    assert row_titles(a) == {(t, y) for t, y, _ in truth(course_db, DIRECTED_BY, "Stanley Kubrick")}


@pytest.mark.parametrize(
    ("draft", "note"),
    [
        ("SELECT id, title, year FROM movies WHERE director ILIKE '%kubrick%' AND year = 1800 LIMIT 5",
         "The drafted SQL found no rows. Answered from the query plan instead."),
        ("SELECT id, title, year, 1 / (year - year) AS boom FROM movies WHERE director ILIKE '%kubrick%' LIMIT 5",
         "The database rejected the query: division by zero. Answered from the query plan instead."),
    ],
)
async def test_sql_zero_rows_or_execution_error_fall_back(course_db, fake, draft, note):
    fake.script(PRIMARY, queue=sql_reply(draft), default="**Full Metal Jacket** (1987).")
    async with await open_bot(settings_for(course_db, fake)) as bot:
        a = await bot.aask(AVERAGE_Q)
    assert a.sql is None and a.notes == [note]
    assert ("Full Metal Jacket", 1987) in titles(a)


# --- plans over the whole catalog, no LLM: exact answers derived from the data ---------------


@pytest.fixture
async def plain_bot(course_db):
    async with await open_bot(settings_for(course_db, None, llm="none")) as bot:
        yield bot


async def test_questions_about_groups_of_films_are_answered_with_their_figures(course_db, plain_bot, fake):
    a = await plain_bot.aask("Which director has the most films?")
    (name, n), (_, second) = truth(course_db, "SELECT d, count(*) FROM movies, unnest(regexp_split_to_array(director, "
                                   "'\\s*,\\s*')) AS d GROUP BY d ORDER BY 2 DESC, 1 LIMIT 2")
    assert n > second
    assert a.answer == f"**{name}** is the director with the most films in your catalog: {n} films."
    ids = [i for (i,) in truth(course_db, "SELECT id FROM movies WHERE %s = ANY(regexp_split_to_array(director, "
                                           "'\\s*,\\s*')) ORDER BY id", name)]
    assert (a.rows, a.citations, a.notes) == ([{"name": name, "films": n, "value": float(n), "ids": ids}], [], [])
    # a follow-up asks about that director's films
    longest = await plain_bot.aask("which of those is the longest?", thread_id=a.thread_id)
    [(title, year, minutes)] = truth(course_db, DIRECTED_BY + " ORDER BY duration_min DESC NULLS LAST LIMIT 1", name)
    assert longest.route == "follow_up" and [(c.title, c.year) for c in longest.citations] == [(title, year)]
    b = await plain_bot.aask("how many films per decade?")
    decades = truth(course_db, "SELECT (year / 10 * 10)::text || 's', count(*) FROM movies WHERE year IS NOT NULL "
                               "GROUP BY 1 ORDER BY 1")
    assert b.answer.splitlines() == [f"Films in your catalog, per decade ({len(decades)} decades):",
                                     *(f"{i}. **{d}** — {c} films" for i, (d, c) in enumerate(decades, 1))]
    # with a model up the figures are still computed by the plan and stated as computed: no SQL drafted
    fake.script(PRIMARY, default="Some prose.")
    async with await open_bot(settings_for(course_db, fake)) as bot:
        c = await bot.aask("Which director has the most films?")
    assert c.answer == a.answer and c.model is None and c.sql is None
    assert not [r for r in fake.chat_requests(PRIMARY) if r.format]


async def test_the_top_film_of_each_group_is_listed_with_its_group(course_db, plain_bot):
    a = await plain_bot.aask("the longest film of each decade")
    films = truth(course_db, "SELECT id, title, year, duration_min FROM movies WHERE year IS NOT NULL AND duration_min IS NOT NULL")
    decades: dict[str, list[tuple]] = {}
    for f in films:
        decades.setdefault(f"{f[2] // 10 * 10}s", []).append(f)
    expected = sorted((d, f[0]) for d, v in decades.items() for f in v if f[3] == max(g[3] for g in v))
    lines = a.answer.splitlines()
    spread = f"{len(decades)} decades" if len(expected) == len(decades) else \
        f"{len(expected)} films across {len(decades)} decades, ties kept"
    assert lines[0] == f"The longest film in your catalog, per decade ({spread}):"
    assert [c.id for c in a.citations] == [i for _, i in expected]
    assert [line.split(": ", 1)[0].split(". ", 1)[1] for line in lines[1:]] == [d for d, _ in expected]


async def test_every_film_of_a_director_with_the_exact_count(course_db, plain_bot):
    a = await plain_bot.aask("List every Steven Spielberg movie you have")
    expected = {(t, y) for t, y, _ in truth(course_db, DIRECTED_BY, "Steven Spielberg")}
    assert len(expected) == 15
    assert row_titles(a) == expected and set(titles(a)) == expected
    assert a.answer.splitlines()[0].startswith("15 films in your catalog match")


async def test_follow_up_applies_to_every_previous_result(course_db, plain_bot):
    await plain_bot.aask("List every Steven Spielberg movie you have", thread_id="sp")
    a = await plain_bot.aask("which of those is the longest?", thread_id="sp")
    rows = truth(course_db, DIRECTED_BY, "Steven Spielberg")
    longest = max(d for _, _, d in rows if d)
    assert a.route == "follow_up"
    assert row_titles(a) == {(t, y) for t, y, d in rows if d == longest}


async def test_a_follow_up_picks_a_film_by_its_place_in_the_previous_list(course_db, plain_bot):
    listed = await plain_bot.aask("Stanley Kubrick films", thread_id="kub")
    order = [(r["title"], r["year"]) for r in listed.rows]
    expected = sorted(truth(course_db, "SELECT title, year FROM movies WHERE director = 'Stanley Kubrick'"),
                      key=lambda r: (r[1], r[0].lower()))
    assert order == expected  # the list answer, in year order
    third = await plain_bot.aask("tell me about the third one", thread_id="kub")
    assert third.route == "follow_up" and titles(third) == [expected[2]]
    title, year = expected[2]
    assert third.answer.startswith(f"**{title}** ({year})")
    # the list outlives the pick: the last one is still the list's last
    last = await plain_bot.aask("who directed the last one?", thread_id="kub")
    assert titles(last) == [expected[-1]]
    assert last.answer.startswith(f"*{expected[-1][0]}* ({expected[-1][1]}) was directed by Stanley Kubrick.")
    past = await plain_bot.aask(f"what about number {len(expected) + 3}", thread_id="kub")
    assert past.citations == [] and past.answer.startswith(f"The previous answer has no film number {len(expected) + 3}.")


async def test_a_comparison_of_two_named_films_answers_yes_or_no_from_their_rows(course_db, plain_bot):
    (jaws,), (alien,) = (truth(course_db, "SELECT duration_min FROM movies WHERE title = %s", t)[0] for t in ("Jaws", "Alien"))
    a = await plain_bot.aask("Is Alien longer than Jaws?")
    verdict = "Yes" if alien > jaws else "No"
    word = "longer" if alien > jaws else "shorter"
    assert a.answer.startswith(f"{verdict}: *Alien* (1979) is {word} than *Jaws* (1975): {alien} minutes against {jaws} minutes.")


async def test_an_average_and_a_total_are_computed_over_every_matching_film(course_db, plain_bot):
    (avg, n), = truth(course_db, "SELECT avg(duration_min), count(*) FROM movies WHERE director = 'Stanley Kubrick'")
    a = await plain_bot.aask("what's the average running time of Kubrick films?")
    assert a.answer.startswith(f"The average running time of the {n} films in your catalog (directed by Stanley Kubrick) "
                               f"is {float(avg):.0f} minutes")
    assert len(a.citations) == n
    (total, n), = truth(course_db, "SELECT sum(duration_min), count(*) FROM movies WHERE 'Western' = ANY(genres)")
    b = await plain_bot.aask("total running time of all the westerns")
    assert b.answer.startswith(f"The total running time of the {n} films in your catalog (genre Western) is {total} minutes")


async def test_the_second_longest_film(course_db, plain_bot):
    a = await plain_bot.aask("what's the second longest movie?")
    second = truth(course_db, "SELECT title, year FROM movies WHERE duration_min = (SELECT DISTINCT duration_min "
                              "FROM movies WHERE duration_min IS NOT NULL ORDER BY 1 DESC OFFSET 1 LIMIT 1)")
    assert titles(a) == second
    assert a.answer.startswith(f"The second longest film in your catalog is **{second[0][0]}** ({second[0][1]})")


async def test_the_oldest_film_is_computed_over_the_whole_catalog(course_db, plain_bot):
    a = await plain_bot.aask("What is the oldest film in the catalog?")
    oldest = truth(course_db, "SELECT title, year FROM movies WHERE year = (SELECT min(year) FROM movies)")
    assert oldest == [("The Kid", 1921)]
    assert titles(a) == oldest
    assert a.answer.startswith("The oldest film in your catalog is **The Kid** (1921)")


async def test_the_longest_film(course_db, plain_bot):
    a = await plain_bot.aask("Which movie is the longest?")
    longest = truth(course_db, "SELECT title, year FROM movies WHERE duration_min = (SELECT max(duration_min) FROM movies)")
    assert ("Gone with the Wind", 1939) in longest
    assert set(titles(a)) == set(longest)


async def test_comedies_shorter_than_90_minutes_all_and_only(course_db, plain_bot):
    a = await plain_bot.aask("comedies shorter than 90 minutes")
    expected = truth(course_db, "SELECT title, year FROM movies WHERE 'Comedy' = ANY(genres) AND duration_min < 90")
    assert a.rows and all(r["duration_min"] < 90 and "Comedy" in r["genres"] for r in a.rows)
    assert row_titles(a) == set(expected)
    assert a.answer.splitlines()[0].startswith(f"{len(expected)} films in your catalog match")


async def test_a_fact_question_leads_with_the_fact(plain_bot):
    a = await plain_bot.aask("Who directed Pulp Fiction?")
    assert a.answer.splitlines()[0] == "*Pulp Fiction* (1994) was directed by Quentin Tarantino."
    assert titles(a) == [("Pulp Fiction", 1994)]


async def test_both_actors_means_both(course_db, plain_bot):
    a = await plain_bot.aask("films with both Robert De Niro and Al Pacino")
    expected = truth(course_db, "SELECT title, year FROM movies WHERE 'Robert De Niro' = ANY(actors) AND 'Al Pacino' = ANY(actors)")
    assert set(expected) >= {("Heat", 1995), ("The Godfather: Part II", 1974)}
    assert row_titles(a) == set(expected)


async def test_how_many_is_the_count_of_the_whole_catalog(course_db, plain_bot):
    a = await plain_bot.aask("How many movies star Tom Hanks?")
    (n,) = truth(course_db, "SELECT count(*) FROM movies WHERE 'Tom Hanks' = ANY(actors)")[0]
    assert f"{n} films" in a.answer.splitlines()[0] and len(a.rows) == n


async def test_nothing_found_is_said_plainly(plain_bot):
    a = await plain_bot.aask("Greta Gerwig films")
    first, second = a.answer.splitlines()[:2]
    assert first.startswith("No films in your catalog match: ") and "with Greta Gerwig" in first
    assert second == "Not matches, but the closest by meaning:"
    assert a.rows == [] and a.citations == [] and len(a.alternatives) == 5
    assert "[not in the retrieved rows]" not in a.answer


async def test_eight_concurrent_questions_against_a_slow_model(course_db, fake):
    fake.script(PRIMARY, default="**Jaws** (1975).", first_token_delay=0.3, max_concurrency=1)
    s = settings_for(course_db, fake, first_token_timeout_s=1.0, llm_timeout_s=20.0)
    async with await open_bot(s) as bot:
        answers = await asyncio.gather(*(bot.aask(f"a shark terrorizes a beach town #{i}", thread_id=f"slow-{i}") for i in range(8)))
    assert [a.model for a in answers] == [PRIMARY] * 8
    assert all(a.fallbacks == [] for a in answers)


async def test_llm_fills_the_plan_through_ollama_format(course_db, fake):
    import json

    plan = {"intent": "list", "filters": {"year": {"min": 1990, "max": 1999}, "genres": {"all_of": ["Drama"]},
                                          "directors": {"all_of": ["Steven Spielberg"]}}}
    fake.script(PRIMARY, queue=[json.dumps(plan)], default="**Schindler's List** (1993).")
    s = settings_for(course_db, fake, llm_routing=True, sql_mode=False)
    async with await open_bot(s) as bot:
        a = await bot.aask("serious work by the man behind E.T. back when grunge was big")
    first = fake.chat_requests(PRIMARY)[0]
    assert "intent" in first.format["properties"]  # the plan's own JSON schema
    assert a.route == "structured"
    assert [(r["title"], r["year"]) for r in a.rows] == [("Schindler's List", 1993), ("Saving Private Ryan", 1998)]
