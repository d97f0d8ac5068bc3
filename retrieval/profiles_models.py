"""Model loaders the sentence-transformers path does not cover: the bundled WordLlama."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from langchain_core.embeddings import Embeddings


class WordLlamaEmbeddings(Embeddings):
    """LangChain `Embeddings` over a loaded `wordllama.WordLlama` (static token embeddings,
    average-pooled, L2-normalized): tens of thousands of texts per second on one core."""

    def __init__(self, model: Any):
        self.model = model

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        return [[float(x) for x in row] for row in self.model.embed(list(texts), norm=True)]

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


WORDLLAMA_CONFIG = "l2_supercat"
"""The configuration whose 256-d weights and tokenizer ship inside the `wordllama` wheel."""


def load_wordllama(cache_dir: Path, *, dim: int = 256) -> WordLlamaEmbeddings:
    """The wheel's bundled WordLlama, loaded with downloads disabled.

    `WordLlama.load()` looks for the tokenizer in `wordllama/tokenizer/`, but the wheel ships it in
    `wordllama/tokenizers/`, and would then download it. A copy under `cache_dir/tokenizers/`
    (made here on first use) is where its cache lookup finds it.
    """
    import wordllama
    from wordllama import WordLlama

    package = Path(wordllama.__file__).parent
    tokenizers = cache_dir / "tokenizers"
    for bundled in (package / "tokenizers").glob(f"{WORDLLAMA_CONFIG}_tokenizer*.json"):
        target = tokenizers / bundled.name
        if not target.exists():
            tokenizers.mkdir(parents=True, exist_ok=True)
            partial = target.with_suffix(".partial")
            shutil.copyfile(bundled, partial)
            partial.replace(target)
    model = WordLlama.load(
        config=WORDLLAMA_CONFIG, cache_dir=cache_dir, dim=256,
        trunc_dim=None if dim == 256 else dim, disable_download=True,
    )
    return WordLlamaEmbeddings(model)
