"""The `opslens` command line: every command is there, and a command's parser does not drag in
the libraries of the others (a server process would carry them for its whole life)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from opslens.cli import COMMANDS, build_parser

# Evaluation and training libraries: none of them serves a request.
HEAVY = ("datasets", "pyarrow", "pandas", "sklearn", "matplotlib", "rouge_score")


def test_full_parser_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--help"])
    usage = capsys.readouterr().out
    for name in COMMANDS:
        assert name in usage


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_one_command_parser_has_that_command(command: str) -> None:
    parser = build_parser(command)
    with pytest.raises(SystemExit):  # the other commands are unknown to it
        parser.parse_args([next(c for c in COMMANDS if c != command)])


def test_serve_imports_no_evaluation_or_training_library() -> None:
    code = (
        "import sys; from opslens.cli import build_parser; build_parser('serve'); "
        "import opslens.api.app; "
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    command = [sys.executable, "-c", code]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.strip() == "[]", done.stdout


@pytest.mark.slow
def test_served_models_load_without_training_libraries() -> None:
    # peft builds the adapters for training; importing it alone held ~140 MB of a server's memory.
    code = (
        "import sys; from opslens.model.pipeline import OpsLens; OpsLens.load(); "
        f"print(sorted(m for m in {(*HEAVY, 'peft')!r} if m in sys.modules))"
    )
    command = [sys.executable, "-c", code]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout
