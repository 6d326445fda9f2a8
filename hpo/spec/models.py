"""Pydantic models of the study file (``study.yaml``).

Every model forbids unknown fields so that a typo is an error, not a silently ignored
setting (see :mod:`hpo.spec.base`). Variants are tagged unions on ``type``; the search space
lives in :mod:`hpo.spec.space`, samplers and pruners in :mod:`hpo.spec.optimizers`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from hpo.spec.base import SpecModel as _Model
from hpo.spec.optimizers import AutoSamplerSpec, NoPrunerSpec, PrunerSpec, SamplerSpec
from hpo.spec.space import (  # noqa: F401 - the search-space models are part of this module's API
    CategoricalParam,
    Choice,
    FloatParam,
    IntParam,
    Param,
    coerce_params,
    conditions_problem,
    has_conditions,
    is_active,
    params_problem,
)

Direction = Literal["minimize", "maximize"]
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


def parse_duration(value: object) -> float | None:
    """Seconds from ``90``, ``"90s"``, ``"30m"``, ``"2h"`` or ``"1d"``; ``None`` stays ``None``."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 3600, '30m' or '2h'")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(f"{value!r} is not a duration; use seconds or e.g. '30m', '2h'")
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds <= 0 or not math.isfinite(seconds):
        raise ValueError("a duration must be a positive number of seconds")
    return seconds


# --------------------------------------------------------------------------- objective


_BOUND = re.compile(r"^\s*(<=|>=)\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*$")


@dataclass(frozen=True)
class Bound:
    """One constraint of ``objective.constraints``: ``name: "<= 16"`` or ``">= 0.9"``."""

    op: Literal["<=", ">="]
    limit: float

    def violation(self, value: float) -> float:
        """Optuna's form: feasible when zero or less (how far past the limit ``value`` is)."""
        return value - self.limit if self.op == "<=" else self.limit - value


def parse_bound(text: object) -> Bound:
    match = _BOUND.match(str(text)) if isinstance(text, str | int | float) else None
    if match is None:
        raise ValueError(f"{text!r} is not a bound; write '<= 16' or '>= 0.9'")
    return Bound(match[1], float(match[2]))  # type: ignore[arg-type]


class ObjectiveSpec(_Model):
    """What the trainer's result is judged by: one metric and direction, or several, and
    optional constraints on other values the trainer reports (``trial.finish(..., constraints=
    {...})`` or ``metrics``) that a good trial must satisfy."""

    metric: str | None = None
    direction: Direction | None = None
    metrics: list[str] | None = None
    directions: list[Direction] | None = None
    constraints: dict[str, str] = Field(default_factory=dict)

    @field_validator("constraints")
    @classmethod
    def _bounds(cls, constraints: dict[str, str]) -> dict[str, str]:
        for name, text in constraints.items():
            try:
                parse_bound(text)
            except ValueError as exc:
                raise ValueError(f"{name}: {exc}") from None
        return constraints

    @property
    def bounds(self) -> dict[str, Bound]:
        return {name: parse_bound(text) for name, text in self.constraints.items()}

    @model_validator(mode="after")
    def _one_form(self) -> ObjectiveSpec:
        if self.directions is not None and self.direction is not None:
            raise ValueError("give either 'direction' or 'directions', not both")
        if self.directions is None and self.direction is None:
            raise ValueError("missing 'direction' (minimize or maximize)")
        if self.directions is not None:
            if len(self.directions) < 2:
                raise ValueError("'directions' needs at least two entries; use 'direction'")
            if self.metrics is not None and len(self.metrics) != len(self.directions):
                raise ValueError("'metrics' and 'directions' must have the same length")
        elif self.metrics is not None:
            raise ValueError("'metrics' goes with 'directions'; use 'metric' for one objective")
        return self

    @property
    def study_directions(self) -> list[Direction]:
        return list(self.directions) if self.directions else [self.direction]  # type: ignore[list-item]

    @property
    def metric_names(self) -> list[str] | None:
        if self.metrics:
            return list(self.metrics)
        return [self.metric] if self.metric else None


# --------------------------------------------------------------------------- budget, retries


