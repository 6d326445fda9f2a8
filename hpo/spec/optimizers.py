"""Sampler and pruner sections of the study file: tagged unions on ``type``.

Each variant maps one-to-one onto an Optuna sampler or pruner (built in :mod:`hpo.spec.build`)
and carries only the options that are safe to set from a file.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from hpo.spec.base import SpecModel as _Model

# --------------------------------------------------------------------------- samplers


class _Sampler(_Model):
    seed: int | None = None


class AutoSamplerSpec(_Sampler):
    """hpo picks GP or TPE for the study's shape (``hpo.sampling.auto``)."""

    type: Literal["auto"] = "auto"


class TPESamplerSpec(_Sampler):
    type: Literal["tpe"] = "tpe"
    n_startup_trials: int = Field(10, ge=0)
    n_ei_candidates: int = Field(24, ge=1)
    multivariate: bool = True
    constant_liar: bool = True
    group: bool = False


class GPSamplerSpec(_Sampler):
    """hpo's GP sampler (numpy and scipy; running trials as pending points)."""

    type: Literal["gp"]
    n_startup_trials: int = Field(10, ge=0)
    deterministic_objective: bool = False


class OptunaGPSamplerSpec(_Sampler):
    """Optuna's ``GPSampler`` (qLogEI; needs torch: ``pip install 'hpo[optuna-gp]'``)."""

    type: Literal["optuna_gp"]
    n_startup_trials: int = Field(10, ge=0)
    deterministic_objective: bool = False


class CmaEsSamplerSpec(_Sampler):
    type: Literal["cmaes"]
    n_startup_trials: int = Field(1, ge=0)
    sigma0: float | None = Field(None, gt=0)
    with_margin: bool = False


class RandomSamplerSpec(_Sampler):
    type: Literal["random"]


class QMCSamplerSpec(_Sampler):
    type: Literal["qmc"]
    qmc_type: Literal["sobol", "halton"] = "sobol"
    scramble: bool = True


class NSGAIISamplerSpec(_Sampler):
    type: Literal["nsga2"]
    population_size: int = Field(50, ge=2)
    mutation_prob: float | None = Field(None, ge=0, le=1)
    crossover_prob: float = Field(0.9, ge=0, le=1)


class GridSamplerSpec(_Sampler):
    type: Literal["grid"]


SamplerSpec = Annotated[
    AutoSamplerSpec
    | TPESamplerSpec
    | GPSamplerSpec
    | OptunaGPSamplerSpec
    | CmaEsSamplerSpec
    | RandomSamplerSpec
    | QMCSamplerSpec
    | NSGAIISamplerSpec
    | GridSamplerSpec,
    Field(discriminator="type"),
]


# --------------------------------------------------------------------------- pruners


class NoPrunerSpec(_Model):
    type: Literal["none"]


class MedianPrunerSpec(_Model):
    type: Literal["median"]
    n_startup_trials: int = Field(5, ge=0)
    n_warmup_steps: int = Field(0, ge=0)
    interval_steps: int = Field(1, ge=1)
    n_min_trials: int = Field(1, ge=1)


class PercentilePrunerSpec(MedianPrunerSpec):
    type: Literal["percentile"]  # type: ignore[assignment]
    percentile: float = Field(ge=0, le=100)


class SuccessiveHalvingPrunerSpec(_Model):
    type: Literal["successive_halving"]
    min_resource: int | Literal["auto"] = "auto"
    reduction_factor: int = Field(4, ge=2)
    min_early_stopping_rate: int = Field(0, ge=0)
    bootstrap_count: int = Field(0, ge=0)


class HyperbandPrunerSpec(_Model):
    type: Literal["hyperband"]
    min_resource: int = Field(1, ge=1)
    max_resource: int | Literal["auto"] = "auto"
    reduction_factor: int = Field(3, ge=2)
    bootstrap_count: int = Field(0, ge=0)


class PatientPrunerSpec(_Model):
    type: Literal["patient"]
    patience: int = Field(ge=0)
    min_delta: float = Field(0.0, ge=0)
    wrapped: (
        Annotated[
            NoPrunerSpec
            | MedianPrunerSpec
            | PercentilePrunerSpec
            | SuccessiveHalvingPrunerSpec
            | HyperbandPrunerSpec,
            Field(discriminator="type"),
        ]
        | None
    ) = None


PrunerSpec = Annotated[
    NoPrunerSpec
    | MedianPrunerSpec
    | PercentilePrunerSpec
    | SuccessiveHalvingPrunerSpec
    | HyperbandPrunerSpec
    | PatientPrunerSpec,
    Field(discriminator="type"),
]
