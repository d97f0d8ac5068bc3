"""The `ollama_fake` fixture: a fresh loopback Ollama per test. In a test module:
`from ollama_fixtures import ollama_fake_fixture  # noqa: F401` (pytest puts tests/ on sys.path);
the fixture is named `ollama_fake`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from ollama_fake import OllamaFake


@pytest.fixture(name="ollama_fake")
def ollama_fake_fixture() -> Iterator[OllamaFake]:
    """A running OllamaFake with no models scripted; stopped (all threads joined) after the test."""
    with OllamaFake() as fake:
        yield fake
