"""The serving benchmark's payloads and arithmetic, without a server."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import pytest

from opslens.eval.bench import _server_parts, add_ratios, main
from opslens.eval.loadgen import EXAMPLE_CLAIMS, LoadResult
from opslens.model.text import split_sentences


def _args(*argv: str):
    import argparse

    from opslens.eval.loadgen import add_payload_arguments

    p = argparse.ArgumentParser()
    add_payload_arguments(p)
    return p.parse_args(list(argv))


def test_payloads_carry_the_claims_and_a_three_sentence_summary() -> None:
    from opslens.eval.loadgen import payload_from_args, verify_payload_from_args

    plain = payload_from_args(_args())
    assert "claims" not in plain and plain["title"]
    with_claims = payload_from_args(_args("--claims", "3"))
    assert with_claims["claims"] == list(EXAMPLE_CLAIMS) and len(EXAMPLE_CLAIMS) == 3
    verify = verify_payload_from_args(_args())
    assert verify["text"] == plain["text"] and len(split_sentences(verify["summary"])) == 3


def test_ratios_are_against_the_first_configuration_per_endpoint_and_phase() -> None:
    def row(verifier: str, endpoint: str, p50: float, rate: float) -> dict:
        return {
            "backend": "torch",
            "verifier": verifier,
            "extractor": "finetuned",
            "endpoint": endpoint,
            "phase": "single",
            "p50_ms": p50,
            "articles_per_s": rate,
        }

    rows = [
        row("off", "summarize", 100.0, 10.0),
        row("on", "summarize", 150.0, 5.0),
        row("on", "verify", 80, 12.5),
    ]
    add_ratios(rows)
    assert rows[0]["x_p50"] == 1.0 and rows[1]["x_p50"] == pytest.approx(0.67)
    assert rows[1]["x_articles_per_s"] == 0.5
    assert "x_p50" not in rows[2]  # no /verify with the verifier off to compare with


def test_server_timings_give_the_verifiers_share() -> None:
    result = LoadResult(1, 1.0, Counter({200: 3}), [10.0, 20.0, 30.0])
    result.timings_ms = [
        {"summarize_ms": 5.0, "verify_ms": 10.0, "total_ms": 40.0},
        {"summarize_ms": 7.0, "verify_ms": 30.0, "total_ms": 60.0},
        {"summarize_ms": 6.0, "verify_ms": 20.0, "total_ms": 50.0},
    ]
    summary = result.summary()
    assert summary["server_timings_p50_ms"] == {"summarize_ms": 6.0, "total_ms": 50.0, "verify_ms": 20.0}
    assert _server_parts(summary) == {
        "server_summarize_ms": 6.0,
        "server_verify_ms": 20.0,
        "verify_share": 0.4,
    }
    assert _server_parts(LoadResult(1, 1.0).summary()) == {}


def test_unknown_endpoint_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--endpoints", "summarize,nope"])
    assert "--endpoints" in capsys.readouterr().err


def test_stream_payload_asks_for_an_abstractive_summary() -> None:
    from opslens.eval.loadgen import payload_from_args, stream_payload_from_args

    body = stream_payload_from_args(_args("--max-words", "45", "--claims", "1"))
    assert body["mode"] == "abstractive" and body["max_words"] == 45
    assert body["text"] == payload_from_args(_args())["text"] and len(body["claims"]) == 1


def _lines(*events: tuple[str, str]):
    async def lines():
        for event, data in events:
            for line in (f"event: {event}", f"data: {data}", ""):
                await asyncio.sleep(0.01 if event == "token" else 0)
                yield line

    return lines()


def test_stream_reading_times_the_first_token_and_keeps_the_result() -> None:
    from opslens.eval.loadgen import read_stream

    start = time.perf_counter()
    reading = asyncio.run(
        read_stream(
            _lines(
                ("token", '{"text": "russia"}'),
                ("token", '{"text": " lost"}'),
                ("result", '{"summary": "Russia lost.", "timings_ms": {"total_ms": 900.0}}'),
            ),
            start,
        )
    )
    # The first token event came after the first line's pause, well before the end of the stream.
    assert reading.first_token_s is not None and 0.005 < reading.first_token_s < time.perf_counter() - start
    assert reading.result == {"summary": "Russia lost.", "timings_ms": {"total_ms": 900.0}}
    assert reading.error is None


def test_stream_reading_reports_an_error_event_or_a_missing_result() -> None:
    from opslens.eval.loadgen import read_stream

    failed = asyncio.run(read_stream(_lines(("error", '{"detail": "timeout"}')), time.perf_counter()))
    assert failed.first_token_s is None and failed.result is None and failed.error == {"detail": "timeout"}
    cut = asyncio.run(read_stream(_lines(("token", '{"text": "a"}')), time.perf_counter()))
    assert cut.result is None and cut.first_token_s is not None and "without a result" in cut.error["detail"]


def test_first_token_figures_appear_only_for_streams() -> None:
    result = LoadResult(1, 1.0, Counter({200: 2}), [900.0, 1000.0])
    assert "first_token_p50_ms" not in result.summary()
    result.first_token_ms = [300.0, 500.0]
    assert result.summary()["first_token_p50_ms"] == 300.0
    assert result.summary()["first_token_p95_ms"] == 500.0
