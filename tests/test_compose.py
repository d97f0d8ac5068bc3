"""docker-compose.yml cannot run here (no Docker engine); check its wiring against the settings."""

from pathlib import Path
from urllib.parse import urlsplit

import yaml

from chatbot.settings import (
    ALL_ENV_NAMES,
    ENV_DATABASE_READ_URL,
    ENV_DATABASE_URL,
    ENV_MODELS,
    ENV_OLLAMA_BASE_URL,
    Settings,
)

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def test_services_and_ports():
    assert set(SERVICES) == {"db", "ollama", "ollama-2", "replica", "ollama-pull", "app"}
    assert SERVICES["db"]["image"].startswith("pgvector/pgvector:")
    assert SERVICES["ollama"]["image"].startswith("ollama/ollama")
    assert SERVICES["db"]["ports"] == ["5432:5432"]
    assert SERVICES["ollama"]["ports"] == ["11434:11434"]
    assert SERVICES["app"]["ports"] == ["8000:8000"]
    assert SERVICES["app"]["command"][-4:] == ["--host", "0.0.0.0", "--port", "8000"]
    assert set(COMPOSE["volumes"]) == {"pgdata", "replicadata", "ollama", "appdata"}


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
    assert env[ENV_OLLAMA_BASE_URL] == "${OLLAMA_BASE_URL:-http://ollama:11434}"
    assert env[ENV_DATABASE_READ_URL] == "${DATABASE_READ_URL:-}"  # empty: reads use DATABASE_URL
    # The pull job and the app read the same model list, whose default is the settings default.
    assert SERVICES["ollama-pull"]["environment"][ENV_MODELS] == env[ENV_MODELS]
    default_models = env[ENV_MODELS].split(":-", 1)[1].rstrip("}")
    assert tuple(default_models.split(",")) == Settings().models


def test_dockerfile_installs_cpu_torch_and_runs_the_chat():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "download.pytorch.org/whl/cpu torch==2.13.0" in dockerfile
    assert 'CMD ["movie-rag", "chat", "--host", "0.0.0.0", "--port", "8000"]' in dockerfile


def test_scale_profile_adds_a_streaming_standby_and_a_second_ollama():
    replica, second = SERVICES["replica"], SERVICES["ollama-2"]
    assert replica["profiles"] == ["scale"] and second["profiles"] == ["scale"]
    assert replica["image"] == SERVICES["db"]["image"]
    assert replica["depends_on"]["db"]["condition"] == "service_healthy"
    start = replica["command"][0]
    assert "pg_basebackup -h db" in start and " -R " in start and start.endswith("exec postgres")
    assert replica["volumes"] == ["replicadata:/var/lib/postgresql"]
    # The primary accepts the standby's replication connection.
    (hba,) = SERVICES["db"]["configs"]
    assert hba["target"].startswith("/docker-entrypoint-initdb.d/")
    assert "host replication" in COMPOSE["configs"][hba["source"]]["content"]
    assert second["image"] == SERVICES["ollama"]["image"]
    assert second["volumes"] == SERVICES["ollama"]["volumes"]
