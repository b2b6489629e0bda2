"""Every evaluation suite, looked up by name.

Importing a suite's module registers it (`opslens.eval.registry`); a new suite adds its module
to the import below and nothing else changes: `opslens eval NAME` and `opslens eval all` find it.
"""

from __future__ import annotations

from opslens.eval import factcheck, stance, summarization  # noqa: F401  (importing registers them)
from opslens.eval.registry import Suite, registered

ALL = "all"
"""`opslens eval all`: every suite on its committed held-out set, one report."""


def names() -> tuple[str, ...]:
    return tuple(registered())


def get(name: str) -> Suite:
    try:
        return registered()[name]
    except KeyError:
        raise KeyError(f"no evaluation suite {name!r}; known: {', '.join(names())}") from None
