"""Time as the controller sees it; tests inject a fake that advances instantly."""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    """Wall time for records, monotonic time for budgets, and an interruptible wait."""

    def now(self) -> float: ...

    def monotonic(self) -> float: ...

    def wait(self, seconds: float, wake: threading.Event) -> None: ...


class SystemClock:
    """The real clock."""

    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def wait(self, seconds: float, wake: threading.Event) -> None:
        wake.wait(seconds)


class FakeClock:
    """A clock that only moves when waited on (or advanced): for deterministic tests."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._mono = 0.0

    def now(self) -> float:
        return self._now

    def monotonic(self) -> float:
        return self._mono

    def advance(self, seconds: float) -> None:
        self._now += seconds
        self._mono += seconds

    def wait(self, seconds: float, wake: threading.Event) -> None:
        if not wake.is_set():
            self.advance(seconds)
