"""POST /verify and /verify/batch: a summary and claims checked against the article.

The fast tests put a stand-in model behind the app (the request checks, the queue's routing and
the error mapping need no network); the slow ones ask the real claim verifier about the example
article, and the CLI prints what the API answers.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence

import pytest
from fastapi.testclient import TestClient

from opslens.api.app import create_app
from opslens.api.batcher import by_type
from opslens.api.settings import Limits, Settings
from opslens.cli import main
from opslens.model.errors import NoSentencesError, VerifierUnavailableError
from opslens.model.pipeline import AnalysisRequest
from opslens.model.results import ModelInfo, Verification, VerifiedStatement, VerifyTimings
from opslens.model.verification import VerifyRequest

LIMITS = Limits(
    max_text_chars=5_000, max_summary_chars=300, max_claims=3, max_claim_chars=120, max_batch_items=2
)
ARTICLE = (
    "Officials said the bridge was repaired overnight by army engineers. "
    "Traffic resumed early on Tuesday morning, the city council said."
)
# A sentence of the example article (examples/briefing_bakhmut.txt), its main clause, and that
# clause with the side that suffered the losses swapped, or negated.
SENTENCE = (
    "Russian forces have suffered massive losses in recent weeks around Bakhmut and Vuhledar, a town "
    "that is close to the dividing line between the eastern and the southern theaters of the war."
)
CLAUSE = "Russian forces have suffered massive losses in recent weeks around Bakhmut and Vuhledar."
SWAPPED = "Ukrainian forces have suffered massive losses in recent weeks around Bakhmut and Vuhledar."
NEGATED = "Russian forces have not suffered massive losses in recent weeks around Bakhmut and Vuhledar."


# -- a stand-in model --------------------------------------------------------------------------


class StandIn:
    """Answers every statement `supported`, except what `fail` says; records the calls."""

    info = ModelInfo(name="stand-in", version="0", encoder="none", verifier="none")

    def __init__(self, fail: Exception | None = None) -> None:
        self.fail = fail
        self.calls: list[list[VerifyRequest]] = []

    def analyze_batch(self, requests: Sequence[AnalysisRequest]) -> list:
        raise AssertionError("/verify must not summarise")

    def load_verifier(self) -> float:
        return 0.0  # loaded already

    def verify_batch(self, items: Sequence[VerifyRequest]) -> list[Verification]:
        self.calls.append(list(items))
        if self.fail is not None:
            raise self.fail
        return [self._answer(req) for req in items]

    def _answer(self, req: VerifyRequest) -> Verification:
        def statement(text: str) -> VerifiedStatement:
            probabilities = {"supported": 0.9, "not_found": 0.05, "contradicted": 0.05}
            return VerifiedStatement(
                text=text, start=0, end=len(text), verdict="supported", probabilities=probabilities,
                evidence=[], unsupported=[],
            )  # fmt: skip

        summary = [statement(req.summary)] if req.summary is not None else []
        return Verification(
            summary=summary,
            claims=[statement(c) for c in req.claims],
            consistent=True if summary else None,
            score=0.9 if summary else None,
            threshold=0.5,
            model=self.info,
            timings_ms=VerifyTimings(parse_ms=0, encode_ms=0, verify_ms=0, total_ms=0),
        )


@pytest.fixture
def stand_in() -> StandIn:
    return StandIn()


@pytest.fixture
def client(stand_in: StandIn) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(limits=LIMITS), model=stand_in)) as c:  # type: ignore[arg-type]
        yield c


def _problems(r) -> list[tuple[list, str, str]]:
    return [(e["loc"], e["msg"], e["type"]) for e in r.json()["detail"]]


def test_by_type_routes_each_request_to_its_batched_call_in_order() -> None:
    seen: dict[str, list] = {}

    def runner(name: str):
        def run(items: list) -> list:
            seen[name] = items
            return [f"{name}:{item}" for item in items]

        return run

    run = by_type({int: runner("int"), str: runner("str")})
    assert run([1, "a", 2, "b"]) == ["int:1", "str:a", "int:2", "str:b"]
    assert seen == {"int": [1, 2], "str": ["a", "b"]}  # one call per type
    with pytest.raises(TypeError, match="float"):
        run([1.5])


def test_verify_answers_through_the_queue(client: TestClient, stand_in: StandIn) -> None:
    summary = "The bridge was repaired."
    r = client.post("/verify", json={"text": ARTICLE, "summary": summary, "claims": ["x y"]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["consistent"] is True and body["score"] == 0.9 and body["threshold"] == 0.5
    assert [s["text"] for s in body["summary"]] == [summary]
    assert [c["text"] for c in body["claims"]] == ["x y"]
    assert r.headers["x-request-id"]
    assert stand_in.calls == [[VerifyRequest(text=ARTICLE, summary=summary, claims=("x y",))]]
    # Claims alone: no summary reading.
    r = client.post("/verify", json={"text": ARTICLE, "claims": ["The bridge was repaired."]})
    assert r.status_code == 200 and r.json()["consistent"] is None and r.json()["summary"] == []
    metrics = client.get("/metrics").text
    assert 'opslens_requests_total{route="/verify",status="200"} 2.0' in metrics
    assert 'opslens_verifications_total{consistent="true"} 1.0' in metrics
    assert 'opslens_verifications_total{consistent="none"} 1.0' in metrics
    assert 'opslens_verified_statements_total{kind="claim",verdict="supported"} 2.0' in metrics


def test_batch_form(client: TestClient) -> None:
    items = [{"text": ARTICLE, "summary": "One."}, {"text": ARTICLE, "claims": ["Two.", "Three."]}]
    r = client.post("/verify/batch", json={"items": items})
    assert r.status_code == 200, r.text
    answers = r.json()["items"]
    assert [a["consistent"] for a in answers] == [True, None]
    assert [c["text"] for c in answers[1]["claims"]] == ["Two.", "Three."]
    too_many = client.post("/verify/batch", json={"items": items * 2})
    assert too_many.status_code == 422 and _problems(too_many)[0][0] == ["body", "items"]
    assert "at most 2" in _problems(too_many)[0][1]
    neither = client.post("/verify/batch", json={"items": [items[0], {"text": ARTICLE}]})
    assert neither.status_code == 422 and _problems(neither)[0][0] == ["body", "items", 1, "claims"]


@pytest.mark.parametrize(
    ("payload", "loc", "needle"),
    [
        ({"text": ARTICLE}, ["body", "claims"], "give a summary, at least one claim, or both"),
        ({"text": ARTICLE, "summary": None, "claims": []}, ["body", "claims"], "give a summary"),
        ({"text": "", "summary": "A summary."}, ["body", "text"], "at least 1 character"),
        ({"text": " \n ", "summary": "A summary."}, ["body", "text"], "non-whitespace"),
        ({"text": ARTICLE, "summary": ""}, ["body", "summary"], "at least 1 character"),
        ({"text": ARTICLE, "summary": "\t "}, ["body", "summary"], "non-whitespace"),
        ({"text": ARTICLE, "claims": [""]}, ["body", "claims", 0], "at least 1 character"),
        ({"text": ARTICLE, "claims": ["ok", "  "]}, ["body", "claims"], "non-whitespace"),
        ({"text": ARTICLE, "claims": ["a", "b", "c", "d"]}, ["body", "claims"], "at most 3 items"),
        ({"text": ARTICLE, "claims": ["x" * 121]}, ["body", "claims", 0], "at most 120 characters"),
        ({"text": ARTICLE, "summary": "x" * 301}, ["body", "summary"], "at most 300 characters"),
        ({"text": "x" * 5_001, "summary": "A summary."}, ["body", "text"], "at most 5000 characters"),
        ({"text": ARTICLE, "summary": 3}, ["body", "summary"], "valid string"),
        ({"text": ARTICLE, "summary": "A.", "title": "T"}, ["body", "title"], "Extra inputs"),
    ],
)
def test_bad_input_is_422_naming_the_field(
    client: TestClient, stand_in: StandIn, payload: dict, loc: list, needle: str
) -> None:
    r = client.post("/verify", json=payload)
    assert r.status_code == 422, r.text
    assert any(p[0] == loc and needle in p[1] for p in _problems(r)), _problems(r)
    assert stand_in.calls == []  # refused before the queue


def test_an_invalid_summary_is_named_once(client: TestClient) -> None:
    """A summary that is itself invalid is not also reported as missing."""
    r = client.post("/verify", json={"text": ARTICLE, "summary": ""})
    assert [p[0] for p in _problems(r)] == [["body", "summary"]]


@pytest.mark.parametrize(
    ("fail", "status", "loc", "kind"),
    [
        (NoSentencesError("text contains no article sentence"), 422, ["body", "text"], "no_sentences"),
        (ValueError("summary: holds no sentence"), 422, ["body"], "unverifiable"),
        (VerifierUnavailableError("no claim verifier loaded"), 503, [], "verifier_unavailable"),
    ],
)
def test_model_refusals_become_responses(fail: Exception, status: int, loc: list, kind: str) -> None:
    with TestClient(create_app(Settings(limits=LIMITS), model=StandIn(fail))) as c:  # type: ignore[arg-type]
        r = c.post("/verify", json={"text": ARTICLE, "summary": "A summary."})
    assert r.status_code == status, r.text
    assert _problems(r) == [(loc, str(fail), kind)]


def test_api_keys_and_rate_limit(stand_in: StandIn) -> None:
    settings = Settings(limits=LIMITS, api_keys=["k1"], rate_limit="2/minute")
    body = {"text": ARTICLE, "claims": ["The bridge was repaired."]}
    with TestClient(create_app(settings, model=stand_in)) as c:  # type: ignore[arg-type]
        assert c.post("/verify", json=body).status_code == 401
        assert c.post("/verify/batch", json={"items": [body]}).status_code == 401
        assert c.post("/verify", json=body, headers={"X-API-Key": "k1"}).status_code == 200
        bearer = {"Authorization": "Bearer k1"}
        assert c.post("/verify/batch", json={"items": [body]}, headers=bearer).status_code == 200
        limited = c.post("/verify", json=body, headers={"X-API-Key": "k1"})
        assert limited.status_code == 429 and limited.headers["retry-after"]


def test_body_limit_and_request_id(stand_in: StandIn) -> None:
    settings = Settings(limits=Limits(max_body_bytes=1024))
    with TestClient(create_app(settings, model=stand_in)) as c:  # type: ignore[arg-type]
        r = c.post("/verify", json={"text": "x" * 2000, "summary": "A."}, headers={"X-Request-ID": "abc-123"})
    assert r.status_code == 413 and r.headers["x-request-id"] == "abc-123"


def test_openapi_documents_verify() -> None:
    schema = create_app(Settings(limits=LIMITS)).openapi()
    for path, request, response in (
        ("/verify", "VerifyRequest", "VerifyResponse"),
        ("/verify/batch", "VerifyBatchRequest", "VerifyBatchResponse"),
    ):
        post = schema["paths"][path]["post"]
        assert post["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(request)
        assert post["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(response)
        assert {"401", "413", "422", "429", "503", "504"} <= set(post["responses"])
    body = schema["components"]["schemas"]["VerifyRequest"]
    assert body["additionalProperties"] is False
    assert body["properties"]["claims"]["maxItems"] == 3
    assert body["properties"]["summary"]["anyOf"][0]["maxLength"] == 300
    assert {"summary", "claims"} == {next(iter(option["required"])) for option in body["anyOf"]}
    statement = schema["components"]["schemas"]["VerifiedStatement"]
    assert statement["properties"]["verdict"]["enum"] == ["supported", "not_found", "contradicted"]


# -- the real model --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real(model) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(limits=Limits(max_batch_items=3)), model=model)) as c:
        yield c


def _verify(client: TestClient, **body: object) -> dict:
    r = client.post("/verify", json=body)
    assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.slow
def test_a_sentence_of_the_article_is_supported(real: TestClient, example_text: str) -> None:
    body = _verify(real, text=example_text, summary=SENTENCE, claims=[CLAUSE])
    [sentence], [clause] = body["summary"], body["claims"]
    assert sentence["text"] == SENTENCE and (sentence["start"], sentence["end"]) == (0, len(SENTENCE))
    for statement in (sentence, clause):
        assert statement["verdict"] == "supported", statement
        assert sum(statement["probabilities"].values()) == pytest.approx(1.0, abs=1e-3)
        assert statement["unsupported"] == []
        # The evidence is the article's sentence itself, at its offsets into the text sent.
        assert any(e["text"] == SENTENCE for e in statement["evidence"])
        for e in statement["evidence"]:
            assert example_text[e["start"] : e["end"]] == e["text"]
    assert body["consistent"] is True and body["score"] >= body["threshold"]
    assert body["model"]["verifier"] and body["timings_ms"]["total_ms"] > 0


@pytest.mark.slow
@pytest.mark.parametrize("altered", [SWAPPED, NEGATED], ids=["sides-swapped", "negated"])
def test_an_altered_sentence_is_not_supported(real: TestClient, example_text: str, altered: str) -> None:
    body = _verify(real, text=example_text, summary=f"{SENTENCE} {altered}", claims=[altered])
    first, second = body["summary"]
    assert first["verdict"] == "supported"
    assert second["text"] == altered and second["verdict"] in ("contradicted", "not_found"), second
    assert body["claims"][0]["verdict"] in ("contradicted", "not_found"), body["claims"][0]
    # One bad sentence makes the summary inconsistent.
    assert body["consistent"] is False and body["score"] < body["threshold"]


@pytest.mark.slow
def test_unsupported_spans_and_batch_with_the_real_model(real: TestClient, example_text: str) -> None:
    invented = "Zelenskiy met NATO leaders in Paris."
    items = [{"text": example_text, "summary": invented}, {"text": example_text, "claims": [CLAUSE]}]
    r = real.post("/verify/batch", json={"items": items})
    assert r.status_code == 200, r.text
    first, second = r.json()["items"]
    [sentence] = first["summary"]
    assert sentence["verdict"] != "supported" and first["consistent"] is False
    spans = {u["text"] for u in sentence["unsupported"]}
    assert {"NATO", "Paris"} <= spans
    for u in sentence["unsupported"]:
        assert invented[u["start"] : u["end"]] == u["text"]
    assert second["consistent"] is None and second["claims"][0]["verdict"] == "supported"


@pytest.mark.slow
def test_cli_prints_what_the_api_answers(
    model, real: TestClient, example_text: str, tmp_path, capsys, monkeypatch
) -> None:
    from opslens.model.pipeline import OpsLens

    monkeypatch.setattr(OpsLens, "load", lambda *args, **kwargs: model)  # the loaded one, not a second
    article = tmp_path / "article.txt"
    article.write_text(example_text, encoding="utf-8")
    summary = tmp_path / "summary.txt"
    summary.write_text(f"{SENTENCE} {NEGATED}", encoding="utf-8")
    assert main(["verify", "--text", str(article), "--summary", str(summary), "--claim", CLAUSE]) == 0
    printed = json.loads(capsys.readouterr().out)
    api = _verify(real, text=example_text, summary=f"{SENTENCE} {NEGATED}", claims=[CLAUSE])
    for key in ("summary", "claims", "consistent", "score", "threshold"):
        assert printed[key] == api[key], key
    assert main(["verify", "--text", str(article)]) == 2
    assert "give --summary, --claim, or both" in capsys.readouterr().err
