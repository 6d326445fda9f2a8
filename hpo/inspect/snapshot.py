"""One read of a study: counts, running trials, recent failures, best so far, compute spent.

Everything comes from storage (the trial user attributes the controller records, see
:mod:`hpo.attrs`); no backend is asked, so a snapshot is cheap and safe while a controller
runs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from hpo import attrs
from hpo.attrs import Stage
from hpo.inspect.logs import attempt_logs
from hpo.usage import compute_saved, compute_spent, cost_totals, trial_cost


@dataclass(frozen=True)
class RunningTrial:
    """A RUNNING trial as the controller last recorded it."""

    number: int
    stage: str
    attempt: int
    job_id: str | None
    age_seconds: float | None  # since the job started, else since submit, else since ask
    age_since: str  # "started", "submitted" or "asked"
    last_step: int | None
    last_value: float | None
    cost_usd: float | None = None  # so far (None: unpriced or no prices)


@dataclass(frozen=True)
class FailedTrial:
    """A FAIL trial and why."""

    number: int
    reason: str
    attempt: int
    exit_code: int | None
    ended_at: float | None
    cost_usd: float | None = None


@dataclass(frozen=True)
class BestTrial:
    """A best trial (or one of the Pareto front) with what to paste into a config."""

    number: int
    values: list[float]
    params: dict[str, Any]
    metrics: dict[str, Any] = field(default_factory=dict)
    cost_usd: float | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"number": self.number}
        if len(self.values) == 1:
            out["value"] = self.values[0]
        else:
            out["values"] = list(self.values)
        out["params"] = dict(self.params)
        if self.metrics:
            out["metrics"] = dict(self.metrics)
        if self.cost_usd is not None:
            out["cost_usd"] = self.cost_usd
        return out


@dataclass(frozen=True)
class ControllerInfo:
    """The controller's lease (``hpo_lease`` study attribute), read only."""

    state: str  # "running" (live lease), "exited" (its process is gone), "expired" (died or
    # hung), "stopped" (released) or "none"
    host: str | None = None
    pid: int | None = None
    renewed_at: float | None = None
    expires_at: float | None = None


def controller_info(
    user_attrs: dict[str, Any], now: float, alive: Callable[[dict[str, Any]], bool] | None = None
) -> ControllerInfo:
    """Whether a controller holds the study now, from its lease; ``alive`` (when given) checks
    the holder itself, so a controller that died on this host is not called running."""
    lease = user_attrs.get(attrs.STUDY_LEASE)
    if not isinstance(lease, dict):
        return ControllerInfo("none")
    if not lease.get("owner"):
        return ControllerInfo("stopped", renewed_at=lease.get("released_at"))
    expires = lease.get("expires_at")
    live = isinstance(expires, int | float) and expires > now
    state = "running" if live else "expired"
    if live and alive is not None and not alive(lease):
        state = "exited"  # its process is gone; the lease has not run out yet
    return ControllerInfo(
        state,
        host=lease.get("host"),
        pid=lease.get("pid"),
        renewed_at=lease.get("since"),
        expires_at=expires,
    )


@dataclass(frozen=True)
class StudySnapshot:
    """What ``hpo status`` shows; ``to_dict`` is its ``--json`` form."""

    study: str
    directions: list[str]
    n_trials: int | None
    counts: dict[str, int]
    running: list[RunningTrial]
    failures: list[FailedTrial]
    best: list[BestTrial]
    compute_seconds: float
    compute_seconds_saved: float | None
    retries: int
    taken_at: float
    controller: ControllerInfo = field(default_factory=lambda: ControllerInfo("none"))
    cost_usd: float | None = None  # None: the trials carry no prices (local backend)
    cost_usd_saved: float | None = None  # by pruning
    unpriced: int = 0  # trials with an attempt of unknown price (not in cost_usd)
    gpu_hours: float | None = None
    copied: int = 0  # trials copied by warm_start: history, not counted in ``counts``

    @property
    def done(self) -> int:
        return self.counts.get("complete", 0) + self.counts.get("pruned", 0)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["done"] = self.done
        out["best"] = [b.to_dict() for b in self.best]
        return out


