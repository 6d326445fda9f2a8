"""A token bucket that keeps SubmitJob under Batch's per-account limit (50 requests/s)."""

from __future__ import annotations

import threading

from hpo.backends.batch.client import Timer

BATCH_SUBMIT_LIMIT = 50.0
_EPSILON = 1e-9  # float slack: a wait too small to move the clock would never end


class TokenBucket:
    """``acquire()`` blocks (through the injected timer) until a request may go out.

    The bucket holds at most ``burst`` tokens and refills at ``rate`` per second, so any
    one-second window sees at most ``burst + rate`` requests; the default burst keeps that
    at or under the 50/s Batch limit.
    """

    def __init__(self, rate: float, timer: Timer, burst: float | None = None) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.capacity = burst if burst is not None else max(1.0, BATCH_SUBMIT_LIMIT - rate)
        self._timer = timer
        self._tokens = self.capacity
        self._last = timer.monotonic()
        self._lock = threading.Lock()

    def _refill(self) -> None:
        """Add the tokens earned since the last look, up to the capacity."""
        now = self._timer.monotonic()
        self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
        self._last = now

    def acquire(self) -> float:
        """Take one token, sleeping as long as needed; returns the seconds slept."""
        slept = 0.0
        with self._lock:
            self._refill()
            while self._tokens < 1.0 - _EPSILON:
                wait = max((1.0 - self._tokens) / self.rate, _EPSILON)
                self._timer.sleep(wait)
                slept += wait
                self._refill()
            self._tokens = max(0.0, self._tokens - 1.0)
        return slept
