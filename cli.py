"""The `opslens` command: serve, summarize, verify, prepare, batch, train, eval."""

from __future__ import annotations

import argparse
import sys
from importlib import import_module

from opslens import __version__

# Each command's parser lives beside its code: (module, function adding the subparser).
COMMANDS: dict[str, tuple[str, str]] = {
    "serve": ("opslens.api.cli", "add_parser"),
    "summarize": ("opslens.model.cli", "add_parser"),
    "verify": ("opslens.model.cli", "add_verify_parser"),
    "prepare": ("opslens.model.cli", "add_prepare_parser"),
    "batch": ("opslens.batch.cli", "add_parser"),
    "train": ("opslens.training.cli", "add_parser"),
    "eval": ("opslens.eval.cli", "add_parser"),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser with every command, or with `command`'s alone. Some commands' modules import
    heavy libraries to build their parsers (eval: its suites, with datasets, pandas, sklearn and
    matplotlib): `opslens serve` built with all of them held ~180 MB it never used."""
    parser = argparse.ArgumentParser(prog="opslens", description=__doc__)
    parser.add_argument("--version", action="version", version=f"opslens {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (module, function) in COMMANDS.items():
        if command is None or name == command:
            getattr(import_module(module), function)(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # The command is the first argument (no top-level option takes a value); anything else,
    # `--help` or a typo, gets the full parser and its usage.
    command = argv[0] if argv and argv[0] in COMMANDS else None
    args = build_parser(command).parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
