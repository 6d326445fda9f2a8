"""A Batch study whose controller crashes at every step of the lifecycle loses nothing.

Each crash abandons the controller mid-tick (a failpoint raises); the next run starts from
a fresh storage handle, backend and controller, so only what a real crash leaves survives:
the Optuna journal, S3 and the (fake) Batch service with its jobs still running.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.trial import TrialState

from hpo.backends.batch import make_batch_backend
from hpo.controller.clock import FakeClock
from hpo.controller.failpoints import Failpoints
from hpo.controller.loop import Controller, RunSummary
from hpo.spec import build
from hpo.spec.loader import load_study
from hpo.storage import open_storage
from hpo.store.s3 import S3Store
from tests.batch.conftest import BUCKET, REPO, fake_clients
from tests.fakes.fake_batch import FakeBatch, Timings

QUICK_TRAINER = REPO / "tests" / "fakes" / "quick_trainer.py"


class Crash(Exception):
    """The controller process died here."""


def crash() -> None:
    raise Crash


def run_once(path: Path, fake: FakeBatch, clock: FakeClock, s3: Any, points: str) -> RunSummary:
    study = load_study(path)  # everything below is new, as in a restarted process
    optuna_study = build.create_study(study, open_storage(study.storage_url))
    backend = make_batch_backend(study, clients=fake_clients(fake, clock))
    store = S3Store.from_uri(study.store_root, client=s3)
    controller = Controller(optuna_study, study.spec, backend, store, clock=clock,
                            failpoints=Failpoints(points, action=crash))  # fmt: skip
    return controller.run()


def test_crashes_at_every_step_never_duplicate_a_job_or_lose_a_result(
    make_fake: Callable[..., FakeBatch], s3: Any, write_batch_study: Callable[..., Path]
) -> None:
    clock = FakeClock()
    fake = make_fake(clock, Timings(submitted=1, runnable=3, starting=2, run=20))
    path = write_batch_study("chaos", n_trials=24, max_parallel=4, poll_interval=5,
                             command=f"[python, {QUICK_TRAINER}]")  # fmt: skip
    rng = random.Random(3)
    points = ["after_submit=1", "after_submit=3", "after_job_end=1", "after_stage=2",
              "after_record=2", "after_tell=1", "after_ask=3", "after_job_end=2"]  # fmt: skip
    points += [f"after_record={rng.randint(1, 4)}", f"after_job_end={rng.randint(1, 4)}"]
    for point in points:
        with pytest.raises(Crash):
            run_once(path, fake, clock, s3, point)
        clock.advance(rng.uniform(0, 30))  # jobs go on while no controller runs
    summary = run_once(path, fake, clock, s3, "")

    study = load_study(path)
    trials = optuna.load_study(study_name="chaos", storage=open_storage(study.storage_url)).trials
    assert summary.complete == 24 and len(points) >= 8
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 24  # none left RUNNING
    names = Counter(job.name for job in fake.jobs())
    assert names and max(names.values()) == 1  # no job submitted twice under one name
    assert {name.rsplit("-", 2)[1] for name in names} == {str(t.number) for t in trials}
    assert all(name.endswith("-1") for name in names)  # a crash is not a retry
    for t in trials:  # every value is what the trainer wrote to S3
        key = f"runs/chaos/trials/{t.number}/result.json"
        doc = json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
        assert t.value == doc["value"]
