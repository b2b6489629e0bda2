"""The real thing: `opslens serve` in a subprocess, called over HTTP on loopback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx
import pytest

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_server_serves_the_example_article(example_text: str) -> None:
    port = _free_port()
    env = {**os.environ, "OPSLENS_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "opslens.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
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
        r = httpx.post(
            f"{base}/summarize",
            json={"text": example_text, "title": "Russia presses offensive in east"},
            timeout=60,
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["sentences"] and all(
            example_text[s["start"] : s["end"]] == s["text"] for s in body["sentences"]
        )
        assert body["title_stance"]["label"] in {"agree", "disagree", "discuss", "unrelated"}
        assert httpx.post(f"{base}/summarize", json={"text": ""}, timeout=10).status_code == 422
        assert "opslens_requests_total" in httpx.get(f"{base}/metrics", timeout=10).text
    finally:
        proc.terminate()
        proc.wait(timeout=30)
