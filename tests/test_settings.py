from pathlib import Path

import pytest

from chatbot.settings import DEFAULT_MODELS, Settings, SettingsError


def test_defaults_with_empty_environment():
    s = Settings.from_env({})
    assert s.database_url is None
    assert s.ollama_base_url == "http://127.0.0.1:11434"
    assert s.models == DEFAULT_MODELS == ("llama3.1:8b", "llama3.2:3b", "llama3.2:1b")
    assert s.llm == "ollama" and s.sql_mode is True and s.k == 8


def test_values_are_parsed():
    s = Settings.from_env({
        "DATABASE_URL": "postgresql://u:p@h:5432/d",
        "MOVIE_RAG_HOME": "/tmp/x",
        "OLLAMA_BASE_URL": "http://o:11434/",
        "MOVIE_RAG_MODELS": " a:1 , b:2 ,",
        "MOVIE_RAG_SQL": "off",
        "MOVIE_RAG_K": "12",
        "MOVIE_RAG_FIRST_TOKEN_TIMEOUT_S": "2.5",
    })
    assert s.database_url == "postgresql://u:p@h:5432/d"
    assert s.home == Path("/tmp/x") and s.pgdata == Path("/tmp/x/pgdata")
    assert s.ollama_base_url == "http://o:11434"
    assert s.models == ("a:1", "b:2")
    assert s.sql_mode is False and s.k == 12 and s.first_token_timeout_s == 2.5


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"MOVIE_RAG_K": "ten"}, "MOVIE_RAG_K='ten' is not a number; give a positive int."),
        ({"MOVIE_RAG_K": "0"}, "MOVIE_RAG_K='0' must be positive."),
        ({"MOVIE_RAG_SQL": "maybe"}, "MOVIE_RAG_SQL='maybe' is not a yes/no value; use on or off."),
        ({"MOVIE_RAG_LLM": "gpt"}, "MOVIE_RAG_LLM='gpt' is not understood; use 'ollama' or 'none'."),
        ({"MOVIE_RAG_MODELS": ","}, "MOVIE_RAG_MODELS=',' names no model; give a comma list such as llama3.1:8b,llama3.2:1b."),
    ],
)
def test_bad_values_name_the_variable(env, message):
    with pytest.raises(SettingsError) as err:
        Settings.from_env(env)
    assert str(err.value) == message
