"""Intermediate values: read changed progress.json documents in bulk, report new steps."""

from __future__ import annotations

from collections.abc import Iterable

from hpo.controller.documents import parse_progress
from hpo.controller.inflight import InFlight
from hpo.store.base import ObjectStore
from hpo.store.layout import TrialLayout


class ProgressReader:
    """One ``stamps`` call per poll for all running trials; a GET only for changed ones. The
    same listing says whose result is in (``InFlight.result_listed``), for the pruner."""

    def __init__(
        self, store: ObjectStore, layout: TrialLayout, *, live: bool = False, every: float = 0.0
    ) -> None:
        self.store = store
        self.layout = layout
        self.live = live  # running trials' progress is read while they run (else when they end)
        self.every = every
        self._next = float("-inf")

    def due(self, now: float) -> bool:
        """Whether to read the running trials' progress now: when ``live``, at most once
        ``every`` seconds (one listing for all)."""
        if not self.live or now < self._next:
            return False
        self._next = now + self.every
        return True

    def changed(self, running: Iterable[InFlight]) -> list[InFlight]:
        """Trials whose progress document changed since it was last read, now read."""
        keys = {self.layout.progress(f.number): f for f in running}
        if not keys:
            return []
        results = {self.layout.result(f.number): f for f in keys.values()}
        updated = []
        for key, stamp in self.store.stamps([*keys, *results]).items():
            if key in results:
                results[key].result_listed = True
                continue
            f = keys[key]
            if stamp.version != f.progress_version:
                f.progress_version = stamp.version
                if self.read(f):
                    updated.append(f)
        return updated

    def read(self, f: InFlight) -> bool:
        """Report the trial's new (step, value) pairs to Optuna; True if there were any."""
        raw = self.store.get(self.layout.progress(f.number))
        new = [(step, value) for step, value in parse_progress(raw) if step > f.last_step]
        for step, value in new:
            f.trial.report(value, step)
            f.last_step = step
        return bool(new)