def take_snapshot(
    study: optuna.Study,
    *,
    now: float,
    n_trials: int | None = None,
    max_failures: int = 5,
    alive: Callable[[dict[str, Any]], bool] | None = None,
) -> StudySnapshot:
    """Read ``study`` once and summarise it as of ``now`` (epoch seconds)."""
    every = study.get_trials(deepcopy=False)
    trials = [t for t in every if attrs.WARM_START_OF not in t.user_attrs]
    costs = cost_totals(trials, now)
    return StudySnapshot(
        study=study.study_name,
        directions=[d.name.lower() for d in study.directions],
        n_trials=n_trials,
        counts=count_states(trials),
        running=[running_trial(t, now) for t in trials if t.state == TrialState.RUNNING],
        failures=recent_failures(trials, max_failures),
        best=best_trials(study),
        compute_seconds=round(compute_spent(trials, now), 3),
        compute_seconds_saved=_round(compute_saved(trials)),
        retries=sum(len(attempt_logs(t)) - 1 for t in trials),
        taken_at=now,
        controller=controller_info(study.user_attrs, now, alive),
        copied=len(every) - len(trials),
        cost_usd=costs.usd,
        cost_usd_saved=_round(compute_saved(trials, attrs.COST_USD)) if costs.usd else None,
        unpriced=costs.unpriced,
        gpu_hours=costs.gpu_hours,
    )


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def count_states(trials: Sequence[FrozenTrial]) -> dict[str, int]:
    """Number of trials in each Optuna state (every state present, zero included)."""
    counts = {state.name.lower(): 0 for state in TrialState}
    for trial in trials:
        counts[trial.state.name.lower()] += 1
    return counts


def running_trial(trial: FrozenTrial, now: float) -> RunningTrial:
    """The controller's view of a RUNNING trial, with its age from the recorded times."""
    ua = trial.user_attrs
    stage = str(ua.get(attrs.STAGE, Stage.ASKED.value))
    age, since = _age(trial, stage, now)
    step = max(trial.intermediate_values, default=None)
    return RunningTrial(
        number=trial.number,
        stage=stage,
        attempt=int(ua.get(attrs.ATTEMPT, 1)),
        job_id=ua.get(attrs.JOB_ID),
        age_seconds=age,
        age_since=since,
        last_step=step,
        last_value=trial.intermediate_values[step] if step is not None else None,
        cost_usd=trial_cost(trial, now),
    )


def _age(trial: FrozenTrial, stage: str, now: float) -> tuple[float | None, str]:
    ua = trial.user_attrs
    if stage == Stage.RUNNING.value and ua.get(attrs.STARTED_AT) is not None:
        return max(0.0, now - float(ua[attrs.STARTED_AT])), "started"
    if ua.get(attrs.SUBMITTED_AT) is not None:
        return max(0.0, now - float(ua[attrs.SUBMITTED_AT])), "submitted"
    if trial.datetime_start is not None:
        return max(0.0, now - trial.datetime_start.timestamp()), "asked"
    return None, "asked"


def recent_failures(trials: Sequence[FrozenTrial], limit: int) -> list[FailedTrial]:
    """The ``limit`` most recently ended FAIL trials, newest first."""
    failed = [t for t in trials if t.state == TrialState.FAIL]
    failed.sort(key=_ended_at, reverse=True)
    out = []
    for t in failed[:limit]:
        ua = t.user_attrs
        out.append(
            FailedTrial(
                number=t.number,
                reason=str(ua.get(attrs.FAIL_REASON) or "no reason recorded"),
                attempt=int(ua.get(attrs.ATTEMPT, 1)),
                exit_code=ua.get(attrs.EXIT_CODE),
                ended_at=_ended_at(t) or None,
                cost_usd=trial_cost(t, _ended_at(t)),
            )
        )
    return out


def _ended_at(trial: FrozenTrial) -> float:
    ended = trial.user_attrs.get(attrs.ENDED_AT)
    if ended is not None:
        return float(ended)
    return trial.datetime_complete.timestamp() if trial.datetime_complete else 0.0


def best_trials(study: optuna.Study) -> list[BestTrial]:
    """The best trial, or the Pareto front for several objectives; empty before any COMPLETE."""
    try:
        if len(study.directions) == 1:
            frozen = [study.best_trial]
        else:
            frozen = sorted(study.best_trials, key=lambda t: t.number)
    except ValueError:
        return []
    return [
        BestTrial(
            number=t.number,
            values=list(t.values or []),
            params=dict(t.params),
            metrics=dict(t.user_attrs.get(attrs.METRICS) or {}),
            cost_usd=trial_cost(t, 0.0),
        )
        for t in frozen
    ]
