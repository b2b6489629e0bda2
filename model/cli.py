"""`opslens summarize [FILE|-] [--title T] [--claim C ...]`: JSON on stdout.
`opslens prepare [encoder|abstractive] [--force]`: build and verify, ahead of use, a cached
derived model: the int8 ONNX encoder, or the abstractive base model's float copy."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("summarize", help="summarise an article file (or stdin) and print JSON")
    p.add_argument("file", nargs="?", default="-", help="article text file; '-' or nothing for stdin")
    p.add_argument("--title", help="headline: adds the article's stance toward it")
    p.add_argument("--claim", action="append", default=[], help="a claim to check (repeatable)")
    p.add_argument("--max-sentences", type=int, default=3)
    p.add_argument("--model-path", type=Path, help="artifact folder (default: the shipped model)")
    add_backend_argument(p)
    p.set_defaults(func=run)


def add_backend_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--backend",
        choices=["torch", "onnx"],
        default=os.environ.get("OPSLENS_ENCODER_BACKEND", "torch"),
        help="sentence encoder: torch (reference) or onnx (int8); default: OPSLENS_ENCODER_BACKEND or torch",
    )


def add_prepare_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("prepare", help="build (if needed) and verify a cached derived model")
    p.add_argument(
        "what",
        nargs="?",
        choices=["encoder", "abstractive"],
        default="encoder",
        help="encoder: the int8 ONNX encoder (default); abstractive: SmolLM2's float copy",
    )
    p.add_argument("--cache-dir", type=Path, help="folder to build into (default: under OPSLENS_CACHE_DIR)")
    p.add_argument("--force", action="store_true", help="rebuild even when a valid build is cached")
    p.set_defaults(func=run_prepare)


def run_prepare(args: argparse.Namespace) -> int:
    # Both builders take (folder, force=) and raise their own error type for a bad build.
    if args.what == "abstractive":
        from opslens.model.generator import BaseModelError as BuildError
        from opslens.model.generator import prepare_base as build
    else:
        from opslens.model.onnx_encoder import EncoderCacheError as BuildError
        from opslens.model.onnx_encoder import prepare as build
    try:
        print(build(args.cache_dir, force=args.force))
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def run(args: argparse.Namespace) -> int:
    from opslens.model.pipeline import NoSentencesError, OpsLens

    if args.max_sentences < 1:
        print("error: --max-sentences must be at least 1", file=sys.stderr)
        return 2
    raw = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    text = raw.decode("utf-8", errors="replace")
    try:
        result = OpsLens.load(args.model_path, backend=args.backend).analyze(
            text, title=args.title, claims=args.claim, max_sentences=args.max_sentences
        )
    except NoSentencesError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(result.model_dump_json(indent=2))
    return 0
