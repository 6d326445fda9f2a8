"""Every use of Optuna's private API in hpo, in this one module (Optuna ``SUPPORTED``).

Optuna has no public way to do these, so hpo reaches inside here and nowhere else
(``tests/test_public_optuna.py`` fails on a private Optuna name anywhere else in ``hpo/``):

- a study's storage and its identity (storage, study id): the journal group commit of
  :mod:`hpo.storage` and the scope of the TPE cache;
- a trial's storage id, and a live ``Trial`` reopened from a stored one (a resumed
  controller tells the trials an earlier one asked; ``hpo logs -f`` re-reads one trial);
- a journal storage's backend (the group-commit file of :mod:`hpo.storage`);
- a study's cached trial list, as Optuna's samplers read it (no storage round trip);
- TPE's per-ask step and the pieces of it that :mod:`hpo.sampling.tpe` reuses: the Parzen
  estimator, the scores Optuna ranks pruned and infeasible trials by, gamma, the
  acquisition and the pick of the best candidate.

An Optuna upgrade is an audit of this file and a run of ``tests/test_optuna_internals.py``;
``SUPPORTED`` is the range ``pyproject.toml`` pins, and those tests check that they agree.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Container
from typing import Any

import numpy as np
from optuna.distributions import BaseDistribution
from optuna.samplers import TPESampler
from optuna.samplers._tpe.parzen_estimator import _ParzenEstimator
from optuna.samplers._tpe.sampler import (
    _get_infeasible_trial_score,
    _get_pruned_trial_score,
    default_gamma,
)
from optuna.storages import BaseStorage
from optuna.storages.journal import BaseJournalBackend, JournalStorage
from optuna.study import Study
from optuna.trial import FrozenTrial, Trial, TrialState

SUPPORTED = ">=5.0,<6"  # the Optuna versions this module is written against

ParzenEstimator = _ParzenEstimator  # TPE's mixture of truncated kernels over observations

# ---------------------------------------------------------------------- studies and trials

trial_id: Callable[[FrozenTrial | Trial], int] = operator.attrgetter("_trial_id")
"""A trial's id in its storage (unique per storage, unlike its number). C-speed: the TPE
cache calls it for every trial on every ask."""


def storage_of(study: Study) -> BaseStorage:
    """The storage a study reads and writes."""
    return study._storage


def study_key(study: Study) -> tuple[BaseStorage, int]:
    """What identifies a study: its storage object and its id there."""
    return study._storage, study._study_id


def reopen_trial(study: Study, frozen: FrozenTrial) -> Trial:
    """A live ``Trial`` for a stored RUNNING trial, to report to and tell as ``ask`` gives."""
    return Trial(study, frozen._trial_id)


def cached_trials(
    study: Study, states: Container[TrialState] | None = None, *, use_cache: bool = True
) -> list[FrozenTrial]:
    """The study's trials as Optuna's samplers read them: not copied and, with ``use_cache``,
    without asking the storage again for the finished ones."""
    return study._get_trials(deepcopy=False, states=states, use_cache=use_cache)


def journal_backend(storage: BaseStorage) -> BaseJournalBackend | None:
    """The log backend of a journal storage (``None`` for other storages)."""
    return storage._backend if isinstance(storage, JournalStorage) else None


# ---------------------------------------------------------------------- TPE


def infeasible_score(trial: FrozenTrial) -> float:
    """How far a trial misses its constraints (0: feasible), as TPE ranks it."""
    return _get_infeasible_trial_score(trial)


def pruned_score(trial: FrozenTrial, study: Study) -> tuple[float, float]:
    """A pruned trial's ranking key in TPE (lower is better): last step, then its value."""
    return _get_pruned_trial_score(trial, study)


class HookedTPESampler(TPESampler):
    """Optuna's ``TPESampler`` whose per-ask step (its private ``_sample``) is :meth:`step`,
    with that step's settings and pieces under public names, for a subclass that does the
    step faster on the same inputs (:class:`hpo.sampling.tpe.CachingTPESampler`)."""

    def _sample(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        return self.step(study, trial, search_space)

    def step(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        """One proposal for ``search_space`` (Optuna's own unless a subclass overrides it)."""
        return self.optuna_step(study, trial, search_space)

    def optuna_step(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        """Optuna's own step, for the cases a subclass leaves to it."""
        return super()._sample(study, trial, search_space)

    @property
    def constant_liar(self) -> bool:
        """Whether running trials count as observations (as if they were bad)."""
        return self._constant_liar

    def intersection_space(self, study: Study) -> bool:
        """Whether the relative search space is the intersection of the finished trials'
        spaces (multivariate without ``group``), the space the TPE cache keeps."""
        return not self._group and self._is_multivariate(study)

    def gamma(self) -> Callable[[int], int]:
        """How many of ``n`` finished trials are "below" (single objective)."""
        if self._gamma is None:
            self._gamma = default_gamma
        return self._gamma

    def parzen_estimator(
        self, observations: dict[str, np.ndarray], search_space: dict[str, BaseDistribution]
    ) -> ParzenEstimator:
        """Optuna's Parzen estimator over ``observations`` (internal values, by trial number)."""
        return self._parzen_estimator_cls(
            observations, search_space, self._parzen_estimator_parameters
        )

    def pick(self, below: ParzenEstimator, above: ParzenEstimator) -> dict[str, int | float]:
        """The candidate Optuna proposes: ``n_ei_candidates`` samples of ``below`` (from the
        sampler's random state), the best by ``below``/``above`` likelihood; internal values."""
        samples = below.sample(self._rng.rng, self._n_ei_candidates)
        acquisition = self._compute_acquisition_func(samples, below, above)
        return TPESampler._compare(samples, acquisition)


__all__ = [
    "SUPPORTED",
    "HookedTPESampler",
    "ParzenEstimator",
    "cached_trials",
    "infeasible_score",
    "journal_backend",
    "pruned_score",
    "reopen_trial",
    "storage_of",
    "study_key",
    "trial_id",
]
