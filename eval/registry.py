"""The evaluation suites, registered by name, in the manner of lm-evaluation-harness.

A suite module declares one `Suite` (its committed held-out set, the fields a row holds, the
metric keys of its headline table, how to run it, its report section and its figures) and calls
`register` on it when imported; `opslens.eval.suites` imports every suite module, so looking a
suite up there finds them all. The runner is generic: it loads the model, reads the suite's data
through `opslens.corpus.load_table`, calls `suite.run` and writes what comes back.

This module holds no suite and imports none, so suites can import it without a cycle.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opslens.model.options import (
    DEFAULT_MAX_SENTENCES,
    DEFAULT_MAX_WORDS,
    DEFAULT_MODE,
    DEFAULT_POLICY,
    Mode,
    Policy,
)

if TYPE_CHECKING:
    from opslens.model.pipeline import OpsLens

DATA = Path(__file__).parent / "data"
"""The committed held-out sets."""


@dataclass(frozen=True, kw_only=True)
class RunConfig:
    """What a user can set for a run; every suite gets all of it and reads what it needs."""

    modes: tuple[Mode, ...] = (DEFAULT_MODE,)
    max_sentences: int = DEFAULT_MAX_SENTENCES
    max_words: int = DEFAULT_MAX_WORDS
    policy: Policy = DEFAULT_POLICY
    n_bootstrap: int = 1000
    frozen_baseline: bool = True  # summarization: the frozen-vector scorer beside the fine-tuned one


@dataclass(frozen=True)
class Outcome:
    """What a suite's run returns: headline metrics (of the first mode where there are several),
    baselines scored on the same rows, one record per row, and the metrics of each mode."""

    metrics: dict[str, Any]
    baselines: dict[str, Any]
    records: list[dict[str, Any]]
    per_mode: dict[str, dict[str, Any]] = field(default_factory=dict)


Runner = Callable[["OpsLens", "OpsLens | None", Sequence[dict[str, Any]], RunConfig], Outcome]
"""(model, zero-shot generator or None, rows, config) -> Outcome."""
Section = Callable[[dict[str, Any]], list[str]]
"""results.json of a run -> the report's markdown lines below the headline table."""
Plots = Callable[[dict[str, Any], Path], list[str]]
"""(results.json of a run, folder) -> names of the PNG files written there."""


@dataclass(frozen=True, kw_only=True)
class Suite:
    name: str
    description: str
    data: Path
    """The committed held-out set `opslens eval SUITE` and `opslens eval all` score by default."""
    fields: tuple[str, ...]
    """The columns a row of the data must have."""
    headline: tuple[str, ...]
    """Metric keys of the report's table, and the ones `--record` keeps in the artifact."""
    run: Runner
    section: Section
    plots: Plots
    summarizes: bool = False
    """Scores summary modes: it gets `--mode`, and abstractive mode loads the generator for it."""


_SUITES: dict[str, Suite] = {}


def register(suite: Suite) -> Suite:
    """Add a suite under its name; a second suite with the same name is a mistake."""
    if suite.name in _SUITES and _SUITES[suite.name] is not suite:
        raise ValueError(f"an evaluation suite named {suite.name!r} is already registered")
    _SUITES[suite.name] = suite
    return suite


def registered() -> dict[str, Suite]:
    """The suites registered so far, by name, in registration order."""
    return dict(_SUITES)
