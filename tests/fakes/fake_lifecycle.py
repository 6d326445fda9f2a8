"""One fake Batch job and its attempts: SUBMITTED -> RUNNABLE -> STARTING -> RUNNING -> end.

Every state change happens at a planned fake time (submit time plus :class:`Timings`), so a
job's history depends only on the clock and on how its trainer process exits. The trainer
starts (as a real subprocess) when the job reaches RUNNING; once the planned run time has
passed, the next look at the job waits for that process and ends the attempt with its exit
code. A spot reclaim, a timeout or a Batch-level retry is decided the same way. Each change
is passed to ``JobRunner.on_change`` (the fake's EventBridge events), and ``next_change``
says when the next one is due, so a test can jump the clock from change to change.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

RECLAIM_REASON = "Host EC2 (instance i-0abc) terminated."
TIMEOUT_REASON = "Job attempt duration exceeded timeout"
EXITED_REASON = "Essential container in task exited"
TERMINAL = frozenset({"SUCCEEDED", "FAILED"})


@dataclass(frozen=True)
class Timings:
    """Fake seconds a job spends in each state (``run``: RUNNING before the trainer is joined)."""

    submitted: float = 1.0
    runnable: float = 5.0
    starting: float = 2.0
    run: float = 30.0
    visible_after: float = 0.0  # DescribeJobs/ListJobs return nothing this long after submit


@dataclass(frozen=True)
class JobPlan:
    """Scripted trouble for the jobs whose name matches a pattern (see ``FakeBatch.plan``)."""

    reclaims: int = 0  # the first N attempts lose their spot host halfway through
    run: float | None = None  # RUNNING this long instead of ``Timings.run``
    invisible_for: float | None = None  # empty DescribeJobs this long after submit
    container_reason: str | None = None  # container.reason of a failed attempt (e.g. OOM)
    vanish: bool = False  # never visible at all: the job is lost
    env: Mapping[str, str] = field(default_factory=dict)  # extra container environment


@dataclass
class Attempt:
    """One run of the job's container."""

    started: float  # fake time the attempt entered RUNNABLE
    stream: str
    running_since: float | None = None
    stopped: float | None = None
    exit_code: int | None = None
    reason: str | None = None  # container.reason
    status_reason: str | None = None
    proc: subprocess.Popen[bytes] | None = None
    host: str | None = None  # container instance ARN

    def describe(self) -> dict[str, Any]:
        container: dict[str, Any] = {"logStreamName": self.stream, "taskArn": f"task/{self.stream}"}
        if self.host:
            container["containerInstanceArn"] = self.host
        if self.exit_code is not None:
            container["exitCode"] = self.exit_code
        if self.reason:
            container["reason"] = self.reason
        out: dict[str, Any] = {"container": container, "statusReason": self.status_reason or ""}
        out["startedAt"] = int((self.running_since or self.started) * 1000)
        if self.stopped is not None:
            out["stoppedAt"] = int(self.stopped * 1000)
        return out


