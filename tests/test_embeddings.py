import math

from retrieval.embeddings import (
    EMBEDDING_DIM,
    embed_in_batches,
    embedding_text,
)


def test_embedding_text_follows_the_documented_template():
    movie = {
        "title": "Finding Nemo",
        "year": 2003,
        "genres": ["Animation", "Adventure"],
        "director": "Andrew Stanton",
        "writers": ["Bob Peterson"],  # people and the year are left to full-text search and filters
        "actors": ["Albert Brooks", "Ellen DeGeneres"],
        "summary": "A clownfish\n crosses  the ocean.",
    }
    assert embedding_text(movie) == (
        "Finding Nemo. Animation, Adventure. A clownfish crosses the ocean. Directed by Andrew Stanton."
    )


def test_embedding_text_leaves_out_missing_values():
    assert embedding_text({"title": "King Kong", "year": 1933, "director": None, "genres": []}) == "King Kong."
    assert embedding_text({"title": "Babylon 5", "year": None, "summary": "Space."}) == "Babylon 5. Space."


class _Recorder:
    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.calls.append(list(texts))
        return [[float(len(t))] * EMBEDDING_DIM for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


def test_embed_in_batches_batches_shortest_first_and_keeps_input_order():
    rec = _Recorder()
    texts = ["ccc", "a", "bb", "dddd", "e"]
    vectors = embed_in_batches(rec, texts, batch_size=2)
    assert rec.calls == [["a", "e"], ["bb", "ccc"], ["dddd"]]
    assert [v[0] for v in vectors] == [3.0, 1.0, 2.0, 4.0, 1.0]


def test_real_model_gives_normalized_384d_vectors(embedder):
    docs = embedder.embed_documents(["A clownfish looks for his son.", "Casino heist in Las Vegas."])
    query = embedder.embed_query("fish father ocean")
    assert [len(v) for v in (*docs, query)] == [EMBEDDING_DIM] * 3
    for v in (*docs, query):
        assert math.isclose(math.sqrt(sum(x * x for x in v)), 1.0, abs_tol=1e-4)
    # the fish query is nearer the fish film than the heist
    dot = [sum(a * b for a, b in zip(query, d, strict=True)) for d in docs]
    assert dot[0] > dot[1]
