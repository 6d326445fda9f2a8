"""Optuna's TPE with a per-trial cache, so that one ask stays cheap on a long study.

``TPESampler`` rebuilds two things from every trial of the study on every ask: each trial's
parameters in internal (numeric) form, and its class and ranking key for the below/above
split. Both are Python loops over all trials (about 120 ms of the 160 ms an ask costs at
10,000 trials with 1,000 running, see ``benchmarks/README.md``). Neither can change once it
is known: a parameter cannot be set twice, and a finished trial's state, value, constraints
and intermediate values are final. :class:`CachingTPESampler` computes them once per trial
and otherwise runs Optuna's own code, so its proposals are the same as ``TPESampler``'s for
the same seed and history (``tests/test_tpe_cache.py`` checks that, parameter for parameter).

It relies on ``TPESampler``'s private ``_sample`` / ``_get_internal_repr`` split, which is
stable across Optuna 4.x-5.x; ``pyproject.toml`` pins ``optuna<6`` for that reason.
"""

from __future__ import annotations

import heapq
import operator
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
from optuna.distributions import BaseDistribution
from optuna.samplers import TPESampler
from optuna.samplers._tpe.sampler import (
    _get_infeasible_trial_score,
    _get_pruned_trial_score,
    default_gamma,
)
from optuna.study import Study, StudyDirection
from optuna.trial import FrozenTrial, TrialState

_MAX_SPACES = 64  # independent sampling asks once per parameter: one cache per space
_RUNNING = ("running", 0)
_NUMBER = operator.attrgetter("_number")  # FrozenTrial.number without the property call
_MISSING = 2**62  # index entry of a finished trial that lacks a parameter of the space


class _Rows:
    """Internal values of trials for one search space: a growing matrix, one row per trial.

    A row is kept once a trial's parameters in the space are all set (or it finished without
    one); a running trial still missing one (its relative params are provisional) gets a row
    for this call only.
    """

    def __init__(self, space: dict[str, BaseDistribution]) -> None:
        self._space = list(space.items())
        self._matrix = np.empty((1024, len(self._space)))
        self._index: dict[int, int] = {}  # trial id -> kept row or _MISSING
        self._kept = 0

    def arrays(self, trials: Sequence[FrozenTrial], params_of: Any) -> dict[str, np.ndarray]:
        """``{param: values}`` over ``trials`` that have every parameter, in their order."""
        picked: list[int] = []  # kept row, or -(k + 1) for the k-th scratch row
        scratch: list[list[float]] = []
        for trial in trials:
            row = self._index.get(trial._trial_id)
            if row is None:
                final = trial.state.is_finished() or self._complete(trial.params)
                values = self._values(trial.params if final else params_of(trial))
                if final:
                    row = self._keep(trial._trial_id, values)
                elif values is not None:
                    scratch.append(values)
                    row = -len(scratch)
                else:
                    continue
            if row != _MISSING:
                picked.append(row)
        matrix = self._matrix[: self._kept]
        index = np.asarray(picked, dtype=np.intp)
        if scratch:
            matrix = np.vstack([matrix, np.asarray(scratch, dtype=float)])
            index[index < 0] = self._kept - 1 - index[index < 0]
        rows = matrix[index]
        return {name: rows[:, j] for j, (name, _) in enumerate(self._space)}

    def _complete(self, params: dict[str, Any]) -> bool:
        return all(name in params for name, _ in self._space)

    def _values(self, params: dict[str, Any]) -> list[float] | None:
        if not self._complete(params):
            return None
        return [dist.to_internal_repr(params[name]) for name, dist in self._space]

    def _keep(self, trial_id: int, values: list[float] | None) -> int:
        if values is None:
            self._index[trial_id] = _MISSING
            return _MISSING
        if self._kept == len(self._matrix):
            self._matrix = np.vstack([self._matrix, np.empty_like(self._matrix)])
        row = self._kept
        self._matrix[row] = values
        self._index[trial_id] = row
        self._kept += 1
        return row


