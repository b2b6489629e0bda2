"""An optional model loaded on its first use (`Loading` "auto"), so a process that never needs
it never holds it.

The first callers wait for the load together; a load that failed is remembered and raised again,
not retried by every request (the cause, a missing package or a broken build, does not go away
by itself).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class OnDemand(Generic[T]):
    def __init__(self, load: Callable[[], T]) -> None:
        self._load = load
        self._before: list[Callable[[], object]] = []
        self._lock = threading.Lock()
        self._value: T | None = None
        self._error: Exception | None = None

    def before_loading(self, step: Callable[[], object]) -> None:
        """Run `step` first when the load happens (e.g. wait for a build another process makes)."""
        self._before.append(step)

    @property
    def value(self) -> T | None:
        """The model once loaded, else None."""
        return self._value

    def get(self) -> tuple[T, float]:
        """The model, and the seconds this call waited for it (0.0 when it was loaded already)."""
        if self._value is not None:
            return self._value, 0.0
        start = time.perf_counter()
        with self._lock:
            if self._value is None:
                if self._error is not None:
                    raise self._error
                try:
                    for step in self._before:
                        step()
                    self._value = self._load()
                except Exception as exc:
                    self._error = exc
                    raise
        return self._value, time.perf_counter() - start
