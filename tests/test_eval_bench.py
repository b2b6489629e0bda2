"""The serving benchmark's payloads and arithmetic, without a server."""

from __future__ import annotations

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
