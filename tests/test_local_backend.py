"""The local backend: the shared contract plus what only local processes have."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from hpo.backends.base import Backend, JobSpec, JobState, JobStatus
from hpo.backends.local import LocalBackend
from hpo.testing import CONTRACT_TRAINER
from hpo.testing.backend_contract import PROGRAM_ENV, BackendContract, finished

TRAINER = CONTRACT_TRAINER


class LocalHarness:
    def __init__(self, root: Path, grace_period: float = 5.0) -> None:
        self.root = root
        self.grace_period = grace_period

    def backend(self) -> LocalBackend:
        return LocalBackend([sys.executable, str(TRAINER)], self.root / "jobs",
                            grace_period=self.grace_period)  # fmt: skip

    def job(self, program: str, trial: int) -> JobSpec:
        trial_dir = self.root / "s" / "trials" / str(trial)
        trial_dir.mkdir(parents=True, exist_ok=True)
        doc = {"params": {}, "trial": trial, "study": "s", "attempt": 1}
        (trial_dir / "params.json").write_text(json.dumps(doc))
        return JobSpec(name=f"s-{trial}-1", study="s", trial=trial, attempt=1,
                       trial_uri=str(trial_dir), env={PROGRAM_ENV: program})  # fmt: skip

    def wait_for(
        self, backend: Backend, job_id: str, done: Callable[[JobStatus], bool]
    ) -> JobStatus:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            status = backend.poll([job_id])[job_id]
            if done(status):
                return status
            time.sleep(0.02)
        raise AssertionError(f"job {job_id} never reached the expected state: {status}")

    def result(self, job: JobSpec) -> bytes | None:
        path = Path(job.trial_uri, "result.json")
        return path.read_bytes() if path.exists() else None


class TestLocalBackendContract(BackendContract):
    @pytest.fixture
    def harness(self, tmp_path: Path) -> LocalHarness:
        return LocalHarness(tmp_path)


@pytest.fixture
def harness(tmp_path: Path) -> LocalHarness:
    return LocalHarness(tmp_path, grace_period=0.3)


def _pid(harness: LocalHarness, job_id: str) -> int:
    return json.loads((harness.root / "jobs" / job_id / "pid.json").read_text())["pid"]


def test_jobs_run_in_their_own_session_and_log_to_the_trial_dir(harness: LocalHarness) -> None:
    backend = harness.backend()
    job = harness.job("fail", 0)
    job_id = backend.submit(job)
    harness.wait_for(backend, job_id, lambda s: s.state is not JobState.PENDING)
    pid = _pid(harness, job_id)
    status = harness.wait_for(backend, job_id, finished)
    assert pid != os.getpid()
    log = Path(job.trial_uri, "logs", "attempt-1.log")
    assert status.log == str(log) and log.read_text().strip() == "boom"


def test_the_exit_record_has_the_trainers_cpu_seconds(harness: LocalHarness) -> None:
    """Wall time includes waiting for a busy machine; CPU seconds are the trainer's own work."""
    backend = harness.backend()
    job_id = backend.submit(harness.job("burn", 0))
    status = harness.wait_for(backend, job_id, finished)
    assert status.state is JobState.SUCCEEDED
    doc = json.loads((harness.root / "jobs" / job_id / "exit.json").read_text())
    assert 0.3 <= doc["cpu_seconds"] < doc["ended_at"] - doc["started_at"]


def test_a_job_keeps_running_in_a_new_session(harness: LocalHarness) -> None:
    backend = harness.backend()
    job_id = backend.submit(harness.job("hang", 0))
    harness.wait_for(backend, job_id, lambda s: s.state is JobState.RUNNING)
    pid = _pid(harness, job_id)
    assert os.getsid(pid) == pid != os.getsid(0)  # SIGHUP/Ctrl-C of the controller miss it
    backend.terminate(job_id, "done")
    harness.wait_for(backend, job_id, finished)


def test_a_killed_job_is_lost_and_an_infrastructure_failure(harness: LocalHarness) -> None:
    backend = harness.backend()
    job_id = backend.submit(harness.job("hang", 0))
    harness.wait_for(backend, job_id, lambda s: s.state is JobState.RUNNING)
    os.killpg(_pid(harness, job_id), signal.SIGKILL)  # the host "went away"
    status = harness.wait_for(backend, job_id, finished)
    assert status.state is JobState.LOST and status.infra_failure
    assert "without recording an exit status" in status.reason


def test_a_trainer_ignoring_sigterm_is_killed_after_the_grace_period(
    harness: LocalHarness,
) -> None:
    backend = harness.backend()
    job = harness.job("ignore-term", 0)
    job_id = backend.submit(job)
    log = Path(job.trial_uri, "logs", "attempt-1.log")
    harness.wait_for(  # signal only once the trainer has installed its SIG_IGN handler
        backend, job_id, lambda s: log.exists() and "ignoring SIGTERM" in log.read_text()
    )
    backend.terminate(job_id, "pruned at step 1")
    status = harness.wait_for(backend, job_id, finished)
    assert status.state is JobState.FAILED and status.reason == "terminated: pruned at step 1"
    assert _group_gone(backend, job_id, _pid(harness, job_id))
    stop = json.loads((harness.root / "jobs" / job_id / "terminate.json").read_text())
    assert stop["killed_at"] - stop["at"] >= harness.grace_period  # when SIGKILL went out


def _group_gone(backend: Backend, job_id: str, pgid: int, timeout: float = 5.0) -> bool:
    """True once no process of the job's group is left (SIGKILL delivery is asynchronous)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        backend.poll([job_id])  # reaps our own exited launcher
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.01)
    return False


def test_a_missing_trainer_program_fails_its_job(tmp_path: Path) -> None:
    harness = LocalHarness(tmp_path)
    backend = LocalBackend([str(tmp_path / "no-such-program")], tmp_path / "jobs")
    job_id = backend.submit(harness.job("succeed", 0))
    status = harness.wait_for(backend, job_id, finished)
    assert status.state is JobState.FAILED and status.exit_code == 127
    assert "cannot start" in status.reason or "No such file" in status.reason
