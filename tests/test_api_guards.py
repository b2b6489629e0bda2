"""What stands between a client and the model: API keys, rate limits, CORS, request IDs,
the bounded queue (429) and the request timeout (504)."""

from __future__ import annotations

import json
import logging
import pydoc
from concurrent.futures import ThreadPoolExecutor

import pytest
from asgi_correlation_id import correlation_id
from fastapi.testclient import TestClient
from pydantic import ValidationError

from opslens.api.app import create_app
from opslens.api.logs import logging_config
from opslens.api.settings import Limits, Serving, Settings

ARTICLE = {
    "text": "Officials said the bridge was repaired overnight. Traffic resumed early on Tuesday morning."
}


def _client(model, **settings) -> TestClient:
    return TestClient(create_app(Settings(**settings), model=model))


@pytest.mark.slow
def test_api_keys(model, tmp_path) -> None:
    keys_file = tmp_path / "keys"
    keys_file.write_text("# ops team\nfile-key\n", encoding="utf-8")
    with _client(model, api_keys=["k1", "k2"], api_keys_file=keys_file) as c:
        missing = c.post("/summarize", json=ARTICLE)
        wrong = c.post("/summarize", json=ARTICLE, headers={"X-API-Key": "k3"})
        bad_scheme = c.post("/summarize", json=ARTICLE, headers={"Authorization": "Basic k1"})
        assert missing.status_code == wrong.status_code == bad_scheme.status_code == 401
        # The same answer whatever was wrong: nothing tells a guesser how close they came.
        assert missing.json() == wrong.json() == bad_scheme.json()
        assert missing.headers["www-authenticate"] == "Bearer"
        assert c.post("/summarize", json=ARTICLE, headers={"X-API-Key": "k2"}).status_code == 200
        assert c.post("/summarize", json=ARTICLE, headers={"Authorization": "Bearer k1"}).status_code == 200
        assert c.post("/summarize", json=ARTICLE, headers={"X-API-Key": "file-key"}).status_code == 200
        assert c.get("/info").status_code == 401
        for open_route in ("/health", "/ready", "/metrics"):
            assert c.get(open_route).status_code == 200, open_route
        info = c.get("/info", headers={"X-API-Key": "k1"}).json()
        assert info["auth"] == {"api_keys": True, "rate_limit": None}
        assert "k1" not in json.dumps(info)


def test_api_keys_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("OPSLENS_API_KEYS", " alpha, beta ")
    assert Settings().accepted_keys() == ["alpha", "beta"]


@pytest.mark.slow
def test_rate_limit_per_key(model) -> None:
    with _client(model, api_keys=["a", "b"], rate_limit="2/minute") as c:
        for _ in range(2):
            assert c.post("/summarize", json=ARTICLE, headers={"X-API-Key": "a"}).status_code == 200
        limited = c.post("/summarize", json=ARTICLE, headers={"X-API-Key": "a"})
        assert limited.status_code == 429
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        assert "2/minute" in limited.json()["detail"][0]["msg"]
        # Another key has its own budget.
        assert c.post("/summarize", json=ARTICLE, headers={"X-API-Key": "b"}).status_code == 200


def test_a_bad_rate_limit_is_refused_at_start_up() -> None:
    with pytest.raises(ValidationError, match="rate_limit"):
        Settings(rate_limit="lots")


@pytest.mark.slow
def test_cors_is_off_unless_configured(model) -> None:
    preflight = {"Origin": "https://analyst.example", "Access-Control-Request-Method": "POST"}
    with _client(model) as c:
        r = c.post("/summarize", json=ARTICLE, headers={"Origin": "https://analyst.example"})
        assert "access-control-allow-origin" not in r.headers
    with _client(model, cors_origins=["https://analyst.example"]) as c:
        r = c.options("/summarize", headers=preflight)
        assert r.headers["access-control-allow-origin"] == "https://analyst.example"
        r = c.options("/summarize", headers={**preflight, "Origin": "https://elsewhere.example"})
        assert "access-control-allow-origin" not in r.headers


