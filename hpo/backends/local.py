"""Local processes as jobs: the embedded default backend.

Each job is ``hpo.backends.launcher`` in a new session (so it survives the controller),
running the trainer command. The job id is the job name; its state lives in
``<state_dir>/<name>/`` (``job.json``, ``pid.json``, ``exit.json``, ``terminate.json``), so a
restarted controller finds every job again. The trainer's output goes to
``<trial dir>/logs/attempt-<k>.log`` when the trial lives in a local directory.

With a ``timeout`` (``trainer.timeout``, recorded in ``job.json`` at submit) a job still running
that long after it started is terminated like a pruned one (SIGTERM, SIGKILL after the grace
period) and fails with "timed out after ..." (not an infrastructure failure: not retried). The
deadline is enforced on each poll, so it holds across controller restarts too.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from hpo.backends.base import Backend, JobSpec, JobState, JobStatus
from hpo.backends.launcher import pid_alive, write_json
from hpo.errors import BackendError

# A job dir without pid.json this long after submit means the launcher never started.
_START_TIMEOUT = 30.0


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _terminated(doc: dict) -> str:
    """The reason of a job stopped on request (a prune, a cancel) or for its timeout."""
    if doc.get("timed_out"):
        return str(doc.get("reason"))
    return f"terminated: {doc.get('reason')}"


class LocalBackend(Backend):
    """Runs ``command`` once per job; see the module docstring."""

    name = "local"

    def __init__(
        self,
        command: Sequence[str],
        state_dir: str | os.PathLike[str],
        *,
        cwd: str | os.PathLike[str] | None = None,
        env: Mapping[str, str] | None = None,
        grace_period: float = 10.0,
        poll_interval: float = 0.25,
        timeout: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.command = list(command)
        self.timeout = timeout
        self.state_dir = Path(state_dir)
        self.cwd = Path(cwd) if cwd else None
        self.env = dict(env or {})
        self.grace_period = grace_period
        self.poll_interval = poll_interval
        self._clock = clock
        self._children: dict[str, subprocess.Popen[bytes]] = {}

    # ------------------------------------------------------------------ contract

    def submit(self, job: JobSpec) -> str:
        state = self.state_dir / job.name
        if (state / "job.json").exists():
            return job.name  # idempotent: the name is the id
        log = self._log_path(job, state)
        try:
            state.mkdir(parents=True, exist_ok=True)
            log.parent.mkdir(parents=True, exist_ok=True)
            doc = {
                "name": job.name,
                "argv": self.command,
                "log": str(log),
                "submitted_at": self._clock(),
                "timeout": self.timeout,
            }
            write_json(state / "job.json", doc)
            env = {**os.environ, **self.env, **job.env, "HPO_TRIAL_URI": job.trial_uri}
            launcher = [sys.executable, "-m", "hpo.backends.launcher", str(state), str(log)]
            self._children[job.name] = subprocess.Popen(
                [*launcher, "--", *self.command],
                cwd=self.cwd,
                env=env,
                start_new_session=True,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        except OSError as exc:
            raise BackendError(f"cannot start job {job.name}: {exc}") from exc
        return job.name

    def find(self, name: str) -> str | None:
        return name if (self.state_dir / name / "job.json").exists() else None

    def poll(self, job_ids: Sequence[str]) -> dict[str, JobStatus]:
        for child in self._children.values():
            child.poll()  # reap our own exited launchers so they are not zombies
        return {job_id: self._status(job_id) for job_id in job_ids}

    def terminate(self, job_id: str, reason: str) -> None:
        state = self.state_dir / job_id
        if not (state / "job.json").exists():
            return
        if not (state / "terminate.json").exists():
            write_json(state / "terminate.json", {"reason": reason, "at": self._clock()})
        self._signal(job_id, signal.SIGTERM)

    def close(self) -> None:
        self._children.clear()

    # ------------------------------------------------------------------ helpers

    def _log_path(self, job: JobSpec, state: Path) -> Path:
        if job.trial_uri.startswith("s3://"):
            return state / "output.log"
        return Path(job.trial_uri) / "logs" / f"attempt-{job.attempt}.log"

    def _signal(self, job_id: str, sig: signal.Signals) -> None:
        pid_doc = _read_json(self.state_dir / job_id / "pid.json")
        if not pid_doc or not pid_alive(pid_doc["pid"], pid_doc.get("ticks")):
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid_doc["pid"], sig)

    def _status(self, job_id: str) -> JobStatus:
        state = self.state_dir / job_id
        job = _read_json(state / "job.json")
        if job is None:
            return JobStatus(job_id, JobState.LOST, reason="no such local job", infra_failure=True)
        log = job.get("log")
        pid_doc = _read_json(state / "pid.json")
        exit_doc = _read_json(state / "exit.json")
        if exit_doc is None and pid_doc is not None:
            if pid_alive(pid_doc["pid"], pid_doc.get("ticks")):
                self._enforce_timeout(job_id, state, job.get("timeout"), pid_doc)
                self._enforce_grace(job_id, state)
                return JobStatus(
                    job_id, JobState.RUNNING, log=log, started_at=pid_doc.get("started_at")
                )
            exit_doc = _read_json(state / "exit.json")  # it may have exited just now
        if exit_doc is not None:
            return self._ended(job_id, state, exit_doc, log)
        if pid_doc is None and self._clock() - job.get("submitted_at", 0) < _START_TIMEOUT:
            return JobStatus(job_id, JobState.PENDING, log=log)
        terminated = _read_json(state / "terminate.json")
        if terminated is not None:  # killed after its grace period: launcher went with it
            return JobStatus(job_id, JobState.FAILED, reason=_terminated(terminated), log=log)
        return JobStatus(
            job_id,
            JobState.LOST,
            reason="the job's process ended without recording an exit status "
            "(killed from outside or host restarted)",
            infra_failure=True,
            log=log,
            started_at=(pid_doc or {}).get("started_at"),
        )

    def _ended(self, job_id: str, state: Path, doc: dict, log: str | None) -> JobStatus:
        code = int(doc.get("returncode", -1))
        terminated = _read_json(state / "terminate.json")
        if terminated is not None:  # stopped on request, however cleanly it exited
            state_, reason = JobState.FAILED, _terminated(terminated)
        elif code == 0:
            state_, reason = JobState.SUCCEEDED, None
        elif code < 0:
            name = signal.Signals(-code).name if -code in signal.valid_signals() else -code
            state_, reason = JobState.FAILED, f"trainer killed by signal {name}"
        else:
            state_, reason = JobState.FAILED, doc.get("error") or f"trainer exited with code {code}"
        return JobStatus(
            job_id,
            state_,
            reason=reason,
            exit_code=code,
            log=log,
            started_at=doc.get("started_at"),
            ended_at=doc.get("ended_at"),
            output_tail=doc.get("tail") if state_ is JobState.FAILED and code > 0 else None,
        )

    def _enforce_timeout(
        self, job_id: str, state: Path, timeout: float | None, pid_doc: dict
    ) -> None:
        """Terminate a job that has run longer than its ``timeout`` (SIGTERM; grace follows)."""
        started = pid_doc.get("started_at")
        if not timeout or started is None or self._clock() - started < timeout:
            return
        if (state / "terminate.json").exists():
            return
        reason = f"timed out after {timeout:g}s (trainer.timeout)"
        write_json(state / "terminate.json", {"reason": reason, "timed_out": True,
                                              "at": self._clock()})  # fmt: skip
        self._signal(job_id, signal.SIGTERM)

    def _enforce_grace(self, job_id: str, state: Path) -> None:
        """SIGKILL a terminated job that outlived its grace period (also after a restart);
        ``killed_at`` in ``terminate.json`` records when, for the stop-lag accounting."""
        terminated = _read_json(state / "terminate.json")
        if terminated and self._clock() - terminated.get("at", 0) > self.grace_period:
            self._signal(job_id, signal.SIGKILL)
            if "killed_at" not in terminated:
                doc = {**terminated, "killed_at": self._clock()}
                write_json(state / "terminate.json", doc)
