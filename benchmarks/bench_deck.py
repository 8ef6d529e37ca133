"""A minimal deck for benchmarks: calls that do almost nothing, so labdeck's overhead shows."""

from __future__ import annotations

import threading


class Counter:
    """Adds numbers; its total proves that no call was lost."""

    def __init__(self) -> None:
        self._total = 0
        self._calls = 0
        self._lock = threading.Lock()

    def add(self, amount: int = 1) -> int:
        """Add `amount` to the total and return the new total."""
        with self._lock:
            self._total += amount
            self._calls += 1
            return self._total

    @property
    def total(self) -> int:
        return self._total

    @property
    def calls(self) -> int:
        return self._calls


counter = Counter()