class CachingTPESampler(TPESampler):
    """``TPESampler`` (same arguments, same proposals) with per-trial work done once."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._rows: OrderedDict[Hashable, _Rows] = OrderedDict()
        self._ranks: dict[int, tuple[str, Any]] = {}  # finished trial id -> (class, sort key)
        self._scope: tuple[object, int] | None = None  # trial ids are unique per storage

    def _enter(self, study: Study) -> None:
        """Drop the caches when this sampler moves to another study."""
        scope = (study._storage, study._study_id)
        if self._scope is None or scope[0] is not self._scope[0] or scope[1] != self._scope[1]:
            self._rows.clear()
            self._ranks.clear()
            self._scope = scope

    def _get_internal_repr(
        self, trials: list[FrozenTrial], search_space: dict[str, BaseDistribution], study: Study
    ) -> dict[str, np.ndarray]:
        self._enter(study)
        key = tuple(search_space.items())
        rows = self._rows.get(key)
        if rows is None:
            rows = self._rows[key] = _Rows(search_space)
            if len(self._rows) > _MAX_SPACES:
                self._rows.popitem(last=False)
        else:
            self._rows.move_to_end(key)
        return rows.arrays(trials, lambda t: self._get_params(t, study))

    def _sample(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        if study._is_multi_objective():  # its split ranks trials jointly: nothing to cache
            return super()._sample(study, trial, search_space)
        states = [TrialState.COMPLETE, TrialState.PRUNED]
        if self._constant_liar:
            states.append(TrialState.RUNNING)
        trials = study._get_trials(deepcopy=False, states=states, use_cache=not self._constant_liar)
        if self._constant_liar:
            trials = [t for t in trials if t._trial_id != trial._trial_id]
        if self._gamma is None:
            self._gamma = default_gamma
        self._enter(study)
        below, above = self._split(study, trials)

        mpe_below = self._build_parzen_estimator(study, search_space, below, handle_below=True)
        mpe_above = self._build_parzen_estimator(study, search_space, above, handle_below=False)
        samples_below = mpe_below.sample(self._rng.rng, self._n_ei_candidates)
        acq_func_vals = self._compute_acquisition_func(samples_below, mpe_below, mpe_above)
        ret = TPESampler._compare(samples_below, acq_func_vals)
        for param_name, dist in search_space.items():
            ret[param_name] = dist.to_external_repr(ret[param_name])
        return ret

    def _split(
        self, study: Study, trials: list[FrozenTrial]
    ) -> tuple[list[FrozenTrial], list[FrozenTrial]]:
        """Optuna's single-objective ``_split_trials``: the ``gamma(n)`` best finished trials
        (complete by value, then pruned by last step and value, then infeasible) are below,
        the rest and all running trials above, each list by trial number."""
        groups: dict[str, list[tuple[Any, int]]] = {"complete": [], "pruned": [], "infeasible": []}
        ranks, running = self._ranks, 0
        for position, t in enumerate(trials):
            kind, rank = ranks.get(t._trial_id) or self._rank(t, study)
            if kind == "running":
                running += 1
            else:
                groups[kind].append((rank, position))
        n_below = self._gamma(len(trials) - running)
        chosen: set[int] = set()
        for kind in ("complete", "pruned", "infeasible"):
            take = min(max(0, n_below - len(chosen)), len(groups[kind]))
            chosen.update(p for _, p in heapq.nsmallest(take, groups[kind], key=_first))
        below = [trials[p] for p in sorted(chosen)]
        above = [t for p, t in enumerate(trials) if p not in chosen]
        below.sort(key=_NUMBER)
        above.sort(key=_NUMBER)
        return below, above

    def _rank(self, trial: FrozenTrial, study: Study) -> tuple[str, Any]:
        cached = self._ranks.get(trial._trial_id)
        if cached is not None:
            return cached
        if trial.state == TrialState.RUNNING:
            return _RUNNING
        infeasible = _get_infeasible_trial_score(trial)
        if infeasible > 0:
            rank: tuple[str, Any] = ("infeasible", infeasible)
        elif trial.state == TrialState.COMPLETE:
            value = trial.value if study.direction == StudyDirection.MINIMIZE else -trial.value
            rank = ("complete", value)
        else:
            rank = ("pruned", _get_pruned_trial_score(trial, study))
        self._ranks[trial._trial_id] = rank
        return rank


def _first(pair: tuple[Any, int]) -> Any:
    return pair[0]
