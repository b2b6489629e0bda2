"""`opslens summarize [--html] [FILE|-] [--title T] [--claim C ...] [--mode abstractive]`: JSON on
stdout; with --html the file is a web page, whose main content is extracted first.
`opslens verify --text FILE [--html] [--summary FILE|-] [--claim C ...]`: a summary and/or claims checked
against the article (what POST /verify answers), JSON on stdout.
`opslens prepare [encoder|models|abstractive] [--force]`: build and verify, ahead of use, a cached
derived model: the int8 ONNX sentence encoder; every int8 graph the default backend serves the
artifact with (that encoder and the fine-tuned extractive encoder and verifier, adapters merged);
or the abstractive generator (the base model's float copy and the engine's int8 model with the
artifact's adapter merged in)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from opslens.model.options import (
    BACKENDS,
    DEFAULT_BACKEND,
    DEFAULT_ENGINE,
    DEFAULT_FORMAT,
    DEFAULT_MAX_SENTENCES,
    DEFAULT_MAX_WORDS,
    DEFAULT_MODE,
    DEFAULT_POLICY,
    ENGINES,
    MAX_WORDS,
    MIN_WORDS,
    MODES,
    POLICIES,
)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("summarize", help="summarise an article file (or stdin) and print JSON")
    p.add_argument("file", nargs="?", default="-", help="article text file; '-' or nothing for stdin")
    add_html_argument(p, "the file")
    p.add_argument("--title", help="headline: adds the article's stance toward it")
    p.add_argument("--claim", action="append", default=[], help="a claim to check (repeatable)")
    p.add_argument("--max-sentences", type=int, default=DEFAULT_MAX_SENTENCES)
    p.add_argument("--mode", choices=MODES, default=DEFAULT_MODE)
    p.add_argument("--max-words", type=int, default=DEFAULT_MAX_WORDS, help="abstractive summary length")
    p.add_argument(
        "--policy",
        choices=POLICIES,
        default=DEFAULT_POLICY,
        help="abstractive: what to do with numbers, dates and names the article lacks",
    )
    p.add_argument("--generator-engine", choices=ENGINES, default=DEFAULT_ENGINE)
    p.add_argument("--model-path", type=Path, help="artifact folder (default: the shipped model)")
    add_backend_argument(p)
    p.set_defaults(func=run)


def add_verify_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "verify", help="check a summary and/or claims against an article (verdicts, evidence) and print JSON"
    )
    p.add_argument("--text", required=True, help="the source article: a text file, or '-' for stdin")
    p.add_argument("--summary", help="a summary to check sentence by sentence: a text file, or '-' for stdin")
    p.add_argument("--claim", action="append", default=[], help="a claim to check (repeatable)")
    add_html_argument(p, "--text")
    p.add_argument("--model-path", type=Path, help="artifact folder (default: the shipped model)")
    add_backend_argument(p)
    p.set_defaults(func=run_verify)


def add_html_argument(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument(
        "--html",
        dest="format",
        action="store_const",
        const="html",
        default=DEFAULT_FORMAT,
        help=f"{what} is a web page (HTML): its main content is extracted first, and the JSON "
        "carries the extracted `text` (which offsets index) and the page `title`",
    )


def _read(name: str) -> str:
    raw = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
    return raw.decode("utf-8", errors="replace")


def run_verify(args: argparse.Namespace) -> int:
    from opslens.model.errors import ArticleError
    from opslens.model.pipeline import OpsLens, VerifierUnavailableError, VerifyRequest

    if args.summary is None and not args.claim:
        print("error: give --summary, --claim, or both", file=sys.stderr)
        return 2
    if args.text == "-" and args.summary == "-":
        print("error: only one of --text and --summary can be read from stdin", file=sys.stderr)
        return 2
    try:
        text = _read(args.text)
        summary = None if args.summary is None else _read(args.summary)
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        # Stance and abstractive parts are not needed; the verifier is.
        model = OpsLens.load(args.model_path, backend=args.backend, abstractive=False)
        request = VerifyRequest(text=text, summary=summary, claims=tuple(args.claim), format=args.format)
        [result] = model.verify_batch([request])
    except VerifierUnavailableError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:  # ArticleError among them: the input, not the model
        print(f"error: {exc}", file=sys.stderr)
        return 1 if isinstance(exc, ArticleError) else 2
    print(result.model_dump_json(indent=2))
    return 0


def add_backend_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--backend",
        choices=BACKENDS,
        default=os.environ.get("OPSLENS_ENCODER_BACKEND", DEFAULT_BACKEND),
        help="MiniLM encoders: torch (reference), bf16 (bfloat16 autocast) or onnx (int8); "
        f"default: OPSLENS_ENCODER_BACKEND or {DEFAULT_BACKEND}",
    )


def add_prepare_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("prepare", help="build (if needed) and verify a cached derived model")
    p.add_argument(
        "what",
        nargs="?",
        choices=["encoder", "models", "abstractive"],
        default="encoder",
        help="encoder: the int8 ONNX sentence encoder (default); models: every int8 graph the onnx "
        "backend serves the artifact with (~13 s, once); abstractive: SmolLM2's float copy and its "
        "conversion for --generator-engine with the artifact's adapter",
    )
    p.add_argument("--generator-engine", choices=ENGINES, default=DEFAULT_ENGINE, help="abstractive: which")
    p.add_argument("--cache-dir", type=Path, help="folder to build into (default: under OPSLENS_CACHE_DIR)")
    p.add_argument(
        "--model-path", type=Path, help="models, abstractive: artifact folder (default: the shipped model)"
    )
    p.add_argument("--force", action="store_true", help="rebuild even when a valid build is cached")
    p.set_defaults(func=run_prepare)


def run_prepare(args: argparse.Namespace) -> int:
    if args.what == "abstractive":
        return _prepare_generator(args)
    if args.what == "models":
        return _prepare_onnx_models(args)
    from opslens.model.onnx_encoder import EncoderCacheError, prepare

    try:
        print(prepare(args.cache_dir, force=args.force))
    except EncoderCacheError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def _prepare_onnx_models(args: argparse.Namespace) -> int:
    from opslens.model.artifact import ArtifactError
    from opslens.model.cache import default_cache_dir
    from opslens.model.onnx_encoder import EncoderCacheError
    from opslens.model.pipeline import OpsLens

    if args.force:
        print("error: --force applies to `prepare encoder` and `prepare abstractive`", file=sys.stderr)
        return 2
    try:
        # Loading builds what is missing or stale and checks every graph against its record.
        OpsLens.load(args.model_path, backend="onnx", cache_dir=args.cache_dir, verifier=True)
    except (ArtifactError, EncoderCacheError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(args.cache_dir or default_cache_dir())
    return 0


def _prepare_generator(args: argparse.Namespace) -> int:
    from opslens.model.adapter import COMPONENT
    from opslens.model.artifact import SHIPPED_ARTIFACT, ArtifactError, read_manifest
    from opslens.model.base_model import BaseModelError, default_cache, prepare_base
    from opslens.model.engine_build import EngineBuildError
    from opslens.model.generator import Generator

    base = default_cache(args.cache_dir)
    folder = args.model_path or SHIPPED_ARTIFACT
    try:
        prepare_base(base, force=args.force)
        adapter = folder if COMPONENT in read_manifest(folder).components else None
        if args.force:  # the conversion is keyed by its inputs; forcing means rebuilding it too
            import shutil

            for old in [*base.parent.glob("smollm2-135m-ct2-*"), *base.parent.glob("smollm2-135m-ort-*")]:
                shutil.rmtree(old, ignore_errors=True)
        generator = Generator.load(adapter, cache=base, engine=args.generator_engine)
    except (BaseModelError, EngineBuildError, ArtifactError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(base)
    if (folder := getattr(generator.engine, "folder", None)) is not None:  # "hf" converts nothing
        print(folder)
    return 0


def run(args: argparse.Namespace) -> int:
    from opslens.model.base_model import BaseModelError
    from opslens.model.errors import ArticleError
    from opslens.model.pipeline import AbstractiveUnavailableError, AnalysisRequest, OpsLens

    if args.max_sentences < 1:
        print("error: --max-sentences must be at least 1", file=sys.stderr)
        return 2
    if not MIN_WORDS <= args.max_words <= MAX_WORDS:
        print(f"error: --max-words must be between {MIN_WORDS} and {MAX_WORDS}", file=sys.stderr)
        return 2
    raw = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    text = raw.decode("utf-8", errors="replace")
    abstractive = args.mode == "abstractive"
    try:
        model = OpsLens.load(
            args.model_path, backend=args.backend, abstractive=abstractive, engine=args.generator_engine
        )
        request = AnalysisRequest(
            text=text,
            title=args.title,
            claims=tuple(args.claim),
            max_sentences=args.max_sentences,
            mode=args.mode,
            max_words=args.max_words,
            policy=args.policy,
            format=args.format,
        )
        [result] = model.analyze_batch([request])
    except (AbstractiveUnavailableError, BaseModelError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ArticleError as exc:  # no sentence, or (--html) no article in the page
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(result.model_dump_json(indent=2))
    return 0
