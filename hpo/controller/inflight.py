"""The controller's in-memory view of one RUNNING trial; storage holds the durable copy."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import optuna

from hpo import attrs
from hpo.attrs import Stage


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
