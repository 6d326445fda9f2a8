"""hpo's GP sampler: Bayesian optimisation that keeps its quality with many trials in flight.

Each ask fits a Gaussian process (:mod:`hpo.sampling.gp_model`) to the finished trials and
maximises log expected improvement (:mod:`hpo.sampling.gp_acquisition`) with the running
trials as pending points, so 32 asks in a row spread over the space instead of piling onto
one optimum (the kriging believer). It needs only numpy and scipy.

Until ``n_startup_trials`` results are in, trials come from a scrambled Sobol sequence
indexed by trial number, so parallel start-up trials cover the space evenly and a resumed
study continues the sequence instead of repeating it. The random numbers of each later ask
are derived from the seed and the trial's number for the same reason.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler, RandomSampler
from optuna.search_space import IntersectionSearchSpace
from optuna.study import Study, StudyDirection
from optuna.trial import FrozenTrial, TrialState
from scipy import stats
from threadpoolctl import ThreadpoolController

from hpo.sampling import gp_acquisition, gp_model
from hpo.sampling.gp_space import UnitSpace

_REFIT_GROWTH = 1.1  # refit the kernel once the history grew by 10% (always below 64 trials)
_ALWAYS_REFIT_BELOW = 64


class GPSampler(BaseSampler):
    """Single-objective GP-based BO with running trials as pending points (see module)."""

    def __init__(
        self,
        *,
        seed: int | None = None,
        n_startup_trials: int = 10,
        deterministic_objective: bool = False,
        search_space: Mapping[str, BaseDistribution] | None = None,
    ) -> None:
        self._seed = seed if seed is not None else int(np.random.SeedSequence().entropy % 2**31)
        self._n_startup = n_startup_trials
        self._deterministic = deterministic_objective
        self._fixed_space = dict(search_space) if search_space is not None else None
        self._intersection = IntersectionSearchSpace()
        self._independent = RandomSampler(seed=seed)
        self._rows: dict[int, np.ndarray] = {}  # trial number -> encoded params (immutable)
        self._space_key: tuple | None = None
        self._hyper: gp_model.Hyper | None = None
        self._fitted_at = 0
        self._constraint_hyper: dict[str, gp_model.Hyper] = {}
        self._threads = ThreadpoolController()

    def reseed_rng(self) -> None:
        self._seed = int(np.random.SeedSequence().entropy % 2**31)
        self._independent.reseed_rng()

    def infer_relative_search_space(
        self, study: Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        if self._fixed_space is not None:
            return self._fixed_space
        return self._intersection.calculate(study)

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        if not search_space:
            return {}
        if len(study.directions) != 1:
            raise ValueError("hpo's GP sampler optimises one objective")
        # One BLAS thread: the matrices are small, and spinning threads on a busy controller
        # host made an ask about four times slower (benchmarks/README.md).
        with self._threads.limit(limits=1, user_api="blas"):
            return self._sample(study, trial, search_space)

    def _sample(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        space = UnitSpace(search_space)
        self._reset_if_changed(search_space)
        trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.RUNNING))
        complete = [t for t in trials if t.state is TrialState.COMPLETE and _has(t, search_space)]
        pending = [t for t in trials if t.state is TrialState.RUNNING
                   and t.number != trial.number and _has(t, search_space)]  # fmt: skip
        seen = self._encode(space, complete + pending)
        if self._starting_up(len(complete)):
            return space.decode(self._startup_row(space, trial.number, seen))
        x, pending = seen[: len(complete)], seen[len(complete) :]
        y = _standardise(np.array([t.value for t in complete], dtype=float), study.direction)
        gp = self._fit(x, y, space)
        feasible, constraints = self._constraints(complete, x, space)
        if not feasible.any():
            best, incumbent = None, None
        else:
            best = float(y[feasible].max())
            incumbent = x[feasible][np.argmax(y[feasible])]
            if not constraints:
                # The kriging believer: each running trial is believed to score its posterior
                # mean. That value counts as observed, so the bar to beat rises to it; the
                # variance at the running trials' points goes (GP.with_pending), and so does
                # their improvement.
                best = max(best, float(gp.posterior(pending)[0].max(initial=-np.inf)))
        acq = gp_acquisition.Acquisition(gp.with_pending(pending), best, constraints)
        rng = np.random.default_rng([self._seed, trial.number])
        return space.decode(gp_acquisition.propose(acq, space, incumbent, seen, rng))

    def _constraints(
        self, complete: list[FrozenTrial], x: np.ndarray, space: UnitSpace
    ) -> tuple[np.ndarray, list[gp_acquisition.Constraint]]:
        """Which trials are feasible, and one GP per constraint the trials report (fitted
        to standardised violations; zero violation is the threshold)."""
        names = sorted({name for t in complete for name in t.constraints})
        if not names:
            return np.ones(len(complete), dtype=bool), []
        violations = np.array([[t.constraints.get(n, 0.0) for n in names] for t in complete])
        out = []
        for k, name in enumerate(names):
            v = violations[:, k]
            sd = v.std() if v.std() > 0 else 1.0
            hyper = self._constraint_hyper.get(name)
            fitted = gp_model.fit(x, (v - v.mean()) / sd, space.categorical, start=hyper,
                                  deterministic=self._deterministic)  # fmt: skip
            self._constraint_hyper[name] = fitted.hyper
            out.append(gp_acquisition.Constraint(fitted, float(-v.mean() / sd)))
        return np.all(violations <= 0, axis=1), out

    def sample_independent(
        self,
        study: Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        return self._independent.sample_independent(study, trial, param_name, param_distribution)

    def after_trial(
        self,
        study: Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        return None

    # ------------------------------------------------------------------ internals

    def _reset_if_changed(self, search_space: dict[str, BaseDistribution]) -> None:
        key = tuple((name, repr(dist)) for name, dist in search_space.items())
        if key != self._space_key:
            self._space_key, self._rows, self._hyper, self._fitted_at = key, {}, None, 0

    def _encode(self, space: UnitSpace, trials: list[FrozenTrial]) -> np.ndarray:
        rows = []
        for t in trials:
            row = self._rows.get(t.number)
            if row is None:
                row = space.encode(t.params)
                self._rows[t.number] = row
            rows.append(row)
        return np.array(rows).reshape(len(rows), space.dim)

    def _starting_up(self, n_complete: int) -> bool:
        """Whether the next trial still belongs to the start-up design: until
        ``n_startup_trials`` results are in. Proposing from the GP once 3 results were in
        (with the running trials as pending points) was measured and not taken: better on
        SVC, worse on Hartmann-6 and Styblinski-Tang at 32 in flight (``benchmarks/README.md``)."""
        return n_complete < max(1, self._n_startup)

    def _startup_row(self, space: UnitSpace, number: int, seen: np.ndarray) -> np.ndarray:
        """The Sobol point of this trial number, or a later one where a grid made it a repeat
        (then uniform draws: a small grid may have no unseen Sobol point nearby)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # Sobol prefers powers of two
            rows = space.sobol(8, seed=self._seed, skip=number)
        rng = np.random.default_rng([self._seed, number])
        rows = np.vstack([rows, space.from_uniform(rng.random((64, space.dim)))])
        for row in rows:
            if not gp_acquisition.is_seen(row, seen):
                return row
        return rows[0]

    def _fit(self, x: np.ndarray, y: np.ndarray, space: UnitSpace) -> gp_model.GP:
        n = len(y)
        if self._hyper is None or n < _ALWAYS_REFIT_BELOW or n >= _REFIT_GROWTH * self._fitted_at:
            gp = gp_model.fit(x, y, space.categorical, start=self._hyper,
                              deterministic=self._deterministic)  # fmt: skip
            self._hyper, self._fitted_at = gp.hyper, n
            return gp
        return gp_model.GP(x, y, self._hyper, space.categorical)


def _has(trial: FrozenTrial, space: Mapping[str, BaseDistribution]) -> bool:
    params = trial.params
    return all(name in params for name in space)


def _standardise(values: np.ndarray, direction: StudyDirection) -> np.ndarray:
    """Values as a maximisation target, warped towards a normal shape and standardised.

    The Yeo-Johnson power transform (fitted by maximum likelihood on each ask) pulls in the
    long tail that most objectives have (a few diverged or poor trials far from the rest), so
    the GP spends its resolution where the good trials are. Measured at 32 in flight, 6
    seeds: Hartmann-6 left its local optimum in 5 of 6 studies instead of 2 of 6, and the
    other problems improved too (``benchmarks/README.md``). Infinities are clipped first."""
    y = -values if direction == StudyDirection.MINIMIZE else values.copy()
    finite = y[np.isfinite(y)]
    if len(finite) == 0:
        return np.zeros_like(y)
    y = np.clip(np.nan_to_num(y, nan=finite.min()), finite.min(), finite.max())
    if y.std() > 0:
        y = stats.yeojohnson((y - y.mean()) / y.std())[0]
    sd = y.std()
    return (y - y.mean()) / (sd if sd > 0 else 1.0)