@dataclass
class FakeJob:
    """A submitted job: what was asked for plus where its lifecycle stands."""

    job_id: str
    name: str
    queue: str
    definition: dict[str, Any]
    container: dict[str, Any]  # command, environment, resourceRequirements after overrides
    tags: dict[str, str]
    created: float
    timings: Timings
    plan: JobPlan
    timeout: int | None = None
    retry: dict[str, Any] = field(default_factory=dict)
    status: str = "SUBMITTED"
    status_reason: str | None = None
    attempts: list[Attempt] = field(default_factory=list)
    current: Attempt | None = None

    @property
    def run_for(self) -> float:
        return self.plan.run if self.plan.run is not None else self.timings.run

    def visible(self, now: float) -> bool:
        if self.plan.vanish:
            return False
        delay = self.plan.invisible_for
        return now >= self.created + (self.timings.visible_after if delay is None else delay)

    def env(self) -> dict[str, str]:
        return {e["name"]: e["value"] for e in self.container.get("environment", [])}

    def describe(self, arn_prefix: str) -> dict[str, Any]:
        """The DescribeJobs entry of this job."""
        last = self.current or (self.attempts[-1] if self.attempts else None)
        container = dict(self.container)
        if last is not None and (last.running_since is not None or last.stopped is not None):
            container.update(last.describe()["container"])
        out: dict[str, Any] = {
            "jobArn": f"{arn_prefix}:job/{self.job_id}",
            "jobName": self.name,
            "jobId": self.job_id,
            "jobQueue": self.queue
            if self.queue.startswith("arn:")
            else f"{arn_prefix}:job-queue/{self.queue}",
            "status": self.status,
            "attempts": [a.describe() for a in self.attempts],
            "createdAt": int(self.created * 1000),
            "jobDefinition": self.definition["jobDefinitionArn"],
            "container": container,
            "tags": dict(self.tags),
            "retryStrategy": dict(self.retry),
        }
        if self.status_reason:
            out["statusReason"] = self.status_reason
        if last is not None and last.running_since is not None:
            out["startedAt"] = int(last.running_since * 1000)
        if self.status in TERMINAL and last is not None and last.stopped is not None:
            out["stoppedAt"] = int(last.stopped * 1000)
        if self.timeout:
            out["timeout"] = {"attemptDurationSeconds": self.timeout}
        return out

    def should_retry(self, attempt: Attempt) -> bool:
        """Batch's retryStrategy: attempts left, and the first matching rule says RETRY."""
        if len(self.attempts) >= int(self.retry.get("attempts", 1)):
            return False
        values = {
            "onStatusReason": attempt.status_reason or "",
            "onReason": attempt.reason or "",
            "onExitCode": "" if attempt.exit_code is None else str(attempt.exit_code),
        }
        for rule in self.retry.get("evaluateOnExit", []):
            keys = [k for k in values if k in rule]
            if all(fnmatchcase(values[k], rule[k]) for k in keys):
                return str(rule.get("action", "")).upper() == "RETRY"
        return True


def stop_process(proc: subprocess.Popen[bytes] | None, sig: int = signal.SIGKILL) -> None:
    """Signal the process group of a trainer we started (ignore if it is gone)."""
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def wait_exit(proc: subprocess.Popen[bytes], timeout: float) -> tuple[int | None, str | None]:
    """The trainer's exit code (signals as 128+n), or a reason if it ran past ``timeout``."""
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop_process(proc)
        proc.wait()
        return None, f"fake batch: the trainer ran past {timeout:.0f}s of real time"
    return (128 - code if code < 0 else code), None


def open_log(path: Path) -> Any:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.open("ab", buffering=0)


