"""``sampler: {type: auto}``: GP-based BO where it measures best, TPE where TPE does.

The choice is made once per study from the study file (:func:`choose`), written to the
study's user attributes with its reason, and read back on every resume, so a study keeps
the sampler it started with even if a later hpo would choose differently. A GP study hands
over to TPE once its history reaches :data:`GP_MAX_TRIALS` finished trials, where a GP ask
gets slow (see ``benchmarks/README.md``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution
from optuna.samplers import BaseSampler
from optuna.study import Study
from optuna.trial import FrozenTrial, TrialState

GP_MAX_TRIALS = 1000  # finished trials; a GP ask then costs about 0.3 s with 64 running
FEW_LEVELS = 10  # a parameter with fewer values is handled like a categorical


@dataclass(frozen=True)
class Choice:
    """What ``auto`` runs and why; ``tpe_after`` finished trials, TPE takes over."""

    sampler: str  # "gp" or "tpe"
    reason: str
    tpe_after: int | None = None

    def as_attr(self) -> dict[str, Any]:
        return {"type": "auto", **asdict(self)}

    @staticmethod
    def from_attr(value: object) -> Choice | None:
        """The choice stored by an earlier run, or ``None`` if there is none (or it is not
        one this hpo can read)."""
        if not isinstance(value, dict) or value.get("sampler") not in ("gp", "tpe"):
            return None
        after = value.get("tpe_after")
        return Choice(str(value["sampler"]), str(value.get("reason", "")),
                      int(after) if isinstance(after, int) else None)  # fmt: skip

    def describe(self) -> str:
        switch = f", TPE after {self.tpe_after} finished trials" if self.tpe_after else ""
        return f"auto -> {self.sampler} ({self.reason}{switch})"


def levels(dist: BaseDistribution) -> float:
    """How many values a parameter can take (infinite for a continuous float)."""
    if isinstance(dist, CategoricalDistribution):
        return len(dist.choices)
    if isinstance(dist, FloatDistribution) and dist.step is None:
        return math.inf
    step = dist.step or 1  # type: ignore[attr-defined]
    return math.floor((dist.high - dist.low) / step + 1e-9) + 1  # type: ignore[attr-defined]


def choose(
    space: Mapping[str, BaseDistribution],
    n_objectives: int,
    n_trials: int,
    *,
    conditional: bool = False,
) -> Choice:
    """The sampler ``auto`` runs for a study of this shape.

    TPE for several objectives, for conditional spaces (TPE's ``group`` models which
    parameters occur together), and for spaces where more than half of the parameters are
    categorical or take fewer than :data:`FEW_LEVELS` values: a GP models an ordered,
    smooth response, and on such spaces TPE measured better (``benchmarks/README.md``)."""
    if n_objectives > 1:
        return Choice("tpe", f"{n_objectives} objectives; hpo's GP optimises one")
    if conditional:
        return Choice("tpe", "conditional parameters ('when'); TPE with group")
    coarse = sum(levels(d) < FEW_LEVELS for d in space.values())
    if 2 * coarse > len(space):
        why = f"{coarse} of {len(space)} parameters categorical or with under {FEW_LEVELS} values"
        return Choice("tpe", why)
    fine = len(space) - coarse
    reason = (
        f"{fine} of {len(space)} parameters continuous or with {FEW_LEVELS}+ values, one objective"
    )
    return Choice("gp", reason, GP_MAX_TRIALS if n_trials > GP_MAX_TRIALS else None)


class AutoSampler(BaseSampler):
    """Delegates each trial to the GP or the TPE sampler, as ``choice`` says."""

    def __init__(self, choice: Choice, *, gp: BaseSampler, tpe: BaseSampler) -> None:
        self.choice = choice
        self._gp, self._tpe = gp, tpe
        self._by_trial: dict[int, BaseSampler] = {}

    def active(self, study: Study) -> BaseSampler:
        """The sampler for the next trial of ``study``."""
        if self.choice.sampler != "gp":
            return self._tpe
        if self.choice.tpe_after is not None:
            done = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
            if done >= self.choice.tpe_after:
                return self._tpe
        return self._gp

    def _for(self, study: Study, trial: FrozenTrial) -> BaseSampler:
        sampler = self._by_trial.get(trial.number)
        if sampler is None:
            sampler = self._by_trial[trial.number] = self.active(study)
        return sampler

    def reseed_rng(self) -> None:
        self._gp.reseed_rng()
        self._tpe.reseed_rng()

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        self._for(study, trial).before_trial(study, trial)

    def infer_relative_search_space(
        self, study: Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        return self._for(study, trial).infer_relative_search_space(study, trial)

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        return self._for(study, trial).sample_relative(study, trial, search_space)

    def sample_independent(
        self,
        study: Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        sampler = self._for(study, trial)
        return sampler.sample_independent(study, trial, param_name, param_distribution)

    def after_trial(
        self,
        study: Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        sampler = self._by_trial.pop(trial.number, None) or self.active(study)
        sampler.after_trial(study, trial, state, values)
