"""A deterministic fake of the AWS Batch API, behind the same seam as the boto3 client.

``FakeBatch`` answers the calls the Batch backend makes (RegisterJobDefinition,
DescribeJobDefinitions, SubmitJob, DescribeJobs, ListJobs, TerminateJob, CancelJob) with
boto3's shapes, runs each job through its lifecycle on an injected clock (see
``fake_lifecycle``), executes the trainer command as a real subprocess when a job runs,
counts requests per API, and can throttle (``TooManyRequestsException``), hide a job right
after submit, reclaim spot hosts, or time jobs out.
"""

from __future__ import annotations

import re
import signal
import subprocess
import tempfile
import threading
from collections import Counter, deque
from collections.abc import Callable, Mapping, Sequence
from fnmatch import fnmatchcase
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Protocol

from botocore.exceptions import ClientError

from tests.fakes.fake_lifecycle import (
    TERMINAL,
    FakeJob,
    JobPlan,
    JobRunner,
    Timings,
    stop_process,
)

__all__ = ["FakeBatch", "JobPlan", "Timings", "throttled_error"]
_JOB_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")


class _Clock(Protocol):
    def now(self) -> float: ...


def throttled_error(api: str) -> ClientError:
    """The error Batch answers a throttled request with (HTTP 429)."""
    body = {"Code": "TooManyRequestsException", "Message": "Too Many Requests."}
    return ClientError({"Error": body, "ResponseMetadata": {"HTTPStatusCode": 429}}, api)


def client_error(api: str, message: str) -> ClientError:
    body = {"Code": "ClientException", "Message": message}
    return ClientError({"Error": body, "ResponseMetadata": {"HTTPStatusCode": 400}}, api)


