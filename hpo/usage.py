"""What a study's trials used: compute seconds, dollars and GPU hours, and what pruning saved.

Everything comes from the user attributes the controller records (:mod:`hpo.attrs`), so the
controller's run summary and the read-only views (``hpo status``) count the same way.

A trial's ``cost_usd`` sums its ended attempts; a running trial adds its current attempt's
time so far at the hourly price recorded when it started. A trial with an unpriced attempt
(``unpriced``) adds nothing and is counted apart. A study whose trials carry no prices at all
(the local backend) has no cost: ``usd`` is None.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from optuna.trial import FrozenTrial, TrialState

from hpo import attrs
from hpo.attrs import Stage


@dataclass(frozen=True)
class CostTotals:
    """Dollars and GPU hours spent by a study's trials."""

    usd: float | None  # None: no trial carries a price (local backend)
    unpriced: int  # trials with an attempt whose price is unknown (not in ``usd``)
    gpu_hours: float | None


def _number(value: object) -> float | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    return float(value) if ok else None  # type: ignore[arg-type]


def running_extra(trial: FrozenTrial, now: float) -> tuple[float, float]:
    """Hours the current attempt of a RUNNING trial has run, and its hourly price (0 if none)."""
    ua = trial.user_attrs
    running = trial.state == TrialState.RUNNING and ua.get(attrs.STAGE) == Stage.RUNNING.value
    started = _number(ua.get(attrs.STARTED_AT))
    if not running or started is None:
        return 0.0, 0.0
    return max(0.0, now - started) / 3600.0, _number(ua.get(attrs.USD_PER_HOUR)) or 0.0


def trial_cost(trial: FrozenTrial, now: float) -> float | None:
    """One trial's dollars so far (None: unpriced, or no price at all)."""
    ua = trial.user_attrs
    if attrs.UNPRICED in ua:
        return None
    spent = _number(ua.get(attrs.COST_USD))
    hours, price = running_extra(trial, now)
    if spent is None and attrs.PRICE_SOURCE not in ua:
        return None
    if hours and attrs.USD_PER_HOUR not in ua:
        return None  # the running attempt is unpriced
    return (spent or 0.0) + hours * price


def cost_totals(trials: Sequence[FrozenTrial], now: float, gpus: int = 0) -> CostTotals:
    """The study's totals as of ``now`` (``gpus`` per job adds running GPU hours)."""
    usd, unpriced, priced, gpu_hours, any_gpu = 0.0, 0, False, 0.0, False
    for t in trials:
        ua = t.user_attrs
        priced = priced or attrs.COST_USD in ua or attrs.UNPRICED in ua or attrs.PRICE_SOURCE in ua
        cost = trial_cost(t, now)
        if cost is not None:
            usd += cost
        elif attrs.UNPRICED in ua or attrs.PRICE_SOURCE in ua:
            unpriced += 1
        if attrs.GPU_HOURS in ua:
            any_gpu = True
            gpu_hours += _number(ua.get(attrs.GPU_HOURS)) or 0.0
        gpu_hours += running_extra(t, now)[0] * gpus
    return CostTotals(round(usd, 6) if priced else None, unpriced,
                      round(gpu_hours, 6) if any_gpu or gpus else None)  # fmt: skip


def compute_spent(trials: Sequence[FrozenTrial], now: float) -> float:
    """Recorded compute seconds of all trials, plus the running jobs' time so far."""
    total = 0.0
    for t in trials:
        ua = t.user_attrs
        total += float(ua.get(attrs.COMPUTE_SECONDS) or 0.0)
        running = t.state == TrialState.RUNNING and ua.get(attrs.STAGE) == Stage.RUNNING.value
        if running and ua.get(attrs.STARTED_AT) is not None:
            total += max(0.0, now - float(ua[attrs.STARTED_AT]))
    return total


def compute_saved(trials: Sequence[FrozenTrial], key: str = attrs.COMPUTE_SECONDS) -> float | None:
    """Compute seconds (or, with ``key`` ``cost_usd``, dollars) pruning saved: for each PRUNED
    trial, what a full-budget trial typically cost (the median over COMPLETE trials that
    reached the largest step) minus what it spent.

    Comparing whole-trial costs keeps fixed start-up time (imports, data loading, container
    start) out of the saving, which a per-step extrapolation would multiply. ``None`` when no
    COMPLETE trial reported steps, so there is no full-budget cost to compare with.
    """
    full_step = max(
        (max(t.intermediate_values) for t in trials if _finished_with_steps(t)),
        default=None,
    )
    full_costs = [
        float(t.user_attrs.get(key) or 0.0)
        for t in trials
        if _finished_with_steps(t) and max(t.intermediate_values) == full_step
    ]
    full_costs = [cost for cost in full_costs if cost > 0]
    if not full_costs:
        return None
    typical = statistics.median(full_costs)
    return sum(
        max(0.0, typical - float(t.user_attrs.get(key) or 0.0))
        for t in trials
        if t.state == TrialState.PRUNED and (key == attrs.COMPUTE_SECONDS or key in t.user_attrs)
    )


def _finished_with_steps(trial: FrozenTrial) -> bool:
    return trial.state == TrialState.COMPLETE and bool(trial.intermediate_values)