class BudgetSpec(_Model):
    """How much to run: ``n_trials`` finished (complete or pruned), ``max_parallel`` at once."""

    n_trials: int = Field(100, ge=1)
    max_parallel: int = Field(4, ge=1)
    timeout: float | None = None
    max_failures: int | None = Field(None, ge=1)
    max_cost: float | None = Field(None, gt=0)  # USD, summed over resumes (batch backend)
    max_gpu_hours: float | None = Field(None, gt=0)  # GPU hours, summed over resumes (batch)

    _timeout = field_validator("timeout", mode="before")(lambda v: parse_duration(v))

    @property
    def failure_limit(self) -> int:
        """``max_failures``, or by default a tenth of ``n_trials`` but at least 10."""
        return self.max_failures if self.max_failures is not None else max(10, self.n_trials // 10)


class RetrySpec(_Model):
    """Infrastructure failures (lost host, spot reclaim, vanished job) are retried this often."""

    max_attempts: int = Field(3, ge=1, le=20)
    requeue: bool = False  # when attempts run out: fail the trial and enqueue its params anew


class TrainerSpec(_Model):
    """The command a trial runs: a process locally, the container command on Batch.

    ``timeout`` bounds one attempt: locally SIGTERM, then SIGKILL after the grace period; on
    Batch the attempt timeout. A timed-out trial fails and is not retried."""

    command: list[str] = Field(min_length=1)
    env: dict[str, str] = Field(default_factory=dict)
    timeout: float | None = None

    _timeout = field_validator("timeout", mode="before")(lambda v: parse_duration(v))

    @field_validator("command", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            import shlex

            return shlex.split(value)
        return value

    @field_validator("env")
    @classmethod
    def _env_names(cls, env: dict[str, str]) -> dict[str, str]:
        for key in env:
            if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", key):
                raise ValueError(f"{key!r} is not a valid environment variable name")
            if key.startswith("AWS_BATCH") or key.startswith("HPO_"):
                raise ValueError(f"{key!r}: names starting AWS_BATCH or HPO_ are reserved")
        return env


# --------------------------------------------------------------------------- backends


class LocalBackendSpec(_Model):
    """Each trial is a process on this machine, in its own session."""

    type: Literal["local"] = "local"
    poll_interval: float = Field(0.25, gt=0, le=60)
    grace_period: float = Field(10.0, ge=0, le=600)
    live_progress: bool = True  # read running trials' progress each poll, pruner or not


class BatchResources(_Model):
    gpus: int = Field(1, ge=0)
    vcpus: int = Field(4, ge=1)
    memory_mib: int = Field(15000, ge=512)


# Names of the CloudFormation outputs of infra/ that a `stack:` spec reads.
STACK_OUTPUTS = {
    "job_queue": "JobQueueArn",
    "job_definition": "JobDefinitionArn",
    "bucket": "BucketName",
    "job_role_arn": "JobRoleArn",
    "image": "TrainerImageUri",
    "log_group": "LogGroupName",
    "region": "Region",
}


class BatchBackendSpec(_Model):
    """Each trial attempt is an AWS Batch job; values may come from the infra/ stack outputs."""

    type: Literal["batch"]
    stack: str | None = None
    region: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None
    job_queue: str | None = None
    image: str | None = None
    job_definition: str | None = None
    job_role_arn: str | None = None
    log_group: str | None = None  # unset: the stack's LogGroupName, else Batch's default
    resources: BatchResources = Field(default_factory=BatchResources)
    timeout: float | None = None
    retry_attempts: int = Field(3, ge=1, le=10)
    poll_interval: float = Field(15.0, gt=0, le=600)
    stop_on_exit: bool = False
    retry_mode: Literal["standard", "adaptive"] = "adaptive"
    submit_rate: float = Field(40.0, gt=0, le=50)
    events: bool = True  # job state changes from the stack's EventBridge rules, if it has them
    events_queue_url: str | None = None  # a queue of this study's job events only (yours)
    live_progress: bool = False  # read progress each poll without a pruner (S3 requests)

    _timeout = field_validator("timeout", mode="before")(lambda v: parse_duration(v))

    @field_validator("timeout")
    @classmethod
    def _min_timeout(cls, value: float | None) -> float | None:
        if value is not None and value < 60:
            raise ValueError("AWS Batch needs a timeout of at least 60 seconds")
        return value


BackendSpec = Annotated[LocalBackendSpec | BatchBackendSpec, Field(discriminator="type")]


# --------------------------------------------------------------------------- warm start


class WarmStartSpec(_Model):
    """Copy the finished trials of another study: its study file, or a storage and a name."""

    from_: str | None = Field(None, alias="from")
    storage: str | None = None
    study: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> WarmStartSpec:
        if self.from_ is not None and (self.storage or self.study):
            raise ValueError("give either 'from' (a study file) or 'storage' and 'study'")
        if self.from_ is None and not (self.storage and self.study):
            raise ValueError("give 'from: OTHER.yaml', or both 'storage' and 'study'")
        return self


# --------------------------------------------------------------------------- the study


_IGNORE_CONSTRAINTS = ("random", "qmc", "grid", "cmaes")  # samplers that never read them


class StudySpec(_Model):
    """The whole study file."""

    name: str
    storage: str | None = None
    store: str | None = None
    objective: ObjectiveSpec
    search_space: dict[str, Param]
    sampler: SamplerSpec = Field(default_factory=AutoSamplerSpec)
    pruner: PrunerSpec = Field(default_factory=lambda: NoPrunerSpec(type="none"))
    budget: BudgetSpec = Field(default_factory=BudgetSpec)
    retries: RetrySpec = Field(default_factory=RetrySpec)
    trainer: TrainerSpec
    backend: BackendSpec = Field(default_factory=LocalBackendSpec)
    enqueue: list[dict[str, Any]] = Field(default_factory=list)
    warm_start: WarmStartSpec | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, name: str) -> str:
        if not _NAME.match(name):
            raise ValueError(
                "use 1-64 letters, digits, '-' or '_', starting with a letter or digit"
            )
        return name

    @field_validator("search_space")
    @classmethod
    def _space(cls, space: dict[str, Param]) -> dict[str, Param]:
        if not space:
            raise ValueError("the search space is empty; add at least one parameter")
        if (problem := conditions_problem(space)) is not None:
            raise ValueError(problem)
        return space

    @model_validator(mode="after")
    def _sampler_fits(self) -> StudySpec:
        multi = len(self.objective.study_directions) > 1
        if multi and self.sampler.type in ("cmaes", "gp"):
            raise ValueError(
                f"sampler '{self.sampler.type}' supports one objective only; use auto, tpe, "
                "nsga2 or optuna_gp"
            )
        if multi and not isinstance(self.pruner, NoPrunerSpec):
            raise ValueError("pruning needs a single objective; set 'pruner: {type: none}'")
        if self.objective.constraints and self.sampler.type in _IGNORE_CONSTRAINTS:
            raise ValueError(
                f"sampler '{self.sampler.type}' cannot use objective.constraints; use auto, "
                "tpe, gp, nsga2 or optuna_gp"
            )
        if has_conditions(self.search_space) and self.sampler.type in ("gp", "grid"):
            raise ValueError(
                f"sampler '{self.sampler.type}' needs every parameter in every trial, and the "
                "search space has 'when' conditions; use auto or tpe"
            )
        caps = self.budget.max_cost is not None or self.budget.max_gpu_hours is not None
        if caps and self.backend.type == "local":
            raise ValueError(
                "budget.max_cost and budget.max_gpu_hours need the batch backend "
                "(local trials have no price and no GPU count)"
            )
        return self

    @model_validator(mode="after")
    def _timeouts(self) -> StudySpec:
        backend_timeout = getattr(self.backend, "timeout", None)
        if backend_timeout is not None and self.trainer.timeout is not None:
            raise ValueError("give the attempt timeout once: 'trainer.timeout' (backend.timeout "
                             "is its older name on batch)")  # fmt: skip
        if self.backend.type == "batch" and (self.trainer.timeout or 60) < 60:
            raise ValueError("trainer.timeout: AWS Batch needs a timeout of at least 60 seconds")
        return self

    @field_validator("enqueue")
    @classmethod
    def _enqueued_sets_fit(cls, sets: list[dict[str, Any]], info: ValidationInfo) -> list:
        space = info.data.get("search_space")
        for i, params in enumerate(sets):
            problem = params_problem(space, params) if space else None
            if problem is not None:
                raise ValueError(f"set {i}: {problem}")
        return sets

    @property
    def attempt_timeout(self) -> float | None:
        """Seconds one attempt may run: ``trainer.timeout`` (or batch's ``backend.timeout``)."""
        return self.trainer.timeout or getattr(self.backend, "timeout", None)

    def enqueued(self) -> list[dict[str, Any]]:
        """The ``enqueue:`` sets with each value in the type Optuna stores."""
        return [coerce_params(self.search_space, params) for params in self.enqueue]
