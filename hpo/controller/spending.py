"""Dollar and GPU-hour caps (``budget.max_cost``, ``budget.max_gpu_hours``).

What finished trials spent comes from their recorded attributes, so the caps count over
resumes like ``timeout``. The trials in flight add what they spent so far and what they are
expected to spend still: a trial is expected to cost what finished trials cost on average
(nothing is expected before one has finished). No new trial is proposed once what was spent
plus that expectation, for the trials in flight and one more, would pass a cap; the trials in
flight finish and are told. An unpriced attempt adds no dollars (its price is unknown).
"""

from __future__ import annotations

from collections.abc import Callable

import optuna
from optuna.trial import TrialState

from hpo import attrs
from hpo.controller.attempts import Spend
from hpo.spec.models import BudgetSpec

MAX_COST = "max_cost"
MAX_GPU_HOURS = "max_gpu_hours"
_FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)


def _number(value: object) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


class Spending:
    """The study's spend against its caps. See the module docstring."""

    def __init__(
        self, spec: BudgetSpec, inflight: Callable[[], list[Spend]], *, priced: bool = False
    ) -> None:
        self.spec = spec
        self.inflight = inflight
        self.priced = priced  # the backend prices its attempts: totals are worth showing
        self.usd = 0.0  # finished trials
        self.gpu_hours = 0.0
        self.trials = 0  # finished trials counted in the averages
        self.unpriced = 0  # finished trials with an unpriced attempt

    @property
    def capped(self) -> bool:
        return self.spec.max_cost is not None or self.spec.max_gpu_hours is not None

    def load(self, study: optuna.Study) -> None:
        """Add what the study's finished trials spent (earlier runs included; trials copied by
        warm_start are another study's spending)."""
        for trial in study.get_trials(deepcopy=False, states=_FINISHED):
            ua = trial.user_attrs
            if attrs.WARM_START_OF in ua:  # copied from another study: not spent here
                continue
            usd = None if attrs.UNPRICED in ua else _number(ua.get(attrs.COST_USD))
            self.add(Spend(0.0, _number(ua.get(attrs.GPU_HOURS)), usd))

    def add(self, spend: Spend) -> None:
        """Count a trial that finished."""
        self.trials += 1
        self.gpu_hours += spend.gpu_hours
        if spend.usd is None:
            self.unpriced += 1
        else:
            self.usd += spend.usd

    def spent(self) -> Spend:
        """Finished trials plus the trials in flight so far."""
        running = self.inflight()
        usd = self.usd + sum(s.usd or 0.0 for s in running)
        return Spend(0.0, self.gpu_hours + sum(s.gpu_hours for s in running), usd)

    def save(self, study: optuna.Study) -> None:
        """The totals so far as study attributes (the dashboard shows them with the study)."""
        if self.priced:
            spent = self.spent()
            study.set_user_attr(attrs.STUDY_COST_USD, round(spent.usd or 0.0, 4))
            study.set_user_attr(attrs.STUDY_GPU_HOURS, round(spent.gpu_hours, 4))

    def _committed(self, cap: float, spent: float, so_far: list[float], mean: float) -> bool:
        """Whether spent + the expected rest of the trials in flight + one more passes ``cap``."""
        rest = sum(max(0.0, mean - s) for s in so_far)
        return spent >= cap or spent + rest + mean > cap

    def exhausted_reason(self) -> str | None:
        """``max_cost`` or ``max_gpu_hours`` once no further trial fits under its cap."""
        if not self.capped:
            return None
        running = self.inflight()
        priced = self.trials - self.unpriced
        if self.spec.max_cost is not None:
            mean = self.usd / priced if priced else 0.0
            spent = self.usd + sum(s.usd or 0.0 for s in running)
            if self._committed(self.spec.max_cost, spent, [s.usd or 0.0 for s in running], mean):
                return MAX_COST
        if self.spec.max_gpu_hours is not None:
            mean = self.gpu_hours / self.trials if self.trials else 0.0
            spent = self.gpu_hours + sum(s.gpu_hours for s in running)
            if self._committed(self.spec.max_gpu_hours, spent,
                               [s.gpu_hours for s in running], mean):  # fmt: skip
                return MAX_GPU_HOURS
        return None
