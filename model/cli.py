"""`opslens summarize [FILE|-] [--title T] [--claim C ...]`: JSON on stdout.
`opslens prepare`: build the abstractive base model's cached float copy."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("summarize", help="summarise an article file (or stdin) and print JSON")
    p.add_argument("file", nargs="?", default="-", help="article text file; '-' or nothing for stdin")
    p.add_argument("--title", help="headline: adds the article's stance toward it")
    p.add_argument("--claim", action="append", default=[], help="a claim to check (repeatable)")
    p.add_argument("--max-sentences", type=int, default=3)
    p.add_argument("--model-path", type=Path, help="artifact folder (default: the shipped model)")
    p.set_defaults(func=run)
    prep = sub.add_parser(
        "prepare", help="build the float copy of the abstractive base model (SmolLM2) from its package"
    )
    prep.add_argument(
        "--cache", type=Path, help="target folder (default: ~/.cache/opslens/…, or $OPSLENS_CACHE_DIR/…)"
    )
    prep.add_argument("--force", action="store_true", help="rebuild even if a checked copy exists")
    prep.set_defaults(func=prepare)


def prepare(args: argparse.Namespace) -> int:
    from opslens.model.generator import BaseModelError, prepare_base

    try:
        folder = prepare_base(args.cache, force=args.force)
    except BaseModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"base model ready: {folder}")
    return 0


def run(args: argparse.Namespace) -> int:
    from opslens.model.pipeline import NoSentencesError, OpsLens

    if args.max_sentences < 1:
        print("error: --max-sentences must be at least 1", file=sys.stderr)
        return 2
    raw = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    text = raw.decode("utf-8", errors="replace")
    try:
        result = OpsLens.load(args.model_path).analyze(
            text, title=args.title, claims=args.claim, max_sentences=args.max_sentences
        )
    except NoSentencesError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(result.model_dump_json(indent=2))
    return 0
