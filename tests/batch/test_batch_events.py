"""Batch completions by events: the fake lifecycle sends "Batch Job State Change" events
through moto's EventBridge to the study's own SQS queue; DescribeJobs only reconciles."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import optuna
from optuna.trial import TrialState

from hpo.backends.batch import make_batch_backend
from hpo.backends.batch.subscription import event_pattern, resource_name
from hpo.controller.clock import FakeClock
from hpo.controller.loop import Controller, RunSummary
from hpo.spec import build
from hpo.spec.loader import load_study
from hpo.storage import open_storage
from hpo.store.s3 import S3Store
from tests.batch.conftest import (
    EVENTS_PREFIX,
    QUEUE,
    REGION,
    REPO,
    STACK_NAME,
    event_clients,
    fake_clients,
)
from tests.fakes.fake_batch import FakeBatch, Timings

QUICK_TRAINER = REPO / "tests" / "fakes" / "quick_trainer.py"
EVENT_STUDY = {"command": f"[python, {QUICK_TRAINER}]", "extra": f"  stack: {STACK_NAME}\n"}


def run(path: Path, fake: FakeBatch, clock: FakeClock, s3: Any, clients: Any) -> RunSummary:
    study = load_study(path)
    optuna_study = build.create_study(study, open_storage(study.storage_url))
    backend = make_batch_backend(study, clients=clients)
    store = S3Store.from_uri(study.store_root, client=s3)
    try:
        return Controller(optuna_study, study.spec, backend, store, clock=clock).run()
    finally:
        backend.close()


def trials(path: Path) -> list[optuna.trial.FrozenTrial]:
    study = load_study(path)
    return optuna.load_study(study_name=study.spec.name,
                             storage=open_storage(study.storage_url)).trials  # fmt: skip


def test_a_job_end_reaches_the_controller_at_once_whatever_the_poll_interval(
    make_fake: Callable[..., FakeBatch],
    s3: Any,
    event_stack: dict[str, str],
    write_batch_study: Callable[..., Path],
) -> None:
    clock = FakeClock()
    fake = make_fake(clock, Timings(submitted=1, runnable=5, starting=2, run=40))
    path = write_batch_study("ev", n_trials=8, max_parallel=4, poll_interval=30, **EVENT_STUDY)

    summary = run(path, fake, clock, s3, event_clients(fake, clock, event_stack))

    assert summary.complete == 8
    assert all(t.state is TrialState.COMPLETE for t in trials(path))
    jobs = sorted(fake.jobs(), key=lambda j: j.created)
    ends = sorted(j.attempts[-1].stopped for j in jobs)
    for job in jobs[4:]:  # each later job was submitted the moment an earlier one ended
        assert min(job.created - end for end in ends if end <= job.created) == 0.0
    assert fake.calls["DescribeJobs"] <= 2  # reconciliation at start (and 5 minutes in)
    sqs = boto3.client("sqs", region_name=REGION)  # the study's queue is gone with the study
    name = resource_name(EVENTS_PREFIX, "ev")
    assert not [u for u in sqs.list_queues().get("QueueUrls", []) if u.endswith(name)]


def test_without_a_queue_the_controller_polls_as_before(
    fake: FakeBatch, clock: FakeClock, s3: Any, write_batch_study: Callable[..., Path]
) -> None:
    path = write_batch_study("poll", n_trials=4, max_parallel=2, poll_interval=30,
                             command=f"[python, {QUICK_TRAINER}]")  # fmt: skip
    summary = run(path, fake, clock, s3, fake_clients(fake, clock))
    assert summary.complete == 4
    assert fake.calls["DescribeJobs"] >= 4  # every poll describes the jobs


def test_a_queue_of_your_own_is_read_and_kept(
    make_fake: Callable[..., FakeBatch],
    s3: Any,
    event_stack: dict[str, str],
    write_batch_study: Callable[..., Path],
) -> None:
    sqs, events = (
        boto3.client("sqs", region_name=REGION),
        boto3.client("events", region_name=REGION),
    )
    url = sqs.create_queue(QueueName="my-study-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    events.put_rule(Name="mine", EventPattern=json.dumps(event_pattern("own", QUEUE)))
    events.put_targets(Rule="mine", Targets=[{"Id": "q", "Arn": arn["QueueArn"]}])
    clock = FakeClock()
    fake = make_fake(clock, Timings(submitted=1, runnable=5, starting=2, run=40))
    path = write_batch_study("own", n_trials=4, max_parallel=2, poll_interval=30,
                             command=f"[python, {QUICK_TRAINER}]",
                             extra=f"  events_queue_url: {url}\n")  # fmt: skip

    summary = run(path, fake, clock, s3, event_clients(fake, clock, {}))

    assert summary.complete == 4 and fake.calls["DescribeJobs"] <= 2
    assert url in sqs.list_queues()["QueueUrls"]  # yours: left in place
