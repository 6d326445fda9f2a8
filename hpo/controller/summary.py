"""What a run reports when it returns: counts over the whole study, compute and dollars
spent, and what pruning saved."""

from __future__ import annotations

from dataclasses import dataclass

import optuna
from optuna.trial import TrialState

from hpo import attrs
from hpo.controller.budget import Budget
from hpo.usage import compute_saved, compute_spent, cost_totals


@dataclass(frozen=True)
class RunSummary:
    """What a run did: counts over the whole study, plus why this run stopped."""

    reason: str
    complete: int
    pruned: int
    failed: int
    running: int
    compute_seconds: float
    compute_saved: float | None = None  # by pruning, vs. running pruned trials to the end
    cost_usd: float | None = None  # None: no prices (local backend)
    cost_saved: float | None = None  # dollars, by pruning
    unpriced: int = 0  # trials with an attempt of unknown price (not in cost_usd)
    gpu_hours: float | None = None
    stopped: int = 0  # failed because hpo stopped them (budget.timeout, hpo stop --cancel)


def summarize(
    study: optuna.Study, budget: Budget, reason: str, running: int, now: float
) -> RunSummary:
    """The summary of a run that stopped for ``reason`` with ``running`` trials in flight."""
    trials = study.get_trials(deepcopy=False)
    costs = cost_totals(trials, now)
    return RunSummary(
        reason=reason,
        complete=budget.counts[TrialState.COMPLETE],
        pruned=budget.counts[TrialState.PRUNED],
        failed=budget.failed,
        running=running,
        compute_seconds=compute_spent(trials, now),
        compute_saved=compute_saved(trials),
        cost_usd=costs.usd,
        cost_saved=compute_saved(trials, attrs.COST_USD) if costs.usd else None,
        unpriced=costs.unpriced,
        gpu_hours=costs.gpu_hours,
        stopped=sum(attrs.STOPPED_BY in t.user_attrs for t in trials),
    )
