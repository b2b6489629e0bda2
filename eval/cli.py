"""`opslens eval SUITE|all [--data FILE] [--out DIR] [--mode extractive|abstractive] ...`.

SUITE is a registered suite (`opslens.eval.suites`); `all` runs every suite on its committed
held-out set with one model load and writes one report.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

from opslens.eval import report, runner
from opslens.eval.registry import RunConfig, Suite
from opslens.eval.suites import ALL, get, names
from opslens.model.artifact import SHIPPED_ARTIFACT
from opslens.model.options import (
    DEFAULT_ENGINE,
    DEFAULT_MAX_SENTENCES,
    DEFAULT_MAX_WORDS,
    DEFAULT_POLICY,
    ENGINES,
    MODES,
    POLICIES,
)

DEFAULT_DATA = {name: get(name).data for name in names()}
"""Each suite's committed held-out set."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    from opslens.model.cli import add_backend_argument

    p = sub.add_parser("eval", help="score the model on held-out data against baselines")
    p.add_argument(
        "suite",
        choices=[*names(), ALL],
        help=f"one suite, or {ALL!r}: every suite on its committed held-out set, one report",
    )
    p.add_argument("--data", type=Path, help=".jsonl or .jsonl.gz (default: the committed held-out set)")
    p.add_argument(
        "--out", type=Path, help="folder for predictions, results.json, report.md and its figures (PNG)"
    )
    p.add_argument("--model-path", type=Path, help="artifact folder (default: the shipped model)")
    add_backend_argument(p)
    p.add_argument("--limit", type=int, help="first N examples only (of each suite's data)")
    p.add_argument(
        "--max-sentences", type=int, default=DEFAULT_MAX_SENTENCES, help="summary length (summarization)"
    )
    p.add_argument(
        "--mode",
        choices=MODES,
        help="summarization: score this mode alone; default: both side by side plus the zero-shot "
        "generator as a baseline",
    )
    p.add_argument("--max-words", type=int, default=DEFAULT_MAX_WORDS, help="abstractive summary length")
    p.add_argument("--policy", choices=POLICIES, default=DEFAULT_POLICY, help="faithfulness policy")
    p.add_argument("--generator-engine", choices=ENGINES, default=DEFAULT_ENGINE, help="abstractive decoding")
    p.add_argument(
        "--zero-shot",
        action=argparse.BooleanOptionalAction,
        help="add the zero-shot base generator as a baseline (default: on when both modes run)",
    )
    p.add_argument(
        "--frozen-baseline",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="score the frozen-vector extractive scorer beside the fine-tuned one (reads each article again)",
    )
    p.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples for ROUGE CIs")
    p.add_argument(
        "--record",
        action="store_true",
        help="also store the figures in the artifact's evaluation.json and model card",
    )
    p.set_defaults(func=run)


def _provenance(models: runner.Models, args: argparse.Namespace, seconds: float) -> dict[str, Any]:
    """What `eval all` records once for the whole run (each suite keeps its own as well)."""
    generated = models.model.info.generator is not None
    return {
        "command": runner.command_line(),
        "model": models.model.info.model_dump(),
        "model_path": str(args.model_path or SHIPPED_ARTIFACT),
        "seconds": round(seconds, 1),
        "libraries": {
            **runner.libraries(args.backend, args.generator_engine if generated else None),
            "matplotlib": version("matplotlib"),
        },
        "python": platform.python_version(),
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def run(args: argparse.Namespace) -> int:
    from opslens.model.base_model import BaseModelError
    from opslens.model.pipeline import AbstractiveUnavailableError

    if args.suite == ALL and args.data:
        print(
            f"opslens eval: error: {ALL} scores each suite on its own held-out set; drop --data",
            file=sys.stderr,
        )
        return 2
    suites: list[Suite] = [get(n) for n in names()] if args.suite == ALL else [get(args.suite)]
    try:
        models = runner.load_models(
            suites,
            mode=args.mode,
            model_path=args.model_path,
            backend=args.backend,
            engine=args.generator_engine,
            zero_shot=args.zero_shot,
        )
    except (AbstractiveUnavailableError, BaseModelError) as exc:
        print(f"opslens eval: error: {exc}", file=sys.stderr)
        return 2
    config = RunConfig(
        modes=models.modes,
        max_sentences=args.max_sentences,
        max_words=args.max_words,
        policy=args.policy,
        n_bootstrap=args.bootstrap,
        frozen_baseline=args.frozen_baseline,
    )
    started = time.perf_counter()
    runs = {
        s.name: runner.run_suite(
            s,
            models,
            config,
            data=args.data,
            limit=args.limit,
            model_path=args.model_path,
            backend=args.backend,
            generator_engine=args.generator_engine,
        )
        for s in suites
    }
    by_name = {s.name: s for s in suites}
    if args.suite == ALL:
        provenance = _provenance(models, args, time.perf_counter() - started)
        if args.out:
            combined = report.write_all(args.out, runs, by_name, provenance)
        else:
            combined = report.combine(runs, {}, provenance)
        print(report.markdown_all(combined, by_name))
    else:
        (results, records), suite = runs[args.suite], by_name[args.suite]
        plots = report.write_run(args.out, results, records, suite) if args.out else []
        print(report.markdown(results, suite, plots))
    if args.record:
        for name, (results, _) in runs.items():
            runner.record(args.model_path or SHIPPED_ARTIFACT, by_name[name], results, args.backend)
    return 0
