"""Ray is an optional extra (`pip install 'opslens[ray]'`): the one place that imports it for
the batch engine and the Serve deployment, and says what to install when it is missing."""

from __future__ import annotations

import importlib
from types import ModuleType


class RayMissingError(RuntimeError):
    pass


def require_ray(*submodules: str) -> ModuleType:
    """The `ray` module, after importing `ray.<name>` for each of `submodules`."""
    try:
        ray = importlib.import_module("ray")
        for name in submodules:
            importlib.import_module(f"ray.{name}")
    except ImportError as exc:
        raise RayMissingError(f"this needs Ray: pip install 'opslens[ray]' ({exc})") from exc
    return ray
