"""Query plans run on the course catalog (real embedded Postgres): exact result sets.

Every expected set is computed here from ../shared/data/course-movies/movies.json with plain
Python, never from the system's own output.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from conftest import COURSE_MOVIES

from retrieval.compile import PlanError, load_vocabulary, run_plan
from retrieval.database import make_engine
from retrieval.plan import Filters, Group, Names, QueryPlan, Range, Sort
from retrieval.search import PgCatalog
from retrieval.text import fold

pytestmark = pytest.mark.integration

Key = tuple[str, int | None]


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _names(value: Any) -> list[str]:
    return [v["__text"].strip() if isinstance(v, dict) else str(v).strip() for v in _list(value)]


def _fold(s: str) -> str:
    return fold(s).strip()


@pytest.fixture(scope="module")
def films() -> list[dict[str, Any]]:
    """The course catalog as plain dicts with the columns the plans filter on."""
    if not COURSE_MOVIES.exists():
        pytest.skip(f"course catalog not found at {COURSE_MOVIES}")
    raw = json.loads(COURSE_MOVIES.read_text())["films"]["film"]
    out = []
    for f in raw:
        out.append({
            "key": (f["titre"].strip(), int(f["annee"]) if f.get("annee") else None),
            "year": int(f["annee"]) if f.get("annee") else None,
            "duration": int(f["duree"]) if f.get("duree") else None,
            "genres": _names(f.get("genre")),
            "directors": _names(f.get("realisateur")),
            "actors": [r["acteur"]["__text"].strip() for r in _list(f.get("role")) if isinstance(r, dict)],
            "writers": _names(f.get("scenariste")),
            "countries": _names(f.get("pays")),
            "languages": _names(f.get("langue")),
        })
    return out


@pytest.fixture(scope="module")
def engine(course_db: str) -> Iterator[Any]:
    eng = make_engine(course_db)
    yield eng
    eng.dispose()


def where(films: list[dict[str, Any]], pred: Callable[[dict[str, Any]], bool]) -> set[Key]:
    return {f["key"] for f in films if pred(f)}


def has(values: list[str], name: str) -> bool:
    return _fold(name) in {_fold(v) for v in values}


def keys(result: Any) -> set[Key]:
    return {(r["title"], r["year"]) for r in result.rows}


def run_list(engine: Any, **filters: Any) -> Any:
    return run_plan(engine, QueryPlan(intent="list", filters=Filters(**filters)))


def test_every_spielberg_film(engine, films) -> None:
    expected = where(films, lambda f: has(f["directors"], "Steven Spielberg"))
    assert len(expected) == 15
    result = run_list(engine, directors=Names(any_of=("Steven Spielberg",)))
    assert keys(result) == expected
    assert (result.total, result.capped, result.ranked) == (15, False, False)
    assert [r["year"] for r in result.rows] == sorted(r["year"] for r in result.rows)


def test_hitchcock_case_and_accent_insensitive(engine, films) -> None:
    expected = where(films, lambda f: has(f["directors"], "Alfred Hitchcock"))
    assert len(expected) == 11
    assert keys(run_list(engine, directors=Names(all_of=("alfred HITCHCOCK",)))) == expected
    # An accented actor found without the accents, and the unaccented spelling is not a substring.
    expected = where(films, lambda f: "Marie-Josée Croze" in f["actors"])
    assert expected and keys(run_list(engine, actors=Names(all_of=("marie-josee croze",)))) == expected
    assert run_list(engine, actors=Names(all_of=("Croze",))).rows == []


def test_de_niro_and_pacino(engine, films) -> None:
    expected = where(films, lambda f: has(f["actors"], "Robert De Niro") and has(f["actors"], "Al Pacino"))
    assert {t for t, _ in expected} == {"Heat", "The Godfather: Part II"}
    assert keys(run_list(engine, actors=Names(all_of=("Robert De Niro", "Al Pacino")))) == expected
    either = where(films, lambda f: has(f["actors"], "Robert De Niro") or has(f["actors"], "Al Pacino"))
    assert keys(run_list(engine, actors=Names(any_of=("Robert De Niro", "Al Pacino")))) == either


def test_tarantino_or_scorsese(engine, films) -> None:
    expected = where(films, lambda f: bool({"Quentin Tarantino", "Martin Scorsese"} & set(f["directors"])))
    result = run_list(engine, directors=Names(any_of=("Quentin Tarantino", "Martin Scorsese")))
    assert keys(result) == expected and result.total == len(expected)


def test_people_any_role(engine, films) -> None:
    name = "Clint Eastwood"
    expected = where(films, lambda f: name in f["directors"] + f["writers"] + f["actors"])
    assert expected > where(films, lambda f: name in f["directors"])  # he also acts
    assert keys(run_list(engine, people=Names(all_of=(name,)))) == expected


def test_oldest_and_longest(engine, films) -> None:
    oldest = min(f["year"] for f in films if f["year"])
    result = run_plan(engine, QueryPlan(intent="superlative", sort=Sort(key="year")))
    assert keys(result) == where(films, lambda f: f["year"] == oldest)
    assert ("The Kid", 1921) in keys(result)
    assert result.total == sum(1 for f in films if f["year"])
    longest = max(f["duration"] for f in films if f["duration"])
    result = run_plan(engine, QueryPlan(intent="superlative", sort=Sort(key="duration_min", desc=True)))
    assert keys(result) == where(films, lambda f: f["duration"] == longest)
    assert {t for t, _ in keys(result)} == {"Gone with the Wind"}


def test_superlative_keeps_ties(engine, films) -> None:
    kubrick = [f for f in films if "Stanley Kubrick" in f["directors"]]
    longest = max(f["duration"] for f in kubrick)
    expected = {f["key"] for f in kubrick if f["duration"] == longest}
    plan = QueryPlan(intent="superlative", filters=Filters(directors=Names(any_of=("Stanley Kubrick",))),
                     sort=Sort(key="duration_min", desc=True))
    assert len(expected) > 1  # a tie in the data
    assert keys(run_plan(engine, plan)) == expected
    assert len(run_plan(engine, plan.model_copy(update={"ties": False})).rows) == 1


def test_a_rank_below_the_top_is_the_nth_distinct_value(engine, films) -> None:
    durations = sorted({f["duration"] for f in films if f["duration"]}, reverse=True)
    second = run_plan(engine, QueryPlan(intent="superlative", sort=Sort(key="duration_min", desc=True), rank=2))
    assert keys(second) == where(films, lambda f: f["duration"] == durations[1])
    # among the filtered rows, ties on the value kept: the third distinct year of Kubrick's films
    kubrick_years = sorted({f["year"] for f in films if "Stanley Kubrick" in f["directors"]})
    plan = QueryPlan(intent="superlative", filters=Filters(directors=Names(any_of=("Stanley Kubrick",))),
                     sort=Sort(key="year"), rank=3)
    assert keys(run_plan(engine, plan)) == where(
        films, lambda f: "Stanley Kubrick" in f["directors"] and f["year"] == kubrick_years[2])
    # a rank past the last distinct value finds nothing
    past = plan.model_copy(update={"rank": len(kubrick_years) + 1})
    assert run_plan(engine, past).rows == []


def test_top_n_by_duration(engine, films) -> None:
    ordered = sorted((f for f in films if f["duration"]), key=lambda f: -f["duration"])
    cutoff = ordered[2]["duration"]
    expected = {f["key"] for f in ordered if f["duration"] >= cutoff}
    result = run_plan(engine, QueryPlan(intent="list", sort=Sort(key="duration_min", desc=True), limit=3))
    assert keys(result) == expected
    assert [r["duration_min"] for r in result.rows] == sorted((r["duration_min"] for r in result.rows), reverse=True)


def test_comedies_under_90_minutes(engine, films) -> None:
    expected = where(films, lambda f: "Comedy" in f["genres"] and f["duration"] is not None and f["duration"] <= 89)
    result = run_list(engine, genres=Names(all_of=("comedy",)), duration_min=Range(max=89))
    assert keys(result) == expected and all(r["duration_min"] <= 89 for r in result.rows)


def test_genres_all_any_none(engine, films) -> None:
    expected = where(films, lambda f: "Animation" in f["genres"] and "Family" not in f["genres"]
                     and f["year"] is not None and f["year"] >= 2005)
    assert keys(run_list(engine, genres=Names(all_of=("Animation",), none_of=("Family",)),
                         year=Range(min=2005))) == expected
    expected = where(films, lambda f: bool({"Horror", "Western"} & set(f["genres"])))
    assert keys(run_list(engine, genres=Names(any_of=("Horror", "Western")))) == expected


def test_languages_and_countries(engine, films) -> None:
    japanese = where(films, lambda f: "Japanese" in f["languages"])
    assert japanese and keys(run_list(engine, languages=Names(any_of=("japanese",)))) == japanese
    italian = where(films, lambda f: "Italy" in f["countries"])
    assert italian and keys(run_list(engine, countries=Names(any_of=("Italy",)))) == italian
    # A film of several countries matches each of them, whole names only ("UK" is not "Ukraine").
    both = where(films, lambda f: {"UK", "USA"} <= set(f["countries"]))
    assert both and keys(run_list(engine, countries=Names(all_of=("UK", "USA")))) == both
    # a film that records no country is not "not from the USA": its country is unknown
    not_usa = where(films, lambda f: bool(f["countries"]) and "USA" not in f["countries"])
    assert keys(run_list(engine, countries=Names(none_of=("USA",)))) == not_usa


def test_writers_and_title(engine, films) -> None:
    expected = where(films, lambda f: "Stanley Kubrick" in f["writers"])
    assert expected and keys(run_list(engine, writers=Names(all_of=("Stanley Kubrick",)))) == expected
    expected = where(films, lambda f: "godfather" in _fold(f["key"][0]))
    assert expected and keys(run_list(engine, title="GODFATHER")) == expected
    expected = where(films, lambda f: "amelie" in _fold(f["key"][0]))
    assert expected and keys(run_list(engine, title="amelie")) == expected
    # LIKE wildcards in the words are plain characters (no title has them).
    assert run_list(engine, title="%").rows == [] and run_list(engine, title="_").rows == []


def test_either_group(engine, films) -> None:
    def old_comedy(f: dict[str, Any]) -> bool:
        return "Comedy" in f["genres"] and f["year"] is not None and f["year"] <= 1959

    def new_horror(f: dict[str, Any]) -> bool:
        return "Horror" in f["genres"] and f["year"] is not None and f["year"] >= 2000

    expected = where(films, lambda f: old_comedy(f) or new_horror(f))
    result = run_list(engine, either=(
        Filters(genres=Names(all_of=("Comedy",)), year=Range(max=1959)),
        Filters(genres=Names(all_of=("Horror",)), year=Range(min=2000)),
    ))
    assert keys(result) == expected


def test_counts(engine, films) -> None:
    hanks = sum(1 for f in films if "Tom Hanks" in f["actors"])
    result = run_plan(engine, QueryPlan(intent="count", filters=Filters(actors=Names(all_of=("Tom Hanks",)))))
    assert (result.total, result.rows) == (hanks, [])
    long_hanks = where(films, lambda f: "Tom Hanks" in f["actors"] and (f["duration"] or 0) >= 121)
    assert keys(run_list(engine, actors=Names(all_of=("Tom Hanks",)), duration_min=Range(min=121))) == long_hanks
    assert run_plan(engine, QueryPlan(intent="count")).total == len(films)


def _groups(films: list[dict[str, Any]], of: Callable[[dict[str, Any]], list[Any]]) -> dict[Any, list[dict[str, Any]]]:
    out: dict[Any, list[dict[str, Any]]] = {}
    for f in films:
        for name in dict.fromkeys(of(f)):
            out.setdefault(name, []).append(f)
    return out


def _grouped(engine: Any, **kw: Any) -> list[tuple[Any, int, float]]:
    filters = kw.pop("filters", Filters())
    result = run_plan(engine, QueryPlan(intent="aggregate", group=Group(**kw), filters=filters))
    return [(r["name"], r["films"], r["value"]) for r in result.rows]


def test_groups_count_and_rank_by_the_films_they_hold(engine, films) -> None:
    by_director = _groups(films, lambda f: f["directors"])
    most = max(len(v) for v in by_director.values())
    top = sorted((name, most, float(most)) for name, v in by_director.items() if len(v) == most)
    assert _grouped(engine, by="director", desc=True, top=1) == top and top[0][0] == "Steven Spielberg"
    # ties on the count are kept: the five directors with the most films, and any tied with the fifth
    counts = sorted((len(v) for v in by_director.values()), reverse=True)
    five = sorted(((n, len(v)) for n, v in by_director.items() if len(v) >= counts[4]), key=lambda x: (-x[1], x[0]))
    assert [(n, c) for n, c, _ in _grouped(engine, by="director", desc=True, top=5)] == five
    # the actor in the most westerns, and films per decade in time order
    westerns = _groups([f for f in films if has(f["genres"], "Western")], lambda f: f["actors"])
    most = max(len(v) for v in westerns.values())
    assert _grouped(engine, by="actor", desc=True, top=1, filters=Filters(genres=Names(all_of=("Western",)))) == \
        sorted((n, most, float(most)) for n, v in westerns.items() if len(v) == most)
    decades = _groups([f for f in films if f["year"]], lambda f: [f"{f['year'] // 10 * 10}s"])
    assert _grouped(engine, by="decade") == sorted((d, len(v), float(len(v))) for d, v in decades.items())


def test_groups_average_a_column_over_their_films(engine, films) -> None:
    timed = [f for f in films if f["duration"] is not None]
    by_genre = _groups(timed, lambda f: f["genres"])
    got = _grouped(engine, by="genre", measure="avg", field="duration_min")
    expected = {g: (len(v), sum(f["duration"] for f in v) / len(v)) for g, v in by_genre.items()}
    assert {name: films_ for name, films_, _ in got} == {g: n for g, (n, _) in expected.items()}
    assert all(abs(value - expected[name][1]) < 1e-9 for name, _, value in got)
    assert [v for _, _, v in got] == sorted((v for _, _, v in got), reverse=True)  # highest first
    # the director of the shortest films on average, among those with 3 films or more
    by_director = {d: v for d, v in _groups(timed, lambda f: f["directors"]).items() if len(v) >= 3}
    means = {d: sum(f["duration"] for f in v) / len(v) for d, v in by_director.items()}
    [(name, n, value)] = _grouped(engine, by="director", measure="avg", field="duration_min", desc=False, top=1, min_films=3)
    assert name == min(means, key=lambda d: (means[d], d)) and n == len(by_director[name])
    assert abs(value - means[name]) < 1e-9


def test_each_groups_top_films_ties_kept(engine, films) -> None:
    timed = [f for f in films if f["duration"] is not None and f["year"]]
    by_decade = _groups(timed, lambda f: [f"{f['year'] // 10 * 10}s"])
    expected = sorted((d, f["key"]) for d, v in by_decade.items() for f in v if f["duration"] == max(g["duration"] for g in v))
    pick = Group(by="decade", pick=Sort(key="duration_min", desc=True))
    result = run_plan(engine, QueryPlan(intent="aggregate", group=pick))
    assert sorted((r["group_name"], (r["title"], r["year"])) for r in result.rows) == expected
    assert [r["group_name"] for r in result.rows] == sorted(r["group_name"] for r in result.rows)
    # with a condition: the oldest western per director
    westerns = _groups([f for f in films if has(f["genres"], "Western") and f["year"]], lambda f: f["directors"])
    expected = sorted((d, f["key"]) for d, v in westerns.items() for f in v if f["year"] == min(g["year"] for g in v))
    oldest = QueryPlan(intent="aggregate", filters=Filters(genres=Names(all_of=("Western",))),
                       group=Group(by="director", pick=Sort(key="year")))
    assert sorted((r["group_name"], (r["title"], r["year"])) for r in run_plan(engine, oldest).rows) == expected


def test_follow_up_scope_and_exclusions(engine, films) -> None:
    spielberg = run_list(engine, directors=Names(any_of=("Steven Spielberg",)))
    plan = QueryPlan(intent="list", scope="previous", filters=Filters(year=Range(min=1980, max=1989)))
    eighties = where(films, lambda f: "Steven Spielberg" in f["directors"] and 1980 <= (f["year"] or 0) <= 1989)
    assert keys(run_plan(engine, plan, ids=spielberg.ids)) == eighties
    shortest = min(f["duration"] for f in films if "Steven Spielberg" in f["directors"])
    plan = QueryPlan(intent="superlative", scope="previous", sort=Sort(key="duration_min"))
    result = run_plan(engine, plan, ids=spielberg.ids)
    assert {r["duration_min"] for r in result.rows} == {shortest} and result.total == 15
    # Without a sort a follow-up keeps the previous answer's order.
    previous = list(reversed(spielberg.ids))
    plan = QueryPlan(intent="list", scope="previous", filters=Filters(genres=Names(none_of=("Drama",))))
    kept = [i for i in previous if i in set(run_plan(engine, plan, ids=previous).ids)]
    assert run_plan(engine, plan, ids=previous).ids == kept and kept
    first = spielberg.ids[0]
    rest = run_list(engine, directors=Names(any_of=("Steven Spielberg",)), exclude_ids=(first,))
    assert set(rest.ids) == set(spielberg.ids) - {first}
    with pytest.raises(PlanError, match="previous answer"):
        run_plan(engine, plan)


def test_cap_states_the_total(engine, films) -> None:
    comedies = where(films, lambda f: "Comedy" in f["genres"])
    result = run_plan(engine, QueryPlan(intent="list", filters=Filters(genres=Names(any_of=("Comedy",)))), cap=5)
    assert (len(result.rows), result.total, result.capped) == (5, len(comedies), True)
    assert keys(result) <= comedies
    assert result.readable.endswith(
        "LIMIT 5;\n\n-- the rows reached the limit; all that match:\nSELECT count(*) AS total\nFROM movies m\n"
        "WHERE movie_rag_fold_array(m.genres) && movie_rag_fold_array(ARRAY['Comedy'])"
    )
    # Fewer rows than the cap are the whole set: no count statement runs.
    assert "count(*)" not in run_plan(engine, QueryPlan(intent="list", filters=Filters(
        genres=Names(any_of=("Comedy",)))), cap=len(comedies) + 1).readable


def test_fact_rows_in_anchor_order(engine) -> None:
    ids = run_list(engine, actors=Names(all_of=("Robert De Niro", "Al Pacino"))).ids
    result = run_plan(engine, QueryPlan(intent="fact", anchors=tuple(reversed(ids)), fields=("director",)))
    assert result.ids == list(reversed(ids))


def test_similar_and_search_agree_with_the_catalog(engine, embedder) -> None:
    catalog = PgCatalog(engine, embedder)
    anchor = catalog.resolve("Finding Nemo")[0]
    for metric in ("cosine", "l2", "hamming"):
        expected = [h.id for h in catalog.similar_to_id(anchor, metric=metric, k=7)]
        result = run_plan(engine, QueryPlan(intent="similar", anchors=(anchor,), limit=7), metric=metric)
        assert result.ids == expected and result.ranked and anchor not in result.ids
        assert (result.total, result.capped) == (7, False)
    text_ = "a shark terrorizes a beach town"
    expected = [h.id for h in catalog.search(text_, mode="dense", k=5)]
    result = catalog.run_plan(QueryPlan(intent="search", semantic=text_, limit=5))
    assert result.ids == expected
    assert [r["distance"] for r in result.rows] == sorted(r["distance"] for r in result.rows)
    assert "embed('a shark terrorizes a beach town')" in result.readable


def test_two_anchors_use_their_mean(engine, embedder) -> None:
    import numpy as np
    from sqlalchemy import text

    catalog = PgCatalog(engine, embedder)
    a, b = catalog.resolve("Toy Story")[0], catalog.resolve("Finding Nemo")[0]
    with engine.connect() as conn:
        vecs = {r.id: np.array(r.e, dtype=float) for r in conn.execute(
            text("SELECT id, embedding::real[] AS e FROM movies WHERE embedding IS NOT NULL"))}
    mean = (vecs[a] + vecs[b]) / 2

    def cosine(v: Any) -> float:
        return 1 - float(v @ mean / (np.linalg.norm(v) * np.linalg.norm(mean)))

    expected = sorted((i for i in vecs if i not in (a, b)), key=lambda i: (cosine(vecs[i]), i))[:5]
    result = run_plan(engine, QueryPlan(intent="similar", anchors=(a, b), limit=5))
    assert result.ids == expected


def test_superlative_by_meaning_sorts_the_nearest(engine, embedder) -> None:
    import numpy as np
    from sqlalchemy import text

    phrase = "astronauts travel through space"
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT id, duration_min, embedding::real[] AS e FROM movies "
            "WHERE embedding IS NOT NULL AND duration_min IS NOT NULL"
        )).all()
    q = np.array(embedder.embed_query(phrase))
    dist = {r.id: 1 - float(np.array(r.e) @ q / (np.linalg.norm(r.e) * np.linalg.norm(q))) for r in rows}
    pool = sorted(dist, key=lambda i: (dist[i], i))[:25]
    duration = {r.id: r.duration_min for r in rows}
    longest = max(duration[i] for i in pool)
    expected = {i for i in pool if duration[i] == longest}
    plan = QueryPlan(intent="superlative", sort=Sort(key="duration_min", desc=True), semantic=phrase)
    result = run_plan(PgCatalog(engine, embedder), plan)
    assert set(result.ids) == expected and result.ranked


def test_vocabulary(engine, films) -> None:
    with engine.connect() as conn:
        vocab = load_vocabulary(conn)
    assert vocab.directors == {d for f in films for d in f["directors"]}
    assert vocab.actors == {a for f in films for a in f["actors"]}
    assert vocab.writers == {w for f in films for w in f["writers"]}
    assert vocab.genres == {g for f in films for g in f["genres"]}
    assert vocab.countries == {c for f in films for c in f["countries"]}
    assert vocab.languages == {lang for f in films for lang in f["languages"]}
    credits: dict[str, int] = {}
    for f in films:
        for name in set(f["directors"] + f["writers"] + f["actors"]):
            credits[name] = credits.get(name, 0) + 1
    assert dict(vocab.credits) == credits
    assert credits["Steven Spielberg"] >= 15 and credits["Clint Eastwood"] > 6


def test_catalog_vocabulary_is_cached(engine, embedder) -> None:
    catalog = PgCatalog(engine, embedder)
    first = catalog.vocabulary()
    assert catalog.vocabulary() is first and "Alfred Hitchcock" in first.directors
    catalog.refresh()  # re-reads the titles, so the names too
    assert catalog.vocabulary() is not first and catalog.vocabulary() == first
