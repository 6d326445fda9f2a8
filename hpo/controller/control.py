"""What reaches a running controller from outside its loop: its lease, and ``hpo stop``.

``hpo stop`` writes a request into the study's ``hpo_stop`` attribute (a command that writes,
through a storage opened for writing); the controller reads it every ``CONTROL_EVERY``
seconds, clears it and stops, and saves its run time at the same pace.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import optuna

from hpo import attrs
from hpo.controller.budget import Budget
from hpo.lease import Lease

CONTROL_EVERY = 2.0  # seconds between checks for stop requests and run-time saves


@dataclass(frozen=True)
class StopRequest:
    """``hpo stop`` asked this controller to stop (``cancel``: and to stop its jobs)."""

    cancel: bool


class Control:
    """The lease and the stop requests of one run (see the module docstring)."""

    def __init__(
        self, study: optuna.Study, budget: Budget, lease: Lease | None,
        monotonic: Callable[[], float],
    ) -> None:  # fmt: skip
        self.study, self.budget, self.lease, self.monotonic = study, budget, lease, monotonic
        self._last = float("-inf")

    def check(self) -> StopRequest | None:
        """Renew the lease; every few seconds, take a stop request and save the run time."""
        if self.lease is not None:
            self.lease.renew()
        now = self.monotonic()
        if now - self._last < CONTROL_EVERY:
            return None
        self._last = now
        request = self.study.user_attrs.get(attrs.STUDY_STOP)
        found = None
        if isinstance(request, dict) and request.get("at"):
            found = StopRequest(cancel=bool(request.get("cancel")))
            self.clear()
        self.budget.save(self.study)
        return found

    def clear(self) -> None:
        """Forget a stop request (one left by an earlier run is not this run's)."""
        if self.study.user_attrs.get(attrs.STUDY_STOP):
            self.study.set_user_attr(attrs.STUDY_STOP, {})
