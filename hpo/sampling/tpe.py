"""Optuna's TPE with per-trial work cached, so that one ask stays cheap on a long study.

``TPESampler`` rebuilds two things from every trial of the study on every ask: each trial's
parameters in internal (numeric) form, and its class and ranking key for the below/above
split. Both are Python loops over all trials (about 120 ms of the 160 ms an ask costs at
10,000 trials with 1,000 running, see ``benchmarks/README.md``). Neither can change once it
is known: a parameter cannot be set twice, and a finished trial's state, value, constraints
and intermediate values are final. :class:`CachingTPESampler` keeps both in numpy arrays,
one slot per trial, and does the split and the gathering of observations as array
operations; the Parzen estimators, the candidates and the acquisition are Optuna's own code
on the same inputs, so the proposals are the same as ``TPESampler``'s for the same seed and
history (``tests/test_tpe_cache.py`` checks that, parameter for parameter).

The relative search space (the intersection of the finished trials' distributions) is kept
the same way. Multi-objective studies, ``group``, and a running trial whose parameters are not
all set yet take Optuna's own path. The step it replaces and the pieces of Optuna it reuses
are private to Optuna: :class:`hpo.optuna_internals.HookedTPESampler` holds them.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
from optuna.distributions import BaseDistribution
from optuna.study import Study, StudyDirection
from optuna.trial import FrozenTrial, TrialState

from hpo.optuna_internals import (
    HookedTPESampler,
    ParzenEstimator,
    cached_trials,
    infeasible_score,
    pruned_score,
    study_key,
    trial_id,
)

# Trial classes in the order Optuna fills the "below" group; running trials are always above.
COMPLETE, PRUNED, INFEASIBLE, RUNNING = 0, 1, 2, 3
_UNKNOWN, _MISSING = -2, -1  # row of a slot: not looked at yet / lacks a parameter


def _grow(array: np.ndarray, size: int, fill: float = 0) -> np.ndarray:
    if size <= len(array):
        return array
    grown = np.full((max(size, 2 * len(array)), *array.shape[1:]), fill, dtype=array.dtype)
    grown[: len(array)] = array
    return grown


class _Ledger:
    """Each trial's class and ranking key for the split, one slot per trial of one study."""

    def __init__(self) -> None:
        self._slot: dict[int, int] = {}
        self.kind = np.empty(1024, dtype=np.int8)
        self.key = np.empty((1024, 2))  # sort key within the class, ascending
        self.number = np.empty(1024, dtype=np.int64)
        self.size = 0

    def slots(self, trials: list[FrozenTrial], study: Study) -> np.ndarray:
        """The slot of each trial; classifies new trials and re-checks running ones."""
        get = self._slot.get
        slots = np.array([get(trial_id(t), -1) for t in trials], dtype=np.intp)
        stale = slots < 0
        stale[~stale] = self.kind[slots[~stale]] == RUNNING
        for i in np.flatnonzero(stale):
            slots[i] = self._record(trials[i], study, int(slots[i]))
        return slots

    def _record(self, trial: FrozenTrial, study: Study, slot: int) -> int:
        if slot < 0:
            slot = self.size
            self.size += 1
            self.kind = _grow(self.kind, self.size)
            self.key = _grow(self.key, self.size)
            self.number = _grow(self.number, self.size)
            self._slot[trial_id(trial)] = slot
            self.number[slot] = trial.number
        self.kind[slot], self.key[slot] = _classify(trial, study)
        return slot


def _classify(trial: FrozenTrial, study: Study) -> tuple[int, tuple[float, float]]:
    """Optuna's ``_split_trials`` classes and keys (lower is better within a class)."""
    if trial.state == TrialState.RUNNING:
        return RUNNING, (0.0, 0.0)
    infeasible = infeasible_score(trial)
    if infeasible > 0:
        return INFEASIBLE, (infeasible, 0.0)
    if trial.state == TrialState.COMPLETE:
        value = trial.value if study.direction == StudyDirection.MINIMIZE else -trial.value
        return COMPLETE, (value, 0.0)
    return PRUNED, pruned_score(trial, study)


class _Rows:
    """Internal values of the trials' parameters in one search space, a row per trial."""

    def __init__(self, space: dict[str, BaseDistribution]) -> None:
        self.space = list(space.items())
        self.matrix = np.empty((1024, len(self.space)))
        self._row_of_slot = np.full(1024, _UNKNOWN, dtype=np.intp)
        self._kept = 0

    def rows(self, slots: np.ndarray, trials: list[FrozenTrial]) -> np.ndarray | None:
        """Each trial's row (``_MISSING`` without a parameter of the space); None while a
        running trial's parameters are not all set (its relative params are provisional)."""
        self._row_of_slot = _grow(self._row_of_slot, int(slots.max(initial=0)) + 1, _UNKNOWN)
        rows = self._row_of_slot[slots]
        for i in np.flatnonzero(rows == _UNKNOWN):
            trial = trials[i]
            complete = all(name in trial.params for name, _ in self.space)
            if not complete and not trial.state.is_finished():
                return None
            row = self._keep(trial.params) if complete else _MISSING
            rows[i] = self._row_of_slot[slots[i]] = row
        return rows

    def _keep(self, params: dict[str, Any]) -> int:
        if self._kept == len(self.matrix):
            self.matrix = np.vstack([self.matrix, np.empty_like(self.matrix)])
        self.matrix[self._kept] = [dist.to_internal_repr(params[n]) for n, dist in self.space]
        self._kept += 1
        return self._kept - 1


