"""The shared backend contract (tests/backend_contract.py), run on the Batch backend.

Jobs go through the fake Batch lifecycle on a fake clock; their trainers are real
subprocesses (hpo/testing/contract_trainer.py) that reach moto's S3 through the moto server.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from hpo.backends.base import Backend, JobSpec, JobStatus
from hpo.backends.batch.backend import BatchBackend
from hpo.backends.batch.settings import BatchSettings
from hpo.controller.clock import FakeClock
from hpo.testing import CONTRACT_TRAINER
from hpo.testing.backend_contract import PROGRAM_ENV, BackendContract
from tests.batch.conftest import BUCKET, IMAGE, QUEUE, fake_clients
from tests.fakes.fake_batch import FakeBatch

STEP = 10.0  # fake seconds between polls


class BatchHarness:
    """Batch backends over one fake; trial documents in moto's S3."""

    def __init__(self, fake: FakeBatch, clock: FakeClock, s3: Any) -> None:
        self.fake = fake
        self.clock = clock
        self.s3 = s3
        self.settings = BatchSettings(
            study="s",
            job_queue=QUEUE,
            command=["python", str(CONTRACT_TRAINER)],
            image=IMAGE,
            retry_attempts=1,
            poll_interval=STEP,
        )

    def backend(self) -> BatchBackend:
        return BatchBackend(self.settings, fake_clients(self.fake, self.clock))

    def job(self, program: str, trial: int) -> JobSpec:
        doc = {"params": {}, "trial": trial, "study": "s", "attempt": 1}
        key = f"runs/s/trials/{trial}"
        self.s3.put_object(Bucket=BUCKET, Key=f"{key}/params.json", Body=json.dumps(doc))
        return JobSpec(name=f"s-{trial}-1", study="s", trial=trial, attempt=1,
                       trial_uri=f"s3://{BUCKET}/{key}", env={PROGRAM_ENV: program})  # fmt: skip

    def wait_for(
        self, backend: Backend, job_id: str, done: Callable[[JobStatus], bool]
    ) -> JobStatus:
        for _ in range(100):
            status = backend.poll([job_id])[job_id]
            if done(status):
                return status
            self.clock.advance(STEP)
        raise AssertionError(f"job {job_id} never reached the expected state: {status}")

    def result(self, job: JobSpec) -> bytes | None:
        key = job.trial_uri.removeprefix(f"s3://{BUCKET}/") + "/result.json"
        try:
            return self.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        except self.s3.exceptions.NoSuchKey:
            return None


class TestBatchBackendContract(BackendContract):
    @pytest.fixture
    def harness(self, fake: FakeBatch, clock: FakeClock, s3: Any) -> BatchHarness:
        return BatchHarness(fake, clock, s3)
