"""Grid search under ask-and-tell: Optuna's grid sampler, minus its ``study.stop()``."""

from __future__ import annotations

from collections.abc import Sequence

import optuna
from optuna.trial import FrozenTrial, TrialState


class GridSampler(optuna.samplers.GridSampler):
    """Optuna's ``GridSampler`` whose ``after_trial`` does not call ``study.stop()``.

    That call is valid only inside ``study.optimize()``; under ask-and-tell it raises once
    the grid is covered. hpo stops asking instead: the controller's budget never starts
    more trials than the grid has points (``hpo.spec.build.grid_size``).
    """

    def after_trial(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        return None
