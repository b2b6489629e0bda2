from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from opslens.api.app import create_app
from opslens.api.settings import Limits, Settings

LIMITS = Limits(
    max_body_bytes=300_000, max_text_chars=200_000, max_claims=4, max_batch_items=3, max_summary_sentences=5
)


@pytest.fixture(scope="module")
def client(model) -> TestClient:
    with TestClient(create_app(Settings(limits=LIMITS), model=model)) as c:
        yield c


@pytest.mark.slow
def test_summarize_example_article(client: TestClient, example_text: str) -> None:
    title = "Russia Presses Ahead With Offensive In East Despite Kyiv's Claims Of Losses"
    r = client.post(
        "/summarize",
        json={
            "text": example_text,
            "title": title,
            "claims": [
                "Kamala Harris said Russia committed crimes against humanity",
                "Apple releases a new iPhone with a foldable screen",
            ],
            "max_sentences": 3,
        },
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert 1 <= len(body["sentences"]) <= 3
    for s in body["sentences"]:
        # Every summary sentence is a sentence of the article, at the offsets given.
        assert example_text[s["start"] : s["end"]] == s["text"]
        assert 0.0 <= s["score"] <= 1.0
    assert [s["index"] for s in body["sentences"]] == sorted(s["index"] for s in body["sentences"])
    assert body["title_stance"]["label"] != "unrelated"
    harris, iphone = body["claim_stances"]
    assert harris["label"] != "unrelated"
    assert "Harris" in harris["evidence"]["text"]
    ev = harris["evidence"]
    assert example_text[ev["start"] : ev["end"]] == ev["text"]
    assert iphone["label"] == "unrelated" and iphone["evidence"] is None
    assert sum(harris["probabilities"].values()) == pytest.approx(1.0, abs=1e-3)
    assert body["truncated"] is False
    assert body["model"]["name"] == "opslens-v1"
    assert body["timings_ms"]["total_ms"] > 0


@pytest.mark.slow
def test_max_sentences_bounds_the_summary(client: TestClient, example_text: str) -> None:
    r = client.post("/summarize", json={"text": example_text, "max_sentences": 1})
    assert r.status_code == 200
    assert len(r.json()["sentences"]) == 1


@pytest.mark.slow
def test_batch(client: TestClient, example_text: str) -> None:
    r = client.post(
        "/summarize/batch", json={"items": [{"text": example_text}, {"text": example_text[:2000]}]}
    )
    assert r.status_code == 200, r.text
    assert len(r.json()["items"]) == 2


def _error_locs(r) -> list[list]:
    return [e["loc"] for e in r.json()["detail"]]


@pytest.mark.parametrize(
    ("payload", "loc", "needle"),
    [
        ({"text": ""}, ["body", "text"], "at least 1"),
        ({"text": "   \n\t "}, ["body", "text"], "non-whitespace"),
        ({"text": 42}, ["body", "text"], "string"),
        ({"text": "A real sentence is here now.", "max_sentences": 0}, ["body", "max_sentences"], "1"),
        ({"text": "A real sentence is here now.", "max_sentences": 99}, ["body", "max_sentences"], "5"),
        (
            {"text": "A real sentence is here now.", "max_sentences": "three"},
            ["body", "max_sentences"],
            "integer",
        ),
        ({"text": "A real sentence is here now.", "claims": ["c"] * 5}, ["body", "claims"], "4"),
        (
            {"text": "A real sentence is here now.", "claims": ["ok claim", " "]},
            ["body", "claims"],
            "non-whitespace",
        ),
        ({"text": "A real sentence is here now.", "claims": "not a list"}, ["body", "claims"], "list"),
        ({"text": "A real sentence is here now.", "colour": "red"}, ["body", "colour"], "Extra"),
        ({}, ["body", "text"], "required"),
    ],
)
@pytest.mark.slow
def test_bad_input_is_422_naming_the_field(client: TestClient, payload, loc, needle) -> None:
    r = client.post("/summarize", json=payload)
    assert r.status_code == 422, r.text
    errors = r.json()["detail"]
    assert any(e["loc"][: len(loc)] == loc and needle.lower() in e["msg"].lower() for e in errors), errors
    assert "input" not in errors[0]  # the submitted text is never echoed back


@pytest.mark.slow
def test_text_over_the_char_limit(client: TestClient) -> None:
    r = client.post("/summarize", json={"text": "word " * 50_000})  # 250k chars, body < 300 kB
    assert r.status_code == 422
    assert "200000" in r.json()["detail"][0]["msg"]


@pytest.mark.slow
def test_oversized_body_is_413(client: TestClient) -> None:
    r = client.post("/summarize", json={"text": "x" * 400_000})
    assert r.status_code == 413
    assert "300000" in r.json()["detail"][0]["msg"]


@pytest.mark.slow
def test_chunked_oversized_body_is_413(client: TestClient) -> None:
    def chunks():
        for _ in range(40):
            yield b"x" * 10_000

    r = client.post("/summarize", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413


@pytest.mark.parametrize("raw", [b"{not json", b"\x00\xff\xfe binary", b"", b"[]", b"null"])
@pytest.mark.slow
def test_malformed_body_is_422(client: TestClient, raw: bytes) -> None:
    r = client.post("/summarize", content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text


@pytest.mark.slow
def test_text_without_sentences_is_422(client: TestClient) -> None:
    r = client.post("/summarize", json={"text": "\u0001\u0002\u0003 \ufffd\ufffd\ufffd"})
    assert r.status_code == 422
    assert _error_locs(r) == [["body", "text"]]
    r = client.post("/summarize", json={"text": "Source link"})
    assert r.status_code == 422


@pytest.mark.slow
def test_batch_limits(client: TestClient) -> None:
    item = {"text": "Russian forces shelled the town on Sunday, officials said."}
    assert client.post("/summarize/batch", json={"items": [item] * 4}).status_code == 422
    assert client.post("/summarize/batch", json={"items": []}).status_code == 422
    r = client.post("/summarize/batch", json={"items": [item, {"text": "Source link"}]})
    assert r.status_code == 422
    assert _error_locs(r) == [["body", "items", "text"]]
    assert "item 1" in r.json()["detail"][0]["msg"]


@pytest.mark.slow
def test_non_english_text_is_served(client: TestClient) -> None:
    text = "Президент України заявив про значні втрати противника. Бої тривають біля Бахмута цього тижня."
    r = client.post("/summarize", json={"text": text})
    assert r.status_code == 200
    assert r.json()["sentences"][0]["text"] in text
    # Answered (the default `warn` language policy), saying the figures do not hold.
    assert r.json()["language"]["code"] == "uk"
    assert [w["code"] for w in r.json()["warnings"]] == ["not_english"]


@pytest.mark.slow
def test_ops_endpoints(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/ready").status_code == 200
    info = client.get("/info").json()
    assert info["limits"]["max_claims"] == 4
    assert "Model card" in info["model_card"]
    metrics = client.get("/metrics").text
    assert "opslens_requests_total" in metrics
    schema = client.get("/openapi.json").json()
    req = schema["components"]["schemas"]["SummarizeRequest"]
    assert req["properties"]["max_sentences"]["maximum"] == 5


def test_not_ready_without_model() -> None:
    app = create_app(Settings(limits=LIMITS), model=None)
    c = TestClient(app)  # no context manager: lifespan (model loading) does not run
    assert c.get("/health").status_code == 200
    assert c.get("/ready").status_code == 503
    assert c.post("/summarize", json={"text": "A real sentence is here now."}).status_code == 503
