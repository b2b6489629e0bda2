"""`opslens eval summarization|stance --data FILE [--out DIR] [--mode extractive|abstractive]`."""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import sys
import time
from importlib.metadata import version
from pathlib import Path

from opslens.model.options import (
    DEFAULT_ENGINE,
    DEFAULT_MAX_SENTENCES,
    DEFAULT_MAX_WORDS,
    DEFAULT_POLICY,
    ENGINES,
    MODES,
    POLICIES,
)

DEFAULT_DATA = {
    "summarization": Path(__file__).parent / "data" / "news_heldout.jsonl.gz",
    "stance": Path(__file__).parent / "data" / "fnc1_heldout.jsonl.gz",
}


def add_parser(sub: argparse._SubParsersAction) -> None:
    from opslens.model.cli import add_backend_argument

    p = sub.add_parser("eval", help="score the model on held-out data against baselines")
    p.add_argument("suite", choices=["summarization", "stance"])
    p.add_argument("--data", type=Path, help=".jsonl or .jsonl.gz (default: the committed held-out set)")
    p.add_argument("--out", type=Path, help="folder for predictions.jsonl, results.json, report.md")
    p.add_argument("--model-path", type=Path, help="artifact folder (default: the shipped model)")
    add_backend_argument(p)
    p.add_argument("--limit", type=int, help="first N examples only")
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
    p.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples for ROUGE CIs")
    p.add_argument(
        "--record",
        action="store_true",
        help="also store the figures in the artifact's evaluation.json and model card",
    )
    p.set_defaults(func=run)


def _shown(path: Path) -> str:
    """The path relative to the working directory when it lies below it (no home paths in cards)."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _kept(figures: dict, keep: tuple[str, ...]) -> dict:
    """Headline figures, plus the faithfulness share where there is one."""
    out = {k: figures[k] for k in keep if k in figures}
    share = figures.get("faithfulness", {}).get("share_with_unsupported_entity_or_number")
    if share is not None:
        out["share_with_unsupported_entity_or_number"] = share
    return out


def run(args: argparse.Namespace) -> int:
    from opslens.corpus import file_sha256, load_table
    from opslens.eval import stance, summarization
    from opslens.eval.report import markdown, write_run
    from opslens.model.artifact import SHIPPED_ARTIFACT, read_manifest
    from opslens.model.card import EVALUATION, write_card
    from opslens.model.generator import BaseModelError
    from opslens.model.pipeline import AbstractiveUnavailableError, OpsLens

    data = args.data or DEFAULT_DATA[args.suite]
    fields = summarization.FIELDS if args.suite == "summarization" else stance.FIELDS
    rows = list(load_table(data, fields, args.limit))
    modes = [args.mode] if args.mode else list(MODES)
    folder = args.model_path or SHIPPED_ARTIFACT
    if args.mode is None and "abstractive" not in read_manifest(folder).components:
        print(
            f"opslens eval: {folder} has no abstractive adapter; scoring extractive mode only",
            file=sys.stderr,
        )
        modes = ["extractive"]
    abstractive = args.suite == "summarization" and "abstractive" in modes
    try:
        model = OpsLens.load(
            args.model_path, backend=args.backend, abstractive=abstractive, engine=args.generator_engine
        )
        zero_shot = None
        if abstractive and (args.zero_shot if args.zero_shot is not None else args.mode is None):
            zero_shot = OpsLens.load(
                args.model_path,
                backend=args.backend,
                abstractive=True,
                zero_shot=True,
                engine=args.generator_engine,
            )
    except (AbstractiveUnavailableError, BaseModelError) as exc:
        print(f"opslens eval: error: {exc}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    per_mode = None
    if args.suite == "summarization":
        metrics, baselines, records, per_mode = summarization.run_summarization(
            model,
            rows,
            modes=modes,
            zero_shot=zero_shot,
            max_sentences=args.max_sentences,
            max_words=args.max_words,
            policy=args.policy,
            n_bootstrap=args.bootstrap,
        )
    else:
        metrics, baselines, records = stance.run_stance(model, rows)
    seconds = time.perf_counter() - started
    command = "opslens " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    results = {
        "suite": args.suite,
        "mode": modes[0] if args.suite == "summarization" else None,
        "metrics": metrics,
        **({"modes": per_mode} if per_mode and len(per_mode) > 1 else {}),
        "baselines": baselines,
        "provenance": {
            "data": _shown(data),
            "data_sha256": file_sha256(data),
            "examples": len(rows),
            "model": model.info.model_dump(),
            "model_path": str(args.model_path or SHIPPED_ARTIFACT),
            "config": {
                "max_sentences": args.max_sentences,
                "bootstrap": args.bootstrap,
                "limit": args.limit,
                **(
                    {
                        "max_words": args.max_words,
                        "policy": args.policy,
                        "generator_engine": args.generator_engine,
                    }
                    if abstractive
                    else {}
                ),
            },
            "command": command,
            "seconds": round(seconds, 1),
            "seconds_per_example": round(seconds / max(len(rows), 1), 4),
            "libraries": {
                p: version(p)
                for p in ("opslens", "torch", "transformers", "rouge-score", "datasets")
                + (("onnxruntime",) if args.backend == "onnx" else ())
                + (("ctranslate2",) if abstractive and args.generator_engine == "ct2" else ())
            },
            "python": platform.python_version(),
            "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        },
    }
    if args.out:
        write_run(args.out, results, records)
    print(markdown(results))
    if args.record:
        folder = args.model_path or SHIPPED_ARTIFACT
        path = folder / EVALUATION
        recorded = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
        keep = ("rouge1", "rouge2", "rougeLsum", "summary_words_mean", "fnc_score", "accuracy", "macro_f1")
        # One record per suite, data file and mode, so held-out and full-test figures sit side by
        # side. The torch encoder is the reference; other backends' figures sit beside it.
        backend = "" if args.backend == "torch" else f" ({args.backend} encoder)"
        for mode, figures in (per_mode or {None: metrics}).items():
            label = f" [{mode}]" if mode == "abstractive" else ""
            recorded[f"{args.suite}: {data.name}{label}{backend}"] = {
                "command": command,
                "data": _shown(data),
                "data_sha256": results["provenance"]["data_sha256"],
                "examples": len(rows),
                "metrics": _kept(figures, keep),
                "baselines": {n: _kept(b, keep) for n, b in baselines.items()},
            }
        path.write_text(json.dumps(recorded, indent=2) + "\n", encoding="utf-8")
        write_card(folder)
    return 0
