"""docker-compose.yml cannot run here (no Docker engine); check its wiring against the settings."""

from pathlib import Path
from urllib.parse import urlsplit

import yaml

from chatbot.settings import (
    ALL_ENV_NAMES,
    ENV_DATABASE_URL,
    ENV_MODELS,
    ENV_OLLAMA_BASE_URL,
    Settings,
)

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def test_services_and_ports():
    assert set(SERVICES) == {"db", "ollama", "ollama-pull", "app"}
    assert SERVICES["db"]["image"].startswith("pgvector/pgvector:")
    assert SERVICES["ollama"]["image"].startswith("ollama/ollama")
    assert SERVICES["db"]["ports"] == ["5432:5432"]
    assert SERVICES["ollama"]["ports"] == ["11434:11434"]
    assert SERVICES["app"]["ports"] == ["8000:8000"]
    assert SERVICES["app"]["command"][-4:] == ["--host", "0.0.0.0", "--port", "8000"]
    assert set(COMPOSE["volumes"]) == {"pgdata", "ollama", "appdata"}


def test_healthchecks_and_startup_order():
    assert "pg_isready" in SERVICES["db"]["healthcheck"]["test"][1]
    assert SERVICES["app"]["depends_on"]["db"]["condition"] == "service_healthy"
    assert SERVICES["ollama-pull"]["depends_on"]["ollama"]["condition"] == "service_healthy"
    assert SERVICES["ollama-pull"]["restart"] == "no"
    assert "ollama pull" in SERVICES["ollama-pull"]["command"][0]


def test_app_environment_uses_the_settings_names_and_points_at_the_services():
    env = SERVICES["app"]["environment"]
    assert set(env) <= set(ALL_ENV_NAMES)
    db = urlsplit(env[ENV_DATABASE_URL])
    assert (db.scheme, db.hostname, db.port, db.path) == ("postgresql", "db", 5432, "/movierag")
    assert env[ENV_OLLAMA_BASE_URL] == "http://ollama:11434"
    # The pull job and the app read the same model list, whose default is the settings default.
    assert SERVICES["ollama-pull"]["environment"][ENV_MODELS] == env[ENV_MODELS]
    default_models = env[ENV_MODELS].split(":-", 1)[1].rstrip("}")
    assert tuple(default_models.split(",")) == Settings().models


def test_dockerfile_installs_cpu_torch_and_runs_the_chat():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "download.pytorch.org/whl/cpu torch==2.13.0" in dockerfile
    assert 'CMD ["movie-rag", "chat", "--host", "0.0.0.0", "--port", "8000"]' in dockerfile
