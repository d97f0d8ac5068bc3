"""Configuration: the only module that reads the environment (and an optional `.env`)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

DEFAULT_MODELS = ("llama3.1:8b", "llama3.2:3b", "llama3.2:1b")

# Environment variable names, in one place so docs, docker-compose and tests can refer to them.
ENV_DATABASE_URL = "DATABASE_URL"
ENV_DATABASE_READ_URL = "DATABASE_READ_URL"
ENV_HOME = "MOVIE_RAG_HOME"
ENV_OLLAMA_BASE_URL = "OLLAMA_BASE_URL"
ENV_MODELS = "MOVIE_RAG_MODELS"
ENV_LLM = "MOVIE_RAG_LLM"
ENV_SQL_MODE = "MOVIE_RAG_SQL"
ENV_LLM_ROUTING = "MOVIE_RAG_LLM_ROUTING"
ENV_K = "MOVIE_RAG_K"
ENV_FIRST_TOKEN_TIMEOUT = "MOVIE_RAG_FIRST_TOKEN_TIMEOUT_S"
ENV_LLM_TIMEOUT = "MOVIE_RAG_LLM_TIMEOUT_S"
ENV_ROUTER_TIMEOUT = "MOVIE_RAG_ROUTER_TIMEOUT_S"
ENV_SQL_TIMEOUT = "MOVIE_RAG_SQL_TIMEOUT_MS"
ENV_SQL_ROW_CAP = "MOVIE_RAG_SQL_ROW_CAP"
ENV_SQL_READER_URL = "MOVIE_RAG_SQL_READER_URL"
ENV_EMBEDDING_MODEL = "MOVIE_RAG_EMBEDDING_MODEL"
ENV_AUTH_SECRET = "CHAINLIT_AUTH_SECRET"
ENV_AUTH_PASSWORD = "MOVIE_RAG_PASSWORD"
ENV_OLLAMA_PARALLEL = "MOVIE_RAG_OLLAMA_PARALLEL"
ENV_LLM_COOLDOWN = "MOVIE_RAG_LLM_COOLDOWN_S"
ENV_NUM_CTX_MAX = "MOVIE_RAG_NUM_CTX_MAX"
ENV_ANSWER_TOKENS = "MOVIE_RAG_ANSWER_TOKENS"

ALL_ENV_NAMES = (
    ENV_DATABASE_URL,
    ENV_DATABASE_READ_URL,
    ENV_HOME,
    ENV_OLLAMA_BASE_URL,
    ENV_MODELS,
    ENV_LLM,
    ENV_SQL_MODE,
    ENV_LLM_ROUTING,
    ENV_K,
    ENV_FIRST_TOKEN_TIMEOUT,
    ENV_LLM_TIMEOUT,
    ENV_ROUTER_TIMEOUT,
    ENV_SQL_TIMEOUT,
    ENV_SQL_ROW_CAP,
    ENV_SQL_READER_URL,
    ENV_EMBEDDING_MODEL,
    ENV_AUTH_SECRET,
    ENV_AUTH_PASSWORD,
    ENV_OLLAMA_PARALLEL,
    ENV_LLM_COOLDOWN,
    ENV_NUM_CTX_MAX,
    ENV_ANSWER_TOKENS,
)


class SettingsError(ValueError):
    """A configuration value a person set is wrong; the message names it."""


@dataclass(frozen=True, kw_only=True)
class Settings:
    database_url: str | None = None
    """Postgres to use; None means the embedded server under `home`."""
    database_read_url: str | None = None
    """A streaming standby that catalog reads use (search, similar, plans, guarded SQL, eval);
    writes and a person's own data stay on `database_url`. See retrieval/replica.py."""
    home: Path = field(default_factory=lambda: Path.home() / ".movie-rag")
    """Data dir of the embedded server and caches."""
    ollama_base_url: str = "http://127.0.0.1:11434"
    """Where Ollama listens; a comma list of hosts spreads requests and fails over between them."""
    ollama_parallel: int = 1
    """Requests each Ollama host serves at once: set it to the server's OLLAMA_NUM_PARALLEL, so
    further requests wait here, where the wait is not charged to the model's budgets."""
    llm_cooldown_s: float = 60.0
    """A model that timed out is skipped this long before one trial request (circuit breaker)."""
    num_ctx_max: int = 8192
    """Largest context (num_ctx) asked of a model; longer prompts lose rows from their end."""
    answer_max_tokens: int = 512
    """num_predict for answers: a cap on how long a model may write."""
    models: tuple[str, ...] = DEFAULT_MODELS
    """Chat models, primary first; later ones are the fallbacks."""
    llm: str = "ollama"
    """`ollama` to use the models, `none` to answer extractively without an LLM."""
    sql_mode: bool = True
    """Let the LLM draft SQL for structured questions."""
    llm_routing: bool = True
    """Let a reachable LLM fill the query plan where the rules' reading is empty or unsure (one
    extra JSON-constrained model call on those questions only; its plan is checked)."""
    k: int = 8
    """Rows retrieved per question."""
    first_token_timeout_s: float = 20.0
    """Seconds a model may take before its first streamed token."""
    llm_timeout_s: float = 90.0
    """Total seconds one model may take for one answer."""
    router_timeout_s: float = 8.0
    """Seconds the optional LLM routing/SQL-drafting call may take."""
    sql_timeout_ms: int = 2000
    """statement_timeout for LLM-drafted SQL."""
    sql_row_cap: int = 50
    """Largest LIMIT a drafted query may have (and rows returned)."""
    sql_reader_url: str | None = None
    """Login of the read-only role for LLM SQL; None derives `movie_rag_reader` from the catalog URL."""
    embedding_model: str | None = None
    """Path or name of the sentence-transformers model; None means the bundled all-MiniLM-L6-v2."""
    auth_password: str | None = None
    """When set (with CHAINLIT_AUTH_SECRET), the chat UI asks for this password."""
    auth_secret: str | None = None
    """Signs chat UI logins (CHAINLIT_AUTH_SECRET); `movie-rag chat` keeps one under `home` when unset."""

    @property
    def pgdata(self) -> Path:
        return self.home / "pgdata"

    def with_(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, dotenv: bool = True) -> Settings:
        """Build settings from `env` (default: os.environ, plus `.env` values it lacks)."""
        if env is None:
            values = dict(_read_dotenv()) if dotenv else {}
            values.update(os.environ)
        else:
            values = dict(env)

        def get(name: str) -> str | None:
            raw = values.get(name)
            return raw.strip() if raw and raw.strip() else None

        kwargs: dict[str, object] = {}
        if (v := get(ENV_DATABASE_URL)) is not None:
            kwargs["database_url"] = v
        if (v := get(ENV_DATABASE_READ_URL)) is not None:
            kwargs["database_read_url"] = v
        if (v := get(ENV_HOME)) is not None:
            kwargs["home"] = Path(v).expanduser()
        if (v := get(ENV_OLLAMA_BASE_URL)) is not None:
            kwargs["ollama_base_url"] = _parse_hosts(v)
        if (v := get(ENV_MODELS)) is not None:
            models = tuple(m.strip() for m in v.split(",") if m.strip())
            if not models:
                raise SettingsError(f"{ENV_MODELS}={v!r} names no model; give a comma list such as llama3.1:8b,llama3.2:1b.")
            kwargs["models"] = models
        if (v := get(ENV_LLM)) is not None:
            if v not in ("ollama", "none"):
                raise SettingsError(f"{ENV_LLM}={v!r} is not understood; use 'ollama' or 'none'.")
            kwargs["llm"] = v
        if (v := get(ENV_SQL_MODE)) is not None:
            kwargs["sql_mode"] = _parse_bool(ENV_SQL_MODE, v)
        if (v := get(ENV_LLM_ROUTING)) is not None:
            kwargs["llm_routing"] = _parse_bool(ENV_LLM_ROUTING, v)
        if (v := get(ENV_EMBEDDING_MODEL)) is not None:
            kwargs["embedding_model"] = v
        if (v := get(ENV_SQL_READER_URL)) is not None:
            kwargs["sql_reader_url"] = v
        if (v := get(ENV_AUTH_PASSWORD)) is not None:
            kwargs["auth_password"] = v
        if (v := get(ENV_AUTH_SECRET)) is not None:
            kwargs["auth_secret"] = v
        for name, key, kind in (
            (ENV_K, "k", int),
            (ENV_FIRST_TOKEN_TIMEOUT, "first_token_timeout_s", float),
            (ENV_LLM_TIMEOUT, "llm_timeout_s", float),
            (ENV_ROUTER_TIMEOUT, "router_timeout_s", float),
            (ENV_SQL_TIMEOUT, "sql_timeout_ms", int),
            (ENV_SQL_ROW_CAP, "sql_row_cap", int),
            (ENV_OLLAMA_PARALLEL, "ollama_parallel", int),
            (ENV_LLM_COOLDOWN, "llm_cooldown_s", float),
            (ENV_NUM_CTX_MAX, "num_ctx_max", int),
            (ENV_ANSWER_TOKENS, "answer_max_tokens", int),
        ):
            if (v := get(name)) is not None:
                kwargs[key] = _parse_positive(name, v, kind)
        return cls(**kwargs)  # type: ignore[arg-type]


def _parse_hosts(raw: str) -> str:
    """One URL or a comma list; each entry must be a host (scheme optional), none empty."""
    hosts = [h.strip().rstrip("/") for h in raw.split(",")]
    if not all(hosts) or any(" " in h for h in hosts):
        raise SettingsError(
            f"{ENV_OLLAMA_BASE_URL}={raw!r} is not a URL or a comma list of URLs; "
            "use e.g. http://127.0.0.1:11434,http://gpu2:11434."
        )
    return ",".join(hosts)


def _parse_bool(name: str, raw: str) -> bool:
    low = raw.lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name}={raw!r} is not a yes/no value; use on or off.")


def _parse_positive(name: str, raw: str, kind: type) -> float | int:
    try:
        value = kind(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a number; give a positive {kind.__name__}.") from None
    if value <= 0:
        raise SettingsError(f"{name}={raw!r} must be positive.")
    return value  # type: ignore[no-any-return]


def _read_dotenv() -> dict[str, str]:
    path = Path(".env")
    if not path.is_file():
        return {}
    from dotenv import dotenv_values

    return {k: v for k, v in dotenv_values(path).items() if v is not None}
