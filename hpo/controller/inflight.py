"""The controller's in-memory view of one RUNNING trial; storage holds the durable copy."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import optuna

from hpo import attrs
from hpo.attrs import Stage
from hpo.backends.base import Host


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
    result_listed: bool = False  # the last progress listing showed its result.json
    prior_compute: float = 0.0  # compute seconds of the attempts that ended
    prior_gpu_hours: float = 0.0
    prior_cost: float = 0.0  # dollars of the attempts that ended (see ``unpriced``)
    unpriced: str | None = None  # why some ended attempt has no price
    history: list[dict[str, Any]] = field(default_factory=list)  # the attempts that ended
    host: Host | None = None  # where the current attempt runs, with its price
    log: str | None = None  # the current attempt's log (file path or console URL)
    log_stream: str | None = None

    @property
    def params(self) -> dict[str, Any]:
        return self.trial.params

    def record(self, **values: Any) -> None:
        """Write user attributes to storage (they are the durable state) and mirror the stage."""
        for key, value in values.items():
            self.trial.set_user_attr(key, value)
        if attrs.STAGE in values:
            self.stage = Stage(values[attrs.STAGE])

    def next_attempt(self, reason: str) -> None:
        """Move on to the trial's next attempt; the one that ended failed for ``reason``."""
        if self.history and not self.history[-1].get("reason"):
            self.history[-1]["reason"] = reason[:500]
        self.attempt += 1
        self.job_id = None
        self.started_at, self.host = None, None
