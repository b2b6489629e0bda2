from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest
from opslens.eval.loadgen import Server, start_server

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT.parent / "shared" / "examples" / "briefing_bakhmut.txt"


@pytest.fixture(scope="session")
def example_text() -> str:
    if not EXAMPLE.is_file():
        pytest.skip(f"example article not found at {EXAMPLE}")
    return EXAMPLE.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def model():
    from opslens.model.pipeline import OpsLens

    return OpsLens.load()


@contextmanager
def _serve(**env: str) -> Iterator[Server]:
    # One model thread per server: tests run beside other work on small CI machines.
    with start_server({"OPSLENS_THREADS": "1", **env}, ready_timeout_s=120) as server:
        yield server


@pytest.fixture(scope="session")
def serve() -> Callable[..., AbstractContextManager[Server]]:
    """`with serve(OPSLENS_X="1") as server:` a real `opslens serve` of one's own on loopback
    (`server.url`, `server.process`, `server.log`)."""
    return _serve


@pytest.fixture(scope="session")
def live_server() -> Iterator[str]:
    """One real server with default settings, shared by the tests that only call it."""
    with _serve() as server:
        yield server.url