class FakeBatch:
    """The fake Batch client. ``calls`` counts requests per API (throttled ones included)."""

    def __init__(
        self,
        clock: _Clock,
        *,
        timings: Timings | None = None,
        container_env: Mapping[str, str] | None = None,
        path_map: Mapping[str, str] | None = None,
        workdir: str | Path | None = None,
        region: str = "us-east-1",
        process_timeout: float = 120.0,
    ) -> None:
        self.clock = clock
        self.timings = timings or Timings()
        self.runner = JobRunner(
            clock,
            container_env=container_env,
            path_map=path_map,
            workdir=Path(workdir or tempfile.mkdtemp(prefix="fake-batch-")),
            process_timeout=process_timeout,
        )
        self.meta = SimpleNamespace(region_name=region)
        self.calls: Counter[str] = Counter()
        self.call_log: list[tuple[str, float]] = []
        self._arn = f"arn:aws:batch:{region}:123456789012"
        self._lock = threading.RLock()
        self._throttles: Counter[str] = Counter()
        self._limits: dict[str, float] = {}
        self._accepted: dict[str, deque[float]] = {}
        self._plans: list[tuple[str, JobPlan]] = []
        self._defs: list[dict[str, Any]] = []
        self._jobs: dict[str, FakeJob] = {}
        self._dying: list[subprocess.Popen[bytes]] = []
        self._n = 0
        self._events: Callable[[dict[str, Any], float], None] | None = None

    # ------------------------------------------------------------------ test controls

    def plan(self, pattern: str, plan: JobPlan) -> None:
        """Jobs whose name matches the glob ``pattern`` follow ``plan`` (first match wins)."""
        self._plans.append((pattern, plan))

    def throttle(self, api: str, times: int = 1) -> None:
        """The next ``times`` calls of ``api`` (e.g. ``"SubmitJob"``) are throttled."""
        self._throttles[api] += times

    def limit_rate(self, api: str, per_second: float) -> None:
        """Throttle ``api`` calls beyond ``per_second`` in any one-second window."""
        self._limits[api] = per_second

    def forget(self, job_id: str) -> None:
        """Drop a job as if Batch had never had it."""
        with self._lock:
            self._jobs.pop(job_id, None)

    def job(self, job_id: str) -> FakeJob:
        return self._jobs[job_id]

    def jobs(self) -> list[FakeJob]:
        return list(self._jobs.values())

    def log_text(self, stream: str) -> str:
        """What the trainer of the attempt with log stream ``stream`` printed."""
        path = self.runner.log_path(stream)
        return path.read_text(errors="replace") if path.exists() else ""

    def emit_to(self, events: Callable[[dict[str, Any], float], None] | None) -> None:
        """Send each job state change (its DescribeJobs entry, and when) to ``events``, as
        Batch sends them to EventBridge (see ``fake_events.BatchEvents``)."""
        self._events = events
        self.runner.on_change = None if events is None else self._changed

    def place_on(self, hosts: Sequence[str]) -> None:
        """Run attempts on these container instances (ARNs), in turn."""
        self.runner.hosts = list(hosts)

    def _changed(self, job: FakeJob, at: float) -> None:
        if self._events is not None:
            self._events(job.describe(self._arn), at)

    def _flush(self) -> None:
        flush = getattr(self._events, "flush", None)
        if flush is not None:
            flush()

    def next_change(self) -> float | None:
        """Fake time of the next planned state change of any job (None: nothing planned)."""
        with self._lock:
            due = [self.runner.next_change(job) for job in self._jobs.values()]
        return min((t for t in due if t is not None), default=None)

    def step(self) -> None:
        """Bring every job up to the clock's time."""
        with self._lock:
            for job in list(self._jobs.values()):
                self.runner.advance(job)
            self._flush()

    def close(self) -> None:
        """Stop every trainer process still running."""
        with self._lock:
            procs = [j.current.proc for j in self._jobs.values() if j.current] + self._dying
            for proc in procs:
                stop_process(proc, signal.SIGKILL)
                if proc is not None:
                    proc.wait()
            self._dying.clear()

    # ------------------------------------------------------------------ bookkeeping

    def _call(self, api: str) -> float:
        """Count a request to ``api``, throttle it if told to; returns the fake time."""
        now = self.clock.now()
        self.calls[api] += 1
        self.call_log.append((api, now))
        if self._throttles[api] > 0:
            self._throttles[api] -= 1
            raise throttled_error(api)
        if api in self._limits:
            window = self._accepted.setdefault(api, deque())
            while window and now - window[0] >= 1.0:
                window.popleft()
            if len(window) >= self._limits[api]:
                raise throttled_error(api)
            window.append(now)
        return now

    def _plan_for(self, name: str) -> JobPlan:
        return next((p for pattern, p in self._plans if fnmatchcase(name, pattern)), JobPlan())

    def _new_id(self) -> str:
        self._n += 1
        return f"00000000-0000-4000-8000-{self._n:012d}"

    # ------------------------------------------------------------------ job definitions

    def register_job_definition(self, **kw: Any) -> dict[str, Any]:
        with self._lock:
            self._call("RegisterJobDefinition")
            name = kw["jobDefinitionName"]
            revision = 1 + sum(1 for d in self._defs if d["jobDefinitionName"] == name)
            arn = f"{self._arn}:job-definition/{name}:{revision}"
            entry = {**kw, "jobDefinitionArn": arn, "revision": revision, "status": "ACTIVE"}
            self._defs.append(entry)
            return {"jobDefinitionName": name, "jobDefinitionArn": arn, "revision": revision}

    def describe_job_definitions(self, **kw: Any) -> dict[str, Any]:
        with self._lock:
            self._call("DescribeJobDefinitions")
            out = list(self._defs)
            if kw.get("jobDefinitionName"):
                out = [d for d in out if d["jobDefinitionName"] == kw["jobDefinitionName"]]
            if kw.get("jobDefinitions"):
                out = [d for d in out if d["jobDefinitionArn"] in kw["jobDefinitions"]]
            if kw.get("status"):
                out = [d for d in out if d["status"] == kw["status"]]
            return {"jobDefinitions": [dict(d) for d in out]}

    def _definition(self, ref: str) -> dict[str, Any]:
        """The ACTIVE job definition an ARN, ``name:revision`` or ``name`` refers to."""
        name, _, rev = ref.rsplit("/", 1)[-1].partition(":")
        found = [d for d in self._defs if d["jobDefinitionName"] == name]
        found = [d for d in found if d["status"] == "ACTIVE"]
        if rev:
            found = [d for d in found if str(d["revision"]) == rev]
        if not found:
            raise client_error("SubmitJob", f"Job definition {ref} does not exist")
        return max(found, key=lambda d: d["revision"])

    # ------------------------------------------------------------------ jobs

    def submit_job(self, **kw: Any) -> dict[str, Any]:
        with self._lock:
            now = self._call("SubmitJob")
            name = kw.get("jobName", "")
            if not _JOB_NAME.match(name):
                raise client_error("SubmitJob", f"invalid job name {name!r}")
            definition = self._definition(kw["jobDefinition"])
            container = _merge(definition["containerProperties"], kw.get("containerOverrides"))
            timeout = (kw.get("timeout") or definition.get("timeout") or {}).get(
                "attemptDurationSeconds"
            )
            if timeout is not None and int(timeout) < 60:
                raise client_error("SubmitJob", "attemptDurationSeconds must be at least 60")
            job = FakeJob(
                job_id=self._new_id(),
                name=name,
                queue=kw["jobQueue"],
                definition=definition,
                container=container,
                tags={**definition.get("tags", {}), **kw.get("tags", {})},
                created=now,
                timings=self.timings,
                plan=self._plan_for(name),
                timeout=int(timeout) if timeout is not None else None,
                retry=dict(kw.get("retryStrategy") or definition.get("retryStrategy") or {}),
            )
            self._jobs[job.job_id] = job
            return {"jobArn": f"{self._arn}:job/{job.job_id}", "jobName": name, "jobId": job.job_id}

    def describe_jobs(self, jobs: list[str]) -> dict[str, Any]:
        with self._lock:
            now = self._call("DescribeJobs")
            if len(jobs) > 100:
                raise client_error("DescribeJobs", "at most 100 job IDs per request")
            out = []
            for job_id in jobs:
                job = self._jobs.get(job_id)
                if job is not None and job.visible(now):
                    self.runner.advance(job)
                    out.append(job.describe(self._arn))
            self._flush()
            return {"jobs": out}

    def list_jobs(self, **kw: Any) -> dict[str, Any]:
        with self._lock:
            now = self._call("ListJobs")
            queue = str(kw.get("jobQueue", "")).rsplit("/", 1)[-1]
            found = [
                j
                for j in self._jobs.values()
                if j.queue.rsplit("/", 1)[-1] == queue and j.visible(now)
            ]
            names = [f for f in kw.get("filters") or [] if f["name"] == "JOB_NAME"]
            if names:
                found = [j for j in found if _name_matches(j.name, names[0]["values"][0])]
            for job in found:
                self.runner.advance(job)
            self._flush()
            if not names:
                found = [j for j in found if j.status == kw.get("jobStatus", "RUNNING")]
            start = int(kw.get("nextToken") or 0)
            size = int(kw.get("maxResults") or 100)
            page = found[start : start + size]
            out: dict[str, Any] = {"jobSummaryList": [_summary(j, self._arn) for j in page]}
            if start + size < len(found):
                out["nextToken"] = str(start + size)
            return out

    def terminate_job(self, jobId: str, reason: str) -> dict[str, Any]:
        with self._lock:
            self._call("TerminateJob")
            self._stop(jobId, reason, "TerminateJob", states=None)
            return {}

    def cancel_job(self, jobId: str, reason: str) -> dict[str, Any]:
        with self._lock:
            self._call("CancelJob")
            self._stop(jobId, reason, "CancelJob", states={"SUBMITTED", "PENDING", "RUNNABLE"})
            return {}

    def _stop(self, job_id: str, reason: str, api: str, states: set[str] | None) -> None:
        """Terminate/cancel: SIGTERM the trainer, FAILED with ``reason`` (no-op once finished)."""
        job = self._jobs.get(job_id)
        if job is None:
            raise client_error(api, f"Job {job_id} not found")
        self.runner.advance(job)
        if job.status in TERMINAL or (states is not None and job.status not in states):
            return
        attempt = job.current
        if attempt is not None and attempt.running_since is not None:
            stop_process(attempt.proc, signal.SIGTERM)
            if attempt.proc is not None:
                self._dying.append(attempt.proc)
            attempt.stopped = self.clock.now()
            attempt.status_reason = reason
            job.attempts.append(attempt)
        job.current = None
        job.status, job.status_reason = "FAILED", reason
        self._changed(job, self.clock.now())
        self._flush()


