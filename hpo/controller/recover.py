"""Rebuild the in-flight set from storage when a controller starts on an existing study.

For each trial still RUNNING in storage, the recorded stage says how far it got:

- asked (no stage) or staged, no job id: if a job with the deterministic name exists (we died
  between submit and recording the id) adopt it; otherwise leave it to be staged/submitted
  with the same params;
- submitted/running with a job id: keep watching; the next poll ingests a result that landed
  while we were down, re-attaches to a running job, or reports it lost (retry policy decides).
"""

from __future__ import annotations

from collections.abc import Iterator

import optuna
from optuna.trial import TrialState

from hpo import attrs
from hpo.attrs import Stage
from hpo.backends.base import Backend, job_name
from hpo.controller.attempts import host_from_attrs
from hpo.controller.inflight import InFlight
from hpo.optuna_internals import reopen_trial
from hpo.store.layout import TrialLayout


def recover_inflight(
    study: optuna.Study, backend: Backend, layout: TrialLayout
) -> Iterator[InFlight]:
    """Yield an :class:`InFlight` for every RUNNING trial of ``study``."""
    for frozen in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        ua = frozen.user_attrs
        stage = Stage(ua.get(attrs.STAGE, Stage.ASKED.value))
        f = InFlight(
            trial=reopen_trial(study, frozen),
            number=frozen.number,
            attempt=int(ua.get(attrs.ATTEMPT, 1)),
            stage=stage,
            job_id=ua.get(attrs.JOB_ID),
            started_at=ua.get(attrs.STARTED_AT),
            last_step=max(frozen.intermediate_values, default=-1),
            prior_compute=float(ua.get(attrs.COMPUTE_SECONDS, 0.0)),
            prior_gpu_hours=float(ua.get(attrs.GPU_HOURS, 0.0)),
            prior_cost=float(ua.get(attrs.COST_USD, 0.0)),
            unpriced=ua.get(attrs.UNPRICED),
            history=list(ua.get(attrs.ATTEMPTS_LOG, [])),
            host=host_from_attrs(ua) if stage is Stage.RUNNING else None,
            log=ua.get(attrs.LOG) if stage is Stage.RUNNING else None,
            log_stream=ua.get(attrs.LOG_STREAM) if stage is Stage.RUNNING else None,
        )
        if f.job_id is None:
            found = backend.find(job_name(layout.study, f.number, f.attempt))
            if found is not None:
                f.job_id = found
                f.record(**{attrs.JOB_ID: found, attrs.STAGE: Stage.SUBMITTED.value})
        yield f
