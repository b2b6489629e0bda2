"""The real thing: `opslens serve` in a subprocess, called over HTTP on loopback."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

pytestmark = pytest.mark.slow


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


def test_server_serves_the_example_article(example_text: str) -> None:
    with running_server() as (base, _):
        r = httpx.post(
            f"{base}/summarize",
            json={"text": example_text, "title": "Russia presses offensive in east"},
            headers={"X-Request-ID": "test-1"},
            timeout=60,
        )
        assert r.status_code == 200, r.text
        assert r.headers["x-request-id"] == "test-1"
        body = r.json()
        assert body["sentences"] and all(
            example_text[s["start"] : s["end"]] == s["text"] for s in body["sentences"]
        )
        assert body["title_stance"]["label"] in {"agree", "disagree", "discuss", "unrelated"}
        assert httpx.post(f"{base}/summarize", json={"text": ""}, timeout=10).status_code == 422
        assert "opslens_requests_total" in httpx.get(f"{base}/metrics", timeout=10).text


def test_sigterm_drains_in_flight_requests(example_text: str) -> None:
    """Graceful shutdown: a request already being served is answered, then the process exits;
    the log is JSON lines, and no article text is in it."""
    items = [{"text": example_text, "title": "Russia presses offensive"}] * 12
    with running_server() as (base, proc):
        answer: dict[str, httpx.Response] = {}
        sender = threading.Thread(
            target=lambda: answer.setdefault(
                "r", httpx.post(f"{base}/summarize/batch", json={"items": items}, timeout=120)
            )
        )
        sender.start()
        # Wait until the batch is in the model (the queue gauge drops back to 0 once it is taken).
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            metrics = httpx.get(f"{base}/metrics", timeout=5).text
            if "opslens_queue_wait_seconds_count 1.0" in metrics:
                break
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        sender.join(120)
        assert answer["r"].status_code == 200
        assert len(answer["r"].json()["items"]) == 12
        # uvicorn re-raises the signal once it has shut down cleanly, so the exit status says SIGTERM.
        assert proc.wait(timeout=60) in (0, -signal.SIGTERM)
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{base}/health", timeout=5)
        log = proc.stdout.read().decode(errors="replace").splitlines()
    records = [json.loads(line) for line in log if line.startswith("{")]
    assert records and len(records) == len(log), "every log line is a JSON object"
    batch = [r for r in records if r.get("path") == "/summarize/batch"]
    assert batch and batch[0]["status"] == 200 and batch[0]["request_id"]
    assert "Bakhmut" not in "\n".join(log)