def _merge(props: Mapping[str, Any], overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """The container as SubmitJob's overrides change the definition's properties."""
    out = {k: v for k, v in props.items() if k in ("image", "command", "jobRoleArn")}
    over = dict(overrides or {})
    env = {e["name"]: e["value"] for e in props.get("environment", [])}
    for item in over.get("environment", []):
        if item["name"].startswith("AWS_BATCH"):
            raise client_error("SubmitJob", f"environment name {item['name']} is reserved")
        env[item["name"]] = item["value"]
    res = {r["type"]: r["value"] for r in props.get("resourceRequirements", [])}
    res.update({r["type"]: r["value"] for r in over.get("resourceRequirements", [])})
    out["environment"] = [{"name": k, "value": v} for k, v in env.items()]
    out["resourceRequirements"] = [{"type": k, "value": v} for k, v in res.items()]
    if over.get("command"):
        out["command"] = list(over["command"])
    return out


def _name_matches(name: str, pattern: str) -> bool:
    """ListJobs' JOB_NAME filter: case-insensitive, a trailing ``*`` matches a prefix."""
    if pattern.endswith("*"):
        return name.lower().startswith(pattern[:-1].lower())
    return name.lower() == pattern.lower()


def _summary(job: FakeJob, arn: str) -> dict[str, Any]:
    full = job.describe(arn)
    keys = ("jobArn", "jobId", "jobName", "createdAt", "status", "statusReason", "startedAt")
    return {k: full[k] for k in (*keys, "stoppedAt") if k in full}
