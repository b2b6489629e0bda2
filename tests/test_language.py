"""The language of each text: identified on what the models read, reported as `language` with
`warnings`, and refused under OPSLENS_LANGUAGE_POLICY=reject (422 naming the field).

Fast tests call the identifier itself; slow ones go through the pipeline, the app (TestClient)
and a real server over HTTP.
"""

from __future__ import annotations

import json

import httpx
import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from opslens.api.app import create_app
from opslens.api.settings import Settings
from opslens.model.errors import NotEnglishError
from opslens.model.language import MIN_LETTERS, identify, screen
from opslens.model.pipeline import AnalysisRequest
from opslens.model.text import parse_document

GERMAN = (
    "Die Bundesregierung hat am Mittwoch ein neues Hilfspaket für die Ukraine beschlossen. Es umfasst "
    "Luftabwehrsysteme, Munition und Geld für den Wiederaufbau zerstörter Stromnetze.\n\n"
    "Verteidigungsminister Pistorius sagte in Berlin, die Lieferungen sollten noch vor dem Winter "
    "beginnen. Die Opposition kritisierte, die Regierung habe zu lange gezögert.\n\n"
    "Nach Angaben des ukrainischen Generalstabs wurden in der Nacht erneut Drohnenangriffe auf Kiew "
    "und Charkiw abgewehrt. Über Opfer lagen zunächst keine Angaben vor."
)
RUSSIAN = (
    "Правительство в среду объявило о новых мерах поддержки малого бизнеса. По словам министра "
    "экономики, компании смогут получить льготные кредиты на срок до пяти лет.\n\n"
    "Эксперты отмечают, что рост цен на энергоносители ударил прежде всего по небольшим предприятиям. "
    "В прошлом году число закрытых компаний выросло почти на треть.\n\n"
    "Представители отраслевых ассоциаций назвали решение правильным, но запоздалым. Они "
    "рассчитывают, что программа заработает уже в следующем квартале."
)
CLAIM = "The government announced new measures."


def sentences(text: str) -> list[str]:
    """What the models read, as the pipeline hands it to the identifier."""
    return [s.normalized for s in parse_document(text).sentences]


def codes(found) -> list[str]:
    return [w.code for w in found.warnings]


# -- the identifier --------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "code", "name"), [(GERMAN, "de", "German"), (RUSSIAN, "ru", "Russian")])
def test_non_english_article_is_named_with_a_warning(text: str, code: str, name: str) -> None:
    found = identify(sentences(text))
    assert (found.language.code, found.language.name) == (code, name)
    assert found.language.confidence >= 0.99
    assert codes(found) == ["not_english"]
    message = found.warnings[0].message
    assert name in message and "trained on English" in message and "do not hold" in message


def test_example_article_is_english_without_warning(example_text: str) -> None:
    found = identify(sentences(example_text))
    assert found.language.code == "en" and found.language.name == "English"
    assert found.language.confidence >= 0.99
    assert found.warnings == ()


def test_mixed_article_is_english_with_a_mixed_warning(example_text: str) -> None:
    english = "\n\n".join(example_text.split("\n\n")[4:10])  # about as long as the German
    found = identify(sentences(english + "\n\n" + GERMAN))
    assert codes(found) == ["mixed_language"] or codes(found) == ["not_english", "mixed_language"]
    assert "German (de)" in found.warnings[-1].message
    assert found.shares["de"] >= 0.2 and found.shares["en"] >= 0.2


@pytest.mark.parametrize(
    "text",
    ["Short one.", "🙂" * 50, "\x00\x01\x02\ufffd" * 40, "1234 5678 9012 3456 7890", "", "   \n\t"],
)
def test_short_or_junk_text_is_undetermined_never_a_crash(text: str) -> None:
    found = identify([text])
    assert found.language.code == "und" and found.language.confidence == 0.0
    assert codes(found) == ["language_undetermined"]
    assert f"fewer than {MIN_LETTERS}" in found.warnings[0].message


def test_low_confidence_is_undetermined_with_its_guess() -> None:
    found = identify(["Taxi hotel radio."] * 2)  # letters enough, but the words belong to many languages
    assert found.language.code == "und" and 0 < found.language.confidence < 0.7
    assert codes(found) == ["language_undetermined"] and "best guess" in found.warnings[0].message


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=200), max_size=5))
def test_any_text_gets_an_answer(texts: list[str]) -> None:
    found = identify(texts)
    assert found.language.code and 0.0 <= found.language.confidence <= 1.0
    assert found.language.code != "en" or not found.warnings or codes(found) == ["mixed_language"]


def test_screen_refuses_under_reject_naming_the_item() -> None:
    texts = [sentences(GERMAN.replace("Die Bundes", "Die Landes")), sentences(RUSSIAN)]
    assert [f.language.code for f in screen(texts, ["warn", "warn"])] == ["de", "ru"]
    with pytest.raises(NotEnglishError) as err:
        screen([sentences(GERMAN)], ["reject"])
    assert err.value.item == 0 and str(err.value).startswith("text is in German (de")
    with pytest.raises(NotEnglishError) as err:
        screen(texts, ["warn", "reject"])
    assert err.value.item == 1 and str(err.value).startswith("item 1: text is in Russian (ru")
    # Undetermined text is never refused.
    assert screen([["Short one."]], ["reject"])[0].language.code == "und"