class JobRunner:
    """Moves fake jobs along their planned timeline and runs their trainer processes."""

    def __init__(
        self,
        clock: Any,
        *,
        container_env: Mapping[str, str] | None,
        path_map: Mapping[str, str] | None,
        workdir: Path,
        process_timeout: float,
    ) -> None:
        self.clock = clock
        self.container_env = dict(container_env or {})
        self.path_map = dict(path_map or {})
        self.workdir = workdir
        self.process_timeout = process_timeout
        self.on_change: Callable[[FakeJob, float], None] | None = None
        self.hosts: Sequence[str] = ()  # container instances attempts run on, in turn
        self._placed = 0

    def changed(self, job: FakeJob, at: float) -> None:
        """Tell ``on_change`` that ``job`` entered a new state at fake time ``at``."""
        if self.on_change is not None:
            self.on_change(job, at)

    def next_change(self, job: FakeJob) -> float | None:
        """Fake time of the job's next planned state change (None once it ended)."""
        t = job.timings
        if job.status in TERMINAL:
            return None
        if job.status == "SUBMITTED":
            return job.created + t.submitted
        a = job.current
        assert a is not None
        if job.status == "RUNNABLE":
            return a.started + t.runnable
        if job.status == "STARTING":
            return a.started + t.runnable + t.starting
        return self._planned_end(job, a)[0]

    def log_path(self, stream: str) -> Path:
        return self.workdir / "logs" / (stream.replace("/", "_") + ".log")

    def advance(self, job: FakeJob) -> None:
        """Apply every state change planned up to now."""
        now, t = self.clock.now(), job.timings
        while job.status not in TERMINAL:
            if job.status == "SUBMITTED":
                if now < job.created + t.submitted:
                    return
                job.status = "RUNNABLE"
                job.current = self._attempt(job, job.created + t.submitted)
                self.changed(job, job.current.started)
                continue
            a = job.current
            assert a is not None
            if job.status == "RUNNABLE":
                if now < a.started + t.runnable:
                    return
                job.status = "STARTING"
                self.changed(job, a.started + t.runnable)
            elif job.status == "STARTING":
                if now < a.started + t.runnable + t.starting:
                    return
                job.status = "RUNNING"
                a.running_since = a.started + t.runnable + t.starting
                if not self._reclaimed(job):
                    self._launch(job, a)
                self.changed(job, a.running_since)
            else:
                end, kind = self._planned_end(job, a)
                if now < end:
                    return
                self._end_attempt(job, a, end, kind)
                self.changed(job, end)

    def _attempt(self, job: FakeJob, started: float) -> Attempt:
        options = job.definition["containerProperties"].get("logConfiguration", {})
        prefix = options.get("options", {}).get("awslogs-stream-prefix")
        prefix = prefix or job.definition["jobDefinitionName"]
        task = f"{job.job_id[-12:]}{len(job.attempts) + 1:04d}"
        host = self.hosts[self._placed % len(self.hosts)] if self.hosts else None
        self._placed += 1
        return Attempt(started=started, stream=f"{prefix}/default/{task}", host=host)

    def _reclaimed(self, job: FakeJob) -> bool:
        return len(job.attempts) < job.plan.reclaims

    def _planned_end(self, job: FakeJob, a: Attempt) -> tuple[float, str]:
        """When and how the running attempt ends: ``reclaim``, ``timeout`` or ``exit``."""
        start = a.running_since or a.started
        if self._reclaimed(job):
            return start + job.run_for / 2, "reclaim"
        if job.timeout is not None and job.run_for > job.timeout:
            return start + job.timeout, "timeout"
        return start + job.run_for, "exit"

    def _argv(self, command: list[str]) -> list[str]:
        """The container command on this machine: ``python`` is this interpreter, paths mapped."""
        argv = list(command)
        if argv and argv[0] in ("python", "python3"):
            argv[0] = sys.executable
        for i, arg in enumerate(argv):
            for src, dst in self.path_map.items():
                if arg.startswith(src):
                    argv[i] = dst + arg[len(src) :]
        return argv

    def _launch(self, job: FakeJob, a: Attempt) -> None:
        """Start the attempt's trainer with the container's environment, output to its log."""
        env = {
            **os.environ,
            **self.container_env,
            **job.env(),
            **job.plan.env,
            "AWS_BATCH_JOB_ID": job.job_id,
            "AWS_BATCH_JOB_ATTEMPT": str(len(job.attempts) + 1),
            "AWS_BATCH_JQ_NAME": job.queue.rsplit("/", 1)[-1],
        }
        try:
            with open_log(self.log_path(a.stream)) as log:
                a.proc = subprocess.Popen(
                    self._argv(job.container.get("command", [])),
                    env=env,
                    cwd=self.workdir,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
        except OSError as exc:
            a.reason = f"CannotStartContainerError: {exc}"

    def _end_attempt(self, job: FakeJob, a: Attempt, end: float, kind: str) -> None:
        """Record how the attempt ended, then apply Batch's retry strategy."""
        a.stopped = end
        if kind == "reclaim":
            a.status_reason = RECLAIM_REASON
        elif kind == "timeout":
            stop_process(a.proc)
            if a.proc is not None:
                a.proc.wait()
            a.status_reason = TIMEOUT_REASON
        else:
            a.status_reason = EXITED_REASON
            if a.proc is not None:
                a.exit_code, error = wait_exit(a.proc, self.process_timeout)
                if a.exit_code != 0:
                    a.reason = job.plan.container_reason or error
        job.attempts.append(a)
        job.current = None
        if kind == "exit" and a.exit_code == 0:
            job.status, job.status_reason = "SUCCEEDED", EXITED_REASON
        elif kind != "timeout" and job.should_retry(a):
            job.status, job.status_reason = "RUNNABLE", None
            job.current = self._attempt(job, end)
        else:
            job.status, job.status_reason = "FAILED", a.status_reason
