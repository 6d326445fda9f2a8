"""Budget accounting that stays right across restarts: counts come from storage."""

from __future__ import annotations

import enum
from collections.abc import Callable

import optuna
from optuna.trial import TrialState

from hpo import attrs
from hpo.controller.spending import MAX_COST, MAX_GPU_HOURS, Spending
from hpo.spec.build import trial_target
from hpo.spec.models import BudgetSpec


class StopReason(enum.StrEnum):
    """Why ``Controller.run`` returned (shown to the user as its value)."""

    COMPLETE = "complete"
    INTERRUPTED = "interrupted"
    TIMEOUT = "timeout"
    FAILURES = "max_failures"
    COST = MAX_COST  # no further trial fits under budget.max_cost
    GPU_HOURS = MAX_GPU_HOURS


class Budget:
    """``n_trials`` counts finished (complete + pruned) trials; failures count against
    ``max_failures``; ``timeout`` is controller run time summed over all runs; the dollar
    and GPU-hour caps are :class:`Spending`'s."""

    def __init__(
        self, spec: BudgetSpec, monotonic: Callable[[], float], max_trials: int | None = None
    ) -> None:
        self.spec = spec
        self.max_trials = max_trials  # trials ever started, failed ones too (a grid's size)
        self.monotonic = monotonic
        self.counts = {TrialState.COMPLETE: 0, TrialState.PRUNED: 0, TrialState.FAIL: 0}
        self._previous_seconds = 0.0
        self._since = monotonic()
        self.spending: Spending | None = None  # dollar and GPU-hour caps, when watched

    def watch_spending(self, spending: Spending) -> None:
        """Let ``spending``'s caps stop new trials too."""
        self.spending = spending

    def load(self, study: optuna.Study) -> None:
        """Count what earlier runs finished and how long they ran. Trials copied by warm_start
        are not this study's work; trials hpo itself stopped are not failures."""
        for trial in study.get_trials(deepcopy=False):
            if trial.state in self.counts and not _uncounted(trial.user_attrs):
                self.counts[trial.state] += 1
        self._previous_seconds = float(study.user_attrs.get(attrs.STUDY_RUN_SECONDS, 0.0))
        self._since = self.monotonic()

    def count(self, state: TrialState) -> None:
        self.counts[state] += 1

    @property
    def finished(self) -> int:
        return self.counts[TrialState.COMPLETE] + self.counts[TrialState.PRUNED]

    @property
    def failed(self) -> int:
        return self.counts[TrialState.FAIL]

    @property
    def target(self) -> int:
        """How many finished trials the study aims for: ``n_trials``, or a smaller grid's size."""
        return trial_target(self.spec.n_trials, self.max_trials)

    def elapsed(self) -> float:
        return self._previous_seconds + self.monotonic() - self._since

    def exhausted_reason(self) -> str | None:
        """Why no new trial may be asked, ignoring ``n_trials`` (or ``None``)."""
        if self.failed >= self.spec.failure_limit:
            return StopReason.FAILURES
        if self.spec.timeout is not None and self.elapsed() >= self.spec.timeout:
            return StopReason.TIMEOUT
        if self.spending is not None:
            return self.spending.exhausted_reason()
        return None

    def room(self, inflight: int) -> int:
        """How many more trials may be asked now."""
        if self.exhausted_reason() is not None:
            return 0
        left = self.spec.n_trials - self.finished - inflight
        if self.max_trials is not None:
            left = min(left, self.max_trials - self.finished - self.failed - inflight)
        return max(0, min(left, self.spec.max_parallel - inflight))

    def spare(self, asked: int) -> int:
        """How many trials may still be asked beyond ``asked`` in flight or prepared (the
        slot limit aside: prepared trials wait for a slot)."""
        if self.exhausted_reason() is not None:
            return 0
        left = self.spec.n_trials - self.finished - asked
        if self.max_trials is not None:
            left = min(left, self.max_trials - self.finished - self.failed - asked)
        return max(0, left)

    def save(self, study: optuna.Study) -> None:
        """Persist the run time so far, and what was spent (called on exit and periodically)."""
        study.set_user_attr(attrs.STUDY_RUN_SECONDS, round(self.elapsed(), 3))
        if self.spending is not None:
            self.spending.save(study)


def _uncounted(user_attrs: dict) -> bool:
    return attrs.WARM_START_OF in user_attrs or attrs.STOPPED_BY in user_attrs
