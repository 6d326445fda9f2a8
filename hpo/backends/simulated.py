"""An in-process backend whose jobs follow a plan under an injected clock.

It reads each job's ``params.json`` from the object store like a trainer would, asks a
``planner`` what the job does (duration, progress, result, exit code, infrastructure loss),
and writes the trainer's documents when the clock says so. Used by the controller tests
and the overhead benchmarks: the controller, storage and sampler run for real; only the
training is simulated (the controller's own CPU time is charged honestly).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hpo.backends.base import Backend, JobSpec, JobState, JobStatus
from hpo.store.base import ObjectStore
from hpo.store.layout import TrialLayout


@dataclass(frozen=True)
class SimPlan:
    """What one simulated job does, in seconds after it starts."""

    duration: float
    result: Mapping[str, Any] | bytes | None = None  # None: writes no result.json
    exit_code: int = 0
    steps: Sequence[tuple[float, int, float]] = ()  # (at, step, value) progress reports
    lost_at: float | None = None  # the host disappears at this offset (infra failure)
    start_delay: float = 0.0  # queueing before the job runs
    result_at: float | None = None  # result.json lands this long before the job ends


Planner = Callable[[JobSpec, Mapping[str, Any]], SimPlan]


@dataclass
class _Job:
    spec: JobSpec
    plan: SimPlan
    submitted: float
    terminated: str | None = None
    terminated_at: float | None = None
    done: JobStatus | None = None
    progress_written: int = 0
    calls: dict[str, int] = field(default_factory=dict)

    @property
    def start(self) -> float:
        return self.submitted + self.plan.start_delay


class SimulatedBackend(Backend):
    """Jobs that run on a clock. ``now`` is the injected clock's wall time."""

    name = "simulated"

    def __init__(
        self,
        store: ObjectStore,
        planner: Planner,
        now: Callable[[], float],
        *,
        poll_interval: float = 1.0,
    ) -> None:
        self.store = store
        self.planner = planner
        self.now = now
        self.poll_interval = poll_interval
        self.jobs: dict[str, _Job] = {}
        self.submits = 0

    def submit(self, job: JobSpec) -> str:
        if job.name in self.jobs:
            return job.name
        study, number = job.study, job.trial
        raw = self.store.get(TrialLayout(study).params(number))
        params = json.loads(raw)["params"] if raw else {}
        self.jobs[job.name] = _Job(job, self.planner(job, params), self.now())
        self.submits += 1
        return job.name

    def find(self, name: str) -> str | None:
        return name if name in self.jobs else None

    def poll(self, job_ids: Sequence[str]) -> dict[str, JobStatus]:
        return {job_id: self._status(job_id) for job_id in job_ids}

    def terminate(self, job_id: str, reason: str) -> None:
        job = self.jobs.get(job_id)
        if job is not None and job.done is None and job.terminated is None:
            job.terminated, job.terminated_at = reason, self.now()

    def lose(self, job_id: str) -> None:
        """Make a job vanish now, as a lost host would."""
        job = self.jobs[job_id]
        job.plan = SimPlan(**{**job.plan.__dict__, "lost_at": self.now() - job.start})

    def running(self) -> list[str]:
        """Ids of jobs that have started and not ended, at the current clock time."""
        now = self.now()
        return [
            i
            for i, j in self.jobs.items()
            if j.done is None
            and j.start <= now
            and j.terminated is None
            and not self._ended(j, now)
        ]

    # ------------------------------------------------------------------ internals

    def _ended(self, job: _Job, now: float) -> bool:
        end = job.start + (job.plan.lost_at if job.plan.lost_at is not None else job.plan.duration)
        return now >= end

    def _status(self, job_id: str) -> JobStatus:
        job = self.jobs.get(job_id)
        if job is None:
            return JobStatus(job_id, JobState.LOST, reason="no such job", infra_failure=True)
        if job.done is not None:
            return job.done
        now = self.now()
        if job.terminated is not None:
            job.done = JobStatus(
                job_id,
                JobState.FAILED,
                reason=f"terminated: {job.terminated}",
                started_at=job.start,
                ended_at=job.terminated_at,
            )
            return job.done
        if now < job.start:
            return JobStatus(job_id, JobState.PENDING)
        self._write_progress(job, now)
        if not self._ended(job, now):
            return JobStatus(job_id, JobState.RUNNING, started_at=job.start, log=f"sim://{job_id}")
        job.done = self._finish(job)
        return job.done

    def _write_progress(self, job: _Job, now: float) -> None:
        plan = job.plan
        if (
            plan.result_at is not None
            and plan.result is not None
            and now - job.start >= (plan.duration - plan.result_at)
        ):
            self._write_result(job)
        due = [s for s in job.plan.steps if s[0] <= now - job.start]
        if len(due) > job.progress_written:
            doc = {"steps": [[step, value] for _, step, value in due]}
            key = TrialLayout(job.spec.study).progress(job.spec.trial)
            self.store.put(key, json.dumps(doc).encode())
            job.progress_written = len(due)

    def _write_result(self, job: _Job) -> None:
        result = job.plan.result
        body = result if isinstance(result, bytes) else json.dumps(result)
        key = TrialLayout(job.spec.study).result(job.spec.trial)
        self.store.put(key, body if isinstance(body, bytes) else body.encode())

    def _finish(self, job: _Job) -> JobStatus:
        plan, name = job.plan, job.spec.name
        if plan.lost_at is not None:
            return JobStatus(
                name,
                JobState.LOST,
                reason="simulated host loss",
                infra_failure=True,
                started_at=job.start,
            )
        end = job.start + plan.duration
        if plan.result is not None:
            self._write_result(job)
        if plan.exit_code != 0:
            return JobStatus(
                name,
                JobState.FAILED,
                reason=f"exit code {plan.exit_code}",
                exit_code=plan.exit_code,
                started_at=job.start,
                ended_at=end,
            )
        return JobStatus(
            name,
            JobState.SUCCEEDED,
            exit_code=0,
            started_at=job.start,
            ended_at=end,
            log=f"sim://{name}",
        )
