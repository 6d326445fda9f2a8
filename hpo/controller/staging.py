"""Staging a trial attempt: its params.json in the object store and where it lives on record,
then the job request that runs it (see "Object layout" in ``docs/architecture.md``).

Both are deterministic in the trial number and attempt, so a controller that died between
staging and submitting stages the same attempt again and finds a job it did submit by name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from hpo import attrs
from hpo.attrs import Stage
from hpo.backends.base import JobSpec, job_name
from hpo.controller.inflight import InFlight
from hpo.store.base import ObjectStore
from hpo.store.layout import TrialLayout


@dataclass(frozen=True)
class Staging:
    """Stages the attempts of one study's trials on ``backend`` (its name is recorded)."""

    store: ObjectStore
    layout: TrialLayout
    backend: str

    def stage(self, f: InFlight) -> None:
        """Write params.json and record where the trial lives (before any job can exist)."""
        doc = {"params": f.params, "trial": f.number, "study": self.layout.study,
               "attempt": f.attempt}  # fmt: skip
        self.store.put(self.layout.params(f.number), json.dumps(doc).encode())
        f.record(**{
            attrs.BACKEND: self.backend,
            attrs.ATTEMPT: f.attempt,
            attrs.TRIAL_URI: self.trial_uri(f.number),
            attrs.JOB_NAME: job_name(self.layout.study, f.number, f.attempt),
            attrs.STAGE: Stage.STAGED.value,
        })  # fmt: skip

    def job(self, f: InFlight) -> JobSpec:
        """The job request of the trial's current attempt."""
        return JobSpec(
            name=job_name(self.layout.study, f.number, f.attempt),
            study=self.layout.study,
            trial=f.number,
            attempt=f.attempt,
            trial_uri=self.trial_uri(f.number),
        )

    def trial_uri(self, number: int) -> str:
        """What the trainer is given to find its trial (``HPO_TRIAL_URI``)."""
        return self.store.uri(self.layout.trial_prefix(number)).rstrip("/")
