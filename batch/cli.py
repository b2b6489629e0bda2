"""`opslens batch IN.jsonl OUT.jsonl [--engine local|ray] [--resume]`: analyze a JSONL corpus,
one output line per input line; `--resume` continues a run that was stopped."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from opslens.model.options import BATCH_ENGINES, DEFAULT_BATCH_ENGINE, DEFAULT_MAX_SENTENCES

if TYPE_CHECKING:
    from opslens.batch.records import Record


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "batch",
        help="analyze a JSONL file of articles (locally or on Ray) into a JSONL file of results",
        description=__doc__,
    )
    p.add_argument("input", type=Path, help='JSONL: one {"id", "text", "title", "claims", ...} per line')
    p.add_argument("output", type=Path, help='JSONL: {"line", "id", "analysis"} or {"line", "id", "error"}')
    p.add_argument("--engine", choices=BATCH_ENGINES, default=DEFAULT_BATCH_ENGINE)
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue a stopped run: keep OUTPUT's complete lines, analyze only the input lines after them "
        "(without it an existing OUTPUT is overwritten)",
    )
    p.add_argument(
        "--no-timings",
        action="store_true",
        help="leave analysis.timings_ms out, so two runs over the same input write identical bytes",
    )
    p.add_argument("--batch-size", type=int, default=16, help="articles per analyze_batch call")
    p.add_argument("--workers", type=int, default=2, help="Ray engine: worker actors, each with a model")
    p.add_argument("--threads", type=int, help="torch threads per process (default: torch's; Ray: 1)")
    p.add_argument("--ray-address", help="Ray engine: cluster to join (default: RAY_ADDRESS or a local one)")
    p.add_argument("--model-path", type=Path, help="artifact folder (default: the shipped model)")
    p.add_argument("--max-sentences", type=int, default=DEFAULT_MAX_SENTENCES, help="when a line gives none")
    for field in ("id", "text", "title", "claims", "max_sentences", "format"):
        flag = field.replace("_", "-")
        p.add_argument(f"--{flag}-column", default=field, help=f"input field holding {field}")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from opslens.batch.local import count_lines
    from opslens.batch.records import Columns
    from opslens.batch.resume import ResumeError, ResumePoint, find_resume_point
    from opslens.batch.writer import write_records

    for name in ("batch_size", "workers", "max_sentences", "threads"):
        value = getattr(args, name)
        if value is not None and value < 1:
            print(f"error: --{name.replace('_', '-')} must be at least 1", file=sys.stderr)
            return 2
    if not args.input.is_file():
        print(f"error: input file not found: {args.input}", file=sys.stderr)
        return 2
    columns = Columns(
        id=args.id_column,
        text=args.text_column,
        title=args.title_column,
        claims=args.claims_column,
        max_sentences=args.max_sentences_column,
        format=args.format_column,
    )
    total = count_lines(args.input)
    start = ResumePoint()
    if args.resume:
        try:
            start = find_resume_point(args.input, args.output, columns, args.max_sentences)
        except ResumeError as exc:
            print(f"error: cannot resume: {exc}", file=sys.stderr)
            return 2
        print(f"resuming: {start.lines} of {total} lines already in {args.output}", file=sys.stderr)
    elif args.output.is_file() and args.output.stat().st_size:
        print(f"overwriting {args.output} (--resume would continue it instead)", file=sys.stderr)
    if start.lines == total:  # nothing left to analyze: load no model
        records: Iterable[list[Record]] = []
        if args.resume:
            print(f"nothing left to analyze: {args.output} answers every input line", file=sys.stderr)
    elif args.engine == "ray":
        from opslens.batch.ray_engine import analyze_file_ray
        from opslens.ray_extra import RayMissingError, require_ray

        try:
            require_ray("data")  # fail before reading anything
        except RayMissingError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        records = analyze_file_ray(
            args.input,
            columns,
            args.max_sentences,
            args.batch_size,
            workers=args.workers,
            threads=args.threads or 1,
            model_path=str(args.model_path) if args.model_path else None,
            address=args.ray_address,
            skip_bytes=start.input_bytes,
        )
    else:
        from opslens.batch.local import analyze_file
        from opslens.model.pipeline import OpsLens

        model = OpsLens.load(args.model_path, threads=args.threads)
        records = analyze_file(
            model,
            args.input,
            columns,
            args.max_sentences,
            args.batch_size,
            skip_lines=start.lines,
            skip_bytes=start.input_bytes,
        )
    counts = write_records(records, args.output, total=total, resume=start, timings=not args.no_timings)
    print(f"{args.engine}: {counts.summary()} -> {args.output}", file=sys.stderr)
    return 0