def test_policy_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().language_policy == "warn"
    monkeypatch.setenv("OPSLENS_LANGUAGE_POLICY", "reject")
    assert Settings().language_policy == "reject"
    monkeypatch.setenv("OPSLENS_LANGUAGE_POLICY", "refuse")
    with pytest.raises(ValidationError, match="language_policy"):
        Settings()


# -- through the model and the app -----------------------------------------------------------------


@pytest.mark.slow
def test_pipeline_answers_with_language_and_warnings(model, example_text: str) -> None:
    german, english = model.analyze_batch([AnalysisRequest(text=GERMAN), AnalysisRequest(text=example_text)])
    assert german.language.code == "de" and [w.code for w in german.warnings] == ["not_english"]
    assert german.summary  # warn: answered all the same
    assert english.language.code == "en" and english.warnings == []
    with pytest.raises(NotEnglishError):
        model.analyze_batch([AnalysisRequest(text=RUSSIAN, language_policy="reject")])
    checked = model.verify(RUSSIAN, claims=[CLAIM])
    assert checked.language.code == "ru" and [w.code for w in checked.warnings] == ["not_english"]


@pytest.fixture(scope="module")
def rejecting(model):
    with TestClient(create_app(Settings(language_policy="reject"), model=model)) as client:
        yield client


@pytest.mark.slow
def test_reject_refuses_with_the_field_and_language(rejecting: TestClient, example_text: str) -> None:
    r = rejecting.post("/summarize", json={"text": GERMAN, "title": "Neues Hilfspaket"})
    assert r.status_code == 422
    [problem] = r.json()["detail"]
    assert problem["loc"] == ["body", "text"] and problem["type"] == "not_english"
    assert "German (de" in problem["msg"] and "'reject'" in problem["msg"]

    r = rejecting.post("/summarize/batch", json={"items": [{"text": example_text}, {"text": RUSSIAN}]})
    assert r.status_code == 422
    [problem] = r.json()["detail"]
    assert problem["loc"] == ["body", "items", 1, "text"] and "Russian (ru" in problem["msg"]

    r = rejecting.post("/verify", json={"text": RUSSIAN, "claims": [CLAIM]})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "text"]
    r = rejecting.post("/verify/batch", json={"items": [{"text": GERMAN, "claims": [CLAIM]}]})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "items", 0, "text"]

    # English passes, and the answer says so.
    r = rejecting.post("/summarize", json={"text": example_text})
    assert r.status_code == 200
    assert r.json()["language"]["code"] == "en" and r.json()["warnings"] == []
    assert rejecting.get("/info").json()["language_policy"] == "reject"


@pytest.mark.slow
def test_real_server_warns_by_default_and_rejects_when_told(serve, live_server: str) -> None:
    r = httpx.post(f"{live_server}/summarize", json={"text": GERMAN, "claims": [CLAIM]}, timeout=60)
    assert r.status_code == 200
    body = r.json()
    assert body["language"] == {"code": "de", "name": "German", "confidence": body["language"]["confidence"]}
    assert [w["code"] for w in body["warnings"]] == ["not_english"]
    assert body["claim_stances"]  # answered, with the warning beside the labels
    r = httpx.post(f"{live_server}/verify", json={"text": RUSSIAN, "claims": [CLAIM]}, timeout=60)
    assert r.status_code == 200 and r.json()["language"]["code"] == "ru"
    assert [w["code"] for w in r.json()["warnings"]] == ["not_english"]
    metrics = httpx.get(f"{live_server}/metrics", timeout=10).text
    assert 'opslens_result_warnings_total{code="not_english"}' in metrics

    with serve(OPSLENS_LANGUAGE_POLICY="reject") as server:
        r = httpx.post(f"{server.url}/summarize", json={"text": RUSSIAN}, timeout=60)
    assert r.status_code == 422
    [problem] = r.json()["detail"]
    assert problem["loc"] == ["body", "text"] and "Russian (ru" in problem["msg"]


class NoDecoder:
    """A generator the refusal must come before: any use of it fails the test."""

    def __getattr__(self, name: str):
        raise AssertionError(f"the generator was used ({name}) for a text the policy refuses")


@pytest.mark.slow
def test_stream_refuses_in_its_error_event(model, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(model, "generator", NoDecoder())
    with (
        TestClient(create_app(Settings(language_policy="reject"), model=model)) as client,
        client.stream("POST", "/summarize/stream", json={"text": GERMAN, "mode": "abstractive"}) as r,
    ):
        assert r.status_code == 200  # the status line goes before the article is read
        raw = "".join(r.iter_text())
    assert raw.startswith("event: error")
    [problem] = json.loads(raw.split("data: ", 1)[1].split("\n", 1)[0])["detail"]
    assert problem["loc"] == ["body", "text"] and problem["type"] == "not_english"
    assert "German (de" in problem["msg"]
