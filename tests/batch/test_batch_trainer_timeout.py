"""``trainer.timeout`` on Batch is the attempt timeout; a timed-out job says after how long."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from hpo.backends.base import JobSpec
from hpo.backends.batch.backend import BatchBackend
from hpo.backends.batch.status import job_status
from hpo.errors import SpecError
from hpo.spec.loader import load_study
from tests.fakes.fake_batch import FakeBatch


def test_trainer_timeout_is_the_attempt_timeout(
    batch_backend: Callable[..., BatchBackend], fake: FakeBatch
) -> None:
    backend = batch_backend(command='["true"]\n  timeout: 90s')
    spec = JobSpec(name="bt-0-1", study="bt", trial=0, attempt=1, trial_uri="s3://b/p/0")
    got = fake.job(backend.submit(spec))
    assert got.timeout == 90
    assert got.definition["timeout"] == {"attemptDurationSeconds": 90}


def test_batch_refuses_a_trainer_timeout_below_a_minute_or_given_twice(
    write_batch_study: Callable[..., Path],
) -> None:
    with pytest.raises(SpecError, match="AWS Batch needs a timeout of at least 60 seconds"):
        load_study(write_batch_study(command='["true"]\n  timeout: 30s'))
    with pytest.raises(SpecError, match="give the attempt timeout once"):
        load_study(write_batch_study(command='["true"]\n  timeout: 2m', extra="  timeout: 2m\n"))


def test_a_timed_out_job_says_after_how_long() -> None:
    job = {"jobId": "j", "status": "FAILED", "timeout": {"attemptDurationSeconds": 90},
           "statusReason": "Job attempt duration exceeded timeout"}  # fmt: skip
    got = job_status(job, region="us-east-1", log_group="/aws/batch/job")
    assert got.reason == "timed out after 90s (Job attempt duration exceeded timeout)"
    assert not got.infra_failure  # not retried
