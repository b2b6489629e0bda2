"""The real thing: `opslens serve` in a subprocess, called over HTTP on loopback."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from subprocess import Popen

import httpx
import pytest

pytestmark = pytest.mark.slow


StartServer = Callable[..., AbstractContextManager[tuple[str, Popen]]]


def test_server_serves_the_example_article(start_server: StartServer, example_text: str) -> None:
    with start_server() as (base, _):
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