class _Intersection:
    """Optuna's ``IntersectionSearchSpace(include_pruned=True)``, folding each finished trial
    in once. Optuna's re-scans every trial newer than the oldest running one on every ask,
    which at 1,000 in flight with long-tailed durations is thousands of trials per ask."""

    _FOLDED = (TrialState.COMPLETE, TrialState.PRUNED)

    def __init__(self) -> None:
        self._seen: set[int] = set()
        self._space: dict[str, BaseDistribution] | None = None

    def calculate(self, trials: list[FrozenTrial]) -> dict[str, BaseDistribution]:
        seen, space = self._seen, self._space
        for trial in trials:
            key = trial_id(trial)
            if key in seen or trial.state not in self._FOLDED:
                continue
            seen.add(key)
            dists = trial.distributions
            if space is None:
                space = dict(dists)
            else:
                space = {name: d for name, d in space.items() if dists.get(name) == d}
        self._space = space
        return copy.deepcopy(dict(sorted((space or {}).items())))


class CachingTPESampler(HookedTPESampler):
    """``TPESampler`` (same arguments, same proposals) with per-trial work done once."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._ledger = _Ledger()
        self._rows: dict[tuple[Any, ...], _Rows] = {}
        self._intersection = _Intersection()
        self._scope: tuple[object, int] | None = None  # trial ids are unique per storage

    def _enter(self, study: Study) -> None:
        """Start fresh caches when this sampler moves to another study."""
        scope, key = self._scope, study_key(study)
        if scope is None or scope[0] is not key[0] or scope[1] != key[1]:
            self._ledger, self._rows, self._intersection = _Ledger(), {}, _Intersection()
            self._scope = key  # the storage is held, so its id cannot be reused

    def infer_relative_search_space(
        self, study: Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        if not self.intersection_space(study):
            return super().infer_relative_search_space(study, trial)
        self._enter(study)
        space = self._intersection.calculate(cached_trials(study))
        return {name: dist for name, dist in space.items() if not dist.single()}

    def step(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        if len(study.directions) > 1:  # its split ranks trials jointly
            return self.optuna_step(study, trial, search_space)
        states = [TrialState.COMPLETE, TrialState.PRUNED]
        if self.constant_liar:
            states.append(TrialState.RUNNING)
        trials = cached_trials(study, states, use_cache=not self.constant_liar)
        if self.constant_liar:
            own = trial_id(trial)
            trials = [t for t in trials if trial_id(t) != own]
        self._enter(study)
        slots = self._ledger.slots(trials, study)
        key = tuple(search_space.items())
        space_rows = self._rows.get(key)
        if space_rows is None:
            space_rows = self._rows[key] = _Rows(search_space)
        rows = space_rows.rows(slots, trials)
        if rows is None:
            return self.optuna_step(study, trial, search_space)

        below, above = self._split(slots)
        mpe_below = self._estimator(search_space, space_rows, rows, slots, below)
        mpe_above = self._estimator(search_space, space_rows, rows, slots, above)
        ret = self.pick(mpe_below, mpe_above)
        for param_name, dist in search_space.items():
            ret[param_name] = dist.to_external_repr(ret[param_name])
        return ret

    def _split(self, slots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Positions of the below and above trials: the ``gamma(n)`` best finished trials
        (complete by value, then pruned by last step and value, then infeasible, ties by
        position) are below; the rest and all running trials are above."""
        gamma = self.gamma()
        ledger = self._ledger
        kind = ledger.kind[slots]
        finished = np.flatnonzero(kind != RUNNING)
        keys = ledger.key[slots[finished]]
        order = np.lexsort((finished, keys[:, 1], keys[:, 0], kind[finished]))
        is_below = np.zeros(len(slots), dtype=bool)
        is_below[finished[order[: gamma(len(finished))]]] = True
        return np.flatnonzero(is_below), np.flatnonzero(~is_below)

    def _estimator(
        self,
        search_space: dict[str, BaseDistribution],
        space_rows: _Rows,
        rows: np.ndarray,
        slots: np.ndarray,
        positions: np.ndarray,
    ) -> ParzenEstimator:
        """Optuna's Parzen estimator over the trials at ``positions``, by trial number."""
        by_number = positions[np.argsort(self._ledger.number[slots[positions]], kind="stable")]
        picked = rows[by_number]
        observed = space_rows.matrix[picked[picked >= 0]]
        observations = {name: observed[:, j] for j, name in enumerate(search_space)}
        return self.parzen_estimator(observations, search_space)
