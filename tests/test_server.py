"""The real thing: `opslens serve` in a subprocess, called over HTTP on loopback."""

from __future__ import annotations

import asyncio
import json
import signal
import threading
import time
from collections.abc import Callable

import httpx
import pytest

from opslens.eval.loadgen import drive, percentile, require_loopback


def wait_until(condition: Callable[[], bool], what: str, timeout_s: float = 60) -> None:
    """Poll another process's state (here its /metrics) until `condition` holds; fail, not carry
    on, if it never does."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened within {timeout_s:g} s: {what}")
        time.sleep(0.05)


@pytest.mark.slow
def test_server_serves_the_example_article(serve, example_text: str) -> None:
    with serve() as server:
        base = server.url
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


@pytest.mark.slow
def test_sigterm_drains_in_flight_requests(serve, example_text: str) -> None:
    """Graceful shutdown: a request already being served is answered, then the process exits;
    the log is JSON lines, and no article text is in it."""
    items = [{"text": example_text, "title": "Russia presses offensive"}] * 12
    with serve() as server:
        base, proc = server.url, server.process
        answer: dict[str, httpx.Response] = {}
        sender = threading.Thread(
            target=lambda: answer.setdefault(
                "r", httpx.post(f"{base}/summarize/batch", json={"items": items}, timeout=120)
            )
        )
        sender.start()
        # The signal goes once the batch is in the model: its queue wait has been observed.
        wait_until(
            lambda: "opslens_queue_wait_seconds_count 1.0" in httpx.get(f"{base}/metrics", timeout=5).text,
            "the batch taken by the model",
        )
        proc.send_signal(signal.SIGTERM)
        sender.join(120)
        assert answer["r"].status_code == 200
        assert len(answer["r"].json()["items"]) == 12
        # uvicorn re-raises the signal once it has shut down cleanly, so the exit status says SIGTERM.
        assert proc.wait(timeout=60) in (0, -signal.SIGTERM)
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{base}/health", timeout=5)
        log = server.log.read_text(errors="replace").splitlines()
    records = [json.loads(line) for line in log if line.startswith("{")]
    assert records and len(records) == len(log), "every log line is a JSON object"
    batch = [r for r in records if r.get("path") == "/summarize/batch"]
    assert batch and batch[0]["status"] == 200 and batch[0]["request_id"]
    assert "Bakhmut" not in "\n".join(log)


@pytest.mark.slow
def test_load_generator_counts_what_the_server_answers(serve, example_text: str) -> None:
    with serve(OPSLENS_SERVING__MAX_QUEUED_ARTICLES="2", OPSLENS_LIMITS__MAX_BATCH_ITEMS="2") as server:
        base = server.url
        payload = {"text": example_text}
        result = asyncio.run(drive(base, "/summarize", payload, clients=6, requests=18, duration_s=60))
    summary = result.summary()
    assert summary["requests"] == 18
    assert summary["ok"] + summary["429"] == 18 and summary["errors"] == 0
    assert summary["429"] > 0, "6 clients against a queue of 2 must be throttled"
    assert summary["p50_ms"] <= summary["p95_ms"] <= summary["p99_ms"]


def test_load_goes_only_to_loopback() -> None:
    require_loopback("http://127.0.0.1:8000")
    require_loopback("http://localhost:8000")
    for url in ("http://10.1.2.3:8000", "http://192.168.0.10", "http://8.8.8.8"):
        with pytest.raises(ValueError, match="loopback"):
            require_loopback(url)


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 95), percentile(values, 99)) == (50.0, 95.0, 99.0)
    assert percentile([7.0], 99) == 7.0
