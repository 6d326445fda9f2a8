"""The controller's in-memory view of one RUNNING trial; storage holds the durable copy."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import optuna
from optuna.trial import TrialState

from hpo import attrs
from hpo.attrs import Stage
from hpo.backends.base import JobStatus
from hpo.controller.documents import Outcome

_STATE_STAGE = {TrialState.COMPLETE: Stage.SUCCEEDED, TrialState.PRUNED: Stage.PRUNED,
                TrialState.FAIL: Stage.FAILED}  # fmt: skip


@dataclass
class InFlight:
    """One trial the controller is driving: its Optuna handle and its current job."""

    trial: optuna.trial.Trial
    number: int
    attempt: int = 1
    stage: Stage = Stage.ASKED
    job_id: str | None = None
    started_at: float | None = None
    last_step: int = -1
    progress_version: str | None = None
    prior_compute: float = 0.0  # compute seconds of earlier attempts
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def params(self) -> dict[str, Any]:
        return self.trial.params

    def record(self, **values: Any) -> None:
        """Write user attributes to storage (they are the durable state) and mirror the stage."""
        for key, value in values.items():
            self.trial.set_user_attr(key, value)
        if attrs.STAGE in values:
            self.stage = Stage(values[attrs.STAGE])


def closing_attrs(
    state: TrialState,
    ended_at: float,
    compute: float,
    *,
    status: JobStatus | None,
    outcome: Outcome | None,
    reason: str | None,
) -> dict[str, Any]:
    """The user attributes that record how a trial ended (written before it is told)."""
    final: dict[str, Any] = {
        attrs.STAGE: _STATE_STAGE[state].value,
        attrs.ENDED_AT: ended_at,
        attrs.COMPUTE_SECONDS: round(compute, 3),
    }
    if reason:
        final[attrs.FAIL_REASON] = reason[:1000]
    if status is not None:  # the attempt that ended (Batch may have retried it meanwhile)
        found = {attrs.EXIT_CODE: status.exit_code, attrs.LOG: status.log,
                 attrs.LOG_STREAM: status.log_stream}  # fmt: skip
        final.update({key: value for key, value in found.items() if value is not None})
    if outcome is not None:
        if outcome.metrics:
            final[attrs.METRICS] = outcome.metrics
        if outcome.constraints:
            final[attrs.CONSTRAINTS] = outcome.constraints
            final[attrs.FEASIBLE] = outcome.feasible
        final.update(outcome.user_attrs)
    return final
