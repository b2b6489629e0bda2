"""The `opslens` command: serve, summarize, verify, prepare, batch, train, eval."""

from __future__ import annotations

import argparse
import sys

from opslens import __version__


def build_parser() -> argparse.ArgumentParser:
    from opslens.api.cli import add_parser as add_serve
    from opslens.batch.cli import add_parser as add_batch
    from opslens.eval.cli import add_parser as add_eval
    from opslens.model.cli import add_parser as add_summarize
    from opslens.model.cli import add_prepare_parser as add_prepare
    from opslens.model.cli import add_verify_parser as add_verify
    from opslens.training.cli import add_parser as add_train

    parser = argparse.ArgumentParser(prog="opslens", description=__doc__)
    parser.add_argument("--version", action="version", version=f"opslens {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    add_serve(sub)
    add_summarize(sub)
    add_verify(sub)
    add_prepare(sub)
    add_batch(sub)
    add_train(sub)
    add_eval(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
