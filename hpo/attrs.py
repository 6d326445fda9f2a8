"""Names of the trial user attributes hpo records, and the trial's stage.

They are *user* attributes so that optuna-dashboard shows them; together they let a new
controller rebuild everything from storage plus the backend.
"""

from __future__ import annotations

import enum

from optuna.trial import TrialState


class Stage(enum.StrEnum):
    """The controller's finer view of a RUNNING Optuna trial, recorded in its ``stage``
    attribute (see "Trial lifecycle" in ``docs/architecture.md``). The last three record how
    it ended; they say what its Optuna state says (:meth:`ended`), in the words stored
    studies already hold."""

    ASKED = "asked"
    STAGED = "staged"  # params.json written
    SUBMITTED = "submitted"  # job id recorded
    RUNNING = "running"
    SUCCEEDED = "succeeded"  # TrialState.COMPLETE
    FAILED = "failed"  # TrialState.FAIL
    PRUNED = "pruned"  # TrialState.PRUNED

    @classmethod
    def ended(cls, state: TrialState) -> Stage:
        """The stage that records a trial ending in ``state`` (COMPLETE, PRUNED or FAIL)."""
        return _ENDED[state]


_ENDED = {TrialState.COMPLETE: Stage.SUCCEEDED, TrialState.PRUNED: Stage.PRUNED,
          TrialState.FAIL: Stage.FAILED}  # fmt: skip

BACKEND = "backend"
JOB_ID = "job_id"
JOB_NAME = "job_name"
ATTEMPT = "attempt"
STAGE = "stage"
TRIAL_URI = "trial_uri"
LOG = "log"
LOG_STREAM = "log_stream"
SUBMITTED_AT = "submitted_at"
STARTED_AT = "started_at"
ENDED_AT = "ended_at"
COMPUTE_SECONDS = "compute_seconds"
FAIL_REASON = "fail_reason"
EXIT_CODE = "exit_code"
# Every attempt (run of the trainer) that ended, numbered from 1 across jobs (Batch's own
# retries included): [{"attempt", "job_attempt", "job_id", "started_at", "stopped_at",
# "seconds", "exit_code", "reason", "log", "log_stream", "instance_type", "zone", "lifecycle",
# "usd_per_hour", "price_source", "cost_usd", "gpu_hours"}] (keys without a value left out).
ATTEMPTS_LOG = "attempts"
METRICS = "metrics"
CONSTRAINTS = "constraints"  # the constrained values the trainer reported
FEASIBLE = "feasible"  # whether they meet objective.constraints
RETRY_OF = "retry_of"  # a re-enqueued trial remembers the one it repeats
COST_USD = "cost_usd"  # sum over attempts of hours x hourly price; absent when unpriced
UNPRICED = "unpriced"  # why an attempt has no price (then the trial has no cost_usd)
GPU_HOURS = "gpu_hours"
# The current attempt's host: what the live cost of a running trial is counted with.
INSTANCE_TYPE = "instance_type"
USD_PER_HOUR = "usd_per_hour"
PRICE_SOURCE = "price_source"
# {"study": name, "trial": number}: copied by warm_start (prior knowledge, not this study's work)
WARM_START_OF = "warm_start_of"
# Why hpo itself stopped the trial ("budget.timeout", "hpo stop --cancel"): not a trainer failure
STOPPED_BY = "stopped_by"

RESERVED = frozenset(
    {
        BACKEND,
        JOB_ID,
        JOB_NAME,
        ATTEMPT,
        STAGE,
        TRIAL_URI,
        LOG,
        LOG_STREAM,
        SUBMITTED_AT,
        STARTED_AT,
        ENDED_AT,
        COMPUTE_SECONDS,
        FAIL_REASON,
        EXIT_CODE,
        ATTEMPTS_LOG,
        METRICS,
        CONSTRAINTS,
        FEASIBLE,
        RETRY_OF,
        COST_USD,
        UNPRICED,
        GPU_HOURS,
        INSTANCE_TYPE,
        USD_PER_HOUR,
        PRICE_SOURCE,
        WARM_START_OF,
        STOPPED_BY,
    }
)

# Study user attributes.
STUDY_SPEC = "hpo_spec"
STUDY_RUN_SECONDS = "hpo_run_seconds"
STUDY_LEASE = "hpo_lease"
STUDY_COST_USD = "hpo_cost_usd"  # dollars the study's trials spent so far (priced backends)
STUDY_GPU_HOURS = "hpo_gpu_hours"
STUDY_SAMPLER = "hpo_sampler"  # what `sampler: auto` chose and why (kept across resumes)
STUDY_STOP = "hpo_stop"  # {"cancel": bool, "at": epoch}: set by `hpo stop`, read by the controller