@pytest.mark.slow
def test_request_id_is_echoed_or_made(model, caplog) -> None:
    with _client(model) as c, caplog.at_level(logging.INFO, logger="opslens.access"):
        assert c.get("/health", headers={"X-Request-ID": "job-42.a"}).headers["x-request-id"] == "job-42.a"
        made = c.get("/health", headers={"X-Request-ID": "no spaces <allowed>"}).headers["x-request-id"]
        assert made != "no spaces <allowed>" and len(made) == 32
        c.post("/summarize", json={**ARTICLE, "text": ARTICLE["text"] + " SECRET-TOKEN stays out of logs."})
    lines = [r for r in caplog.records if r.name == "opslens.access"]
    assert [r.status for r in lines] == [200, 200, 200]
    assert all("SECRET-TOKEN" not in r.getMessage() and "SECRET-TOKEN" not in str(r.__dict__) for r in lines)


def test_json_log_lines_carry_the_request_id() -> None:
    # Build the configured formatter and filter by hand: dictConfig in-process would close
    # pytest's own log handlers. The real server's log is checked in test_server.py.
    config = logging_config("info", "json")
    spec = dict(config["formatters"]["default"])
    formatter = pydoc.locate(spec.pop("()"))(**spec)
    filter_spec = dict(config["filters"]["request_id"])
    request_filter = pydoc.locate(filter_spec.pop("()"))(**filter_spec)
    record = logging.LogRecord("opslens.api", logging.INFO, __file__, 1, "hello %s", ("there",), None)
    token = correlation_id.set("req-7")
    try:
        assert request_filter.filter(record)
    finally:
        correlation_id.reset(token)
    line = json.loads(formatter.format(record))
    assert (line["message"], line["request_id"], line["level"]) == ("hello there", "req-7", "INFO")


@pytest.mark.slow
def test_timeout_is_504(model, example_text: str) -> None:
    with _client(model, serving=Serving(request_timeout_s=0.001)) as c:
        r = c.post("/summarize", json={"text": example_text})
        assert r.status_code == 504
        assert "request_timeout_s" in r.json()["detail"][0]["msg"]
        assert 'opslens_refused_total{reason="timeout"} 1.0' in c.get("/metrics").text


@pytest.mark.slow
def test_full_queue_is_429_with_retry_after(model, example_text: str) -> None:
    settings = {
        "limits": Limits(max_batch_items=1),
        "serving": Serving(max_queued_articles=1, max_batch_articles=1),
    }
    with _client(model, **settings) as c, ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(lambda _: c.post("/summarize", json={"text": example_text}), range(8)))
    codes = sorted(r.status_code for r in responses)
    assert set(codes) == {200, 429}, codes
    refused = next(r for r in responses if r.status_code == 429)
    assert int(refused.headers["retry-after"]) >= 1
    assert "max_queued_articles=1" in refused.json()["detail"][0]["msg"]


def test_queue_must_hold_a_full_batch_request() -> None:
    with pytest.raises(ValidationError, match="max_queued_articles"):
        Settings(limits=Limits(max_batch_items=20), serving=Serving(max_queued_articles=10))


@pytest.mark.slow
def test_batch_requests_are_answered_together_under_load(model, example_text: str) -> None:
    items = [{"text": example_text, "max_sentences": 2}, ARTICLE]
    with _client(model) as c, ThreadPoolExecutor(4) as pool:
        batch = pool.submit(c.post, "/summarize/batch", json={"items": items})
        singles = [pool.submit(c.post, "/summarize", json=ARTICLE) for _ in range(3)]
        assert batch.result().status_code == 200
        assert [len(i["sentences"]) for i in batch.result().json()["items"]] == [2, 2]
        assert all(s.result().status_code == 200 for s in singles)
