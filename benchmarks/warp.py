"""A time-warped clock: the controller's own work costs real time, its waits cost none.

Virtual time = real time spent outside ``wait`` (the controller's work, charged honestly)
+ the sum of the waits it skipped. A poll loop with a 1 s interval therefore runs as fast as
the controller can work, while every timestamp it records is what a real clock would show.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class WarpClock:
    """A :class:`hpo.controller.clock.Clock` whose ``wait`` returns at once and adds to time."""

    def __init__(
        self, start: float = 1_700_000_000.0, source: Callable[[], float] = time.perf_counter
    ) -> None:
        self._source = source
        self._origin = source()
        self._epoch = start
        self.skipped = 0.0  # seconds of waiting that cost no real time
        self.work: list[float] = []  # real seconds of work between two waits (one per tick)
        self.waits: list[float] = []  # monotonic time at which each wait began
        self._work_from = 0.0

    def monotonic(self) -> float:
        return self._source() - self._origin + self.skipped

    def now(self) -> float:
        return self._epoch + self.monotonic()

    def real(self) -> float:
        """Real seconds elapsed since the clock was made (virtual time minus skipped waits)."""
        return self._source() - self._origin

    def wait(self, seconds: float, wake: threading.Event) -> None:
        real = self.real()
        self.work.append(real - self._work_from)
        self.waits.append(real + self.skipped)
        if not wake.is_set():
            self.skipped += seconds
        self._work_from = self.real()
