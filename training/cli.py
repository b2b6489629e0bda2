"""`opslens train extractive|extractive-encoder|stance|abstractive|verifier --config FILE [overrides]
[--resume]`: train one component (the extractive scorer, the fine-tuned extractive encoder, the
stance classifier, the abstractive generator's LoRA adapter, or the claim verifier) and write it
into an artifact folder."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from opslens.training import distributed
from opslens.training.config import (
    AbstractiveTrainConfig,
    ExtractiveEncoderTrainConfig,
    ExtractiveTrainConfig,
    StanceTrainConfig,
    VerifierTrainConfig,
    load_config,
)

CONFIGS = Path(__file__).parent / "configs"  # the shipped config of each task
TASKS = ("extractive", "extractive-encoder", "stance", "abstractive", "verifier")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a model component and write it into an artifact folder")
    p.add_argument("task", choices=TASKS)
    p.add_argument("--config", type=Path, help="JSON config (default: the shipped one for the task)")
    p.add_argument("--train-file", type=Path)
    p.add_argument("--validation-file", type=Path)
    p.add_argument("--run-dir", type=Path, help="checkpoints, logs, embedding cache")
    p.add_argument("--output-dir", type=Path, help="artifact folder to write the component into")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--seed", type=int)
    p.add_argument("--max-train-examples", type=int)
    p.add_argument("--max-validation-examples", type=int)
    p.add_argument("--checkpoint-every", type=int)
    p.add_argument("--eval-every", type=int)
    p.add_argument("--log-every", type=int)
    p.add_argument("--threads", type=int)
    p.add_argument(
        "--keep",
        choices=("best", "last", "average"),
        help="write the best validated checkpoint (default), the weights at the schedule's end, or "
        "the mean of the weights at the last average_last evaluations",
    )
    p.add_argument("--resume", action="store_true", help="continue from the run folder's checkpoint")
    p.add_argument("--pairs-file", type=Path, help="verifier: the built pairs file (made when absent)")
    p.add_argument(
        "--prepare-only",
        action="store_true",
        help="verifier: build the pairs file (pairs_file) and stop, e.g. to train it on another machine",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    overrides = {
        k: getattr(args, k)
        for k in (
            "train_file",
            "validation_file",
            "run_dir",
            "output_dir",
            "epochs",
            "batch_size",
            "lr",
            "seed",
            "max_train_examples",
            "max_validation_examples",
            "checkpoint_every",
            "eval_every",
            "log_every",
            "threads",
            "keep",
            "pairs_file",
        )
    }
    config_path = args.config or CONFIGS / f"{args.task}.json"
    verifier_only = [
        f for f, v in (("--prepare-only", args.prepare_only), ("--pairs-file", args.pairs_file)) if v
    ]
    if verifier_only and args.task != "verifier":
        raise SystemExit(
            f"{', '.join(verifier_only)}: for the verifier only (the one trainer with a pairs file)"
        )
    command = "opslens " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    # Under torchrun / accelerate launch the ranks join one process group; alone, this is a no-op.
    with distributed.process_group():
        if args.task == "extractive":
            from opslens.training.extractive import train_extractive

            out = train_extractive(
                load_config(ExtractiveTrainConfig, config_path, overrides),
                resume=args.resume,
                command=command,
            )
        elif args.task == "extractive-encoder":
            from opslens.training.extractive_encoder import train_extractive_encoder

            out = train_extractive_encoder(
                load_config(ExtractiveEncoderTrainConfig, config_path, overrides),
                resume=args.resume,
                command=command,
            )
        elif args.task == "abstractive":
            from opslens.training.abstractive import train_abstractive

            out = train_abstractive(
                load_config(AbstractiveTrainConfig, config_path, overrides),
                resume=args.resume,
                command=command,
            )
        elif args.task == "verifier" and args.prepare_only:
            from opslens.training.verifier import prepare_pairs_file

            out = prepare_pairs_file(load_config(VerifierTrainConfig, config_path, overrides))
        elif args.task == "verifier":
            from opslens.training.verifier import train_verifier

            out = train_verifier(
                load_config(VerifierTrainConfig, config_path, overrides), resume=args.resume, command=command
            )
        else:
            from opslens.training.stance import train_stance

            out = train_stance(
                load_config(StanceTrainConfig, config_path, overrides), resume=args.resume, command=command
            )
        if distributed.is_main():
            print(f"{'pairs' if args.prepare_only else 'artifact'} written: {out}")
    return 0
