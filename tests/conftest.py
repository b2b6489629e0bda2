from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import httpx
import pytest

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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_server(**env: str) -> Iterator[tuple[str, subprocess.Popen]]:
    """Start `opslens serve` on a free loopback port, wait for /ready, stop it afterwards."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "opslens.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env={**os.environ, "OPSLENS_THREADS": "1", **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"server exited: {proc.stdout.read().decode(errors='replace')}")
            try:
                if httpx.get(f"{base}/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        else:
            pytest.fail("server not ready within 120 s")
        yield base, proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=60)


@pytest.fixture(scope="session")
def start_server() -> Callable[..., AbstractContextManager[tuple[str, subprocess.Popen]]]:
    """`with start_server(OPSLENS_X="1") as (base_url, process):` a real server of one's own."""
    return running_server


@pytest.fixture(scope="session")
def live_server() -> Iterator[str]:
    """One real server with default settings, shared by the tests that only call it."""
    with running_server() as (base, _):
        yield base
