"""The backend contract (see :mod:`hpo.backends.base`), one suite for every backend.

A backend's test module subclasses :class:`BackendContract` and provides a ``harness``
fixture. Jobs run :mod:`hpo.testing.contract_trainer` with one of its programs, chosen by
``JobSpec.env["HPO_TEST_PROGRAM"]``: ``succeed`` writes ``{"value": 1.5}`` as its result and
exits 0, ``fail`` prints ``boom`` and exits 3, ``hang`` runs until it is terminated.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import pytest

from hpo.backends.base import Backend, JobSpec, JobState, JobStatus
from hpo.testing.contract_trainer import PROGRAM_ENV

__all__ = ["PROGRAM_ENV", "BackendContract", "Harness", "finished"]


class Harness(Protocol):
    def backend(self) -> Backend:
        """A new backend instance over the same jobs (a second one models a restart)."""

    def job(self, program: str, trial: int) -> JobSpec:
        """A job for trial ``trial`` that runs ``program``; its params are staged."""

    def wait_for(
        self, backend: Backend, job_id: str, done: Callable[[JobStatus], bool]
    ) -> JobStatus:
        """Poll (advancing a fake clock if there is one) until ``done(status)``; fail on timeout."""

    def result(self, job: JobSpec) -> bytes | None:
        """The result document the job's trainer wrote."""


def finished(status: JobStatus) -> bool:
    return status.state.finished


class BackendContract:
    """Behaviour every backend must have. Subclasses provide the ``harness`` fixture."""

    @pytest.fixture
    def harness(self) -> Harness:  # pragma: no cover - overridden
        raise NotImplementedError

    def test_a_job_runs_to_success(self, harness: Harness) -> None:
        backend = harness.backend()
        job = harness.job("succeed", 0)
        job_id = backend.submit(job)
        status = harness.wait_for(backend, job_id, finished)
        assert status.state is JobState.SUCCEEDED, status
        assert status.job_id == job_id and not status.infra_failure
        assert harness.result(job) == b'{"value": 1.5}'

    def test_a_failing_trainer_is_failed_with_its_exit_code(self, harness: Harness) -> None:
        backend = harness.backend()
        job_id = backend.submit(harness.job("fail", 1))
        status = harness.wait_for(backend, job_id, finished)
        assert status.state is JobState.FAILED
        assert status.exit_code == 3 and "3" in (status.reason or "")
        assert not status.infra_failure

    def test_find_returns_the_job_submitted_under_a_name(self, harness: Harness) -> None:
        backend = harness.backend()
        job = harness.job("succeed", 2)
        job_id = backend.submit(job)
        assert backend.find(job.name) == job_id
        assert backend.find(job.name + "-nope") is None

    def test_terminate_stops_a_running_job(self, harness: Harness) -> None:
        backend = harness.backend()
        job_id = backend.submit(harness.job("hang", 3))
        harness.wait_for(backend, job_id, lambda s: s.state is JobState.RUNNING)
        backend.terminate(job_id, "pruned at step 2")
        backend.terminate(job_id, "pruned at step 2")  # idempotent
        status = harness.wait_for(backend, job_id, finished)
        assert status.state is JobState.FAILED and not status.infra_failure
        assert "pruned at step 2" in (status.reason or "")

    def test_a_new_backend_instance_reattaches_to_running_jobs(self, harness: Harness) -> None:
        job = harness.job("hang", 4)
        job_id = harness.backend().submit(job)
        again = harness.backend()  # the controller restarted
        assert again.find(job.name) == job_id
        assert harness.wait_for(again, job_id, lambda s: s.state is JobState.RUNNING)
        again.terminate(job_id, "cancelled")
        assert harness.wait_for(again, job_id, finished).state is JobState.FAILED

    def test_poll_answers_for_many_jobs_and_unknown_ids(self, harness: Harness) -> None:
        backend = harness.backend()
        ids = [backend.submit(harness.job("succeed", 10 + i)) for i in range(3)]
        for job_id in ids:
            harness.wait_for(backend, job_id, finished)
        statuses = backend.poll([*ids, "no-such-job"])
        assert [statuses[i].state for i in ids] == [JobState.SUCCEEDED] * 3
        assert statuses["no-such-job"].state in (JobState.UNKNOWN, JobState.LOST)
