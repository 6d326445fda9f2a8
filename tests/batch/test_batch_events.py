"""Batch completions by events: the fake lifecycle sends "Batch Job State Change" events
through moto's EventBridge to the study's own SQS queue; DescribeJobs only reconciles."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
from optuna.trial import TrialState

from hpo.backends.batch.subscription import event_pattern, resource_name
from hpo.controller.clock import FakeClock
from tests.batch.conftest import (
    EVENTS_PREFIX,
    QUEUE,
    REGION,
    REPO,
    STACK_NAME,
    event_clients,
    fake_clients,
    run_study,
    study_trials,
)
from tests.fakes.fake_batch import FakeBatch, Timings

QUICK_TRAINER = REPO / "tests" / "fakes" / "quick_trainer.py"
EVENT_STUDY = {"command": f"[python, {QUICK_TRAINER}]", "extra": f"  stack: {STACK_NAME}\n"}


def test_a_job_end_reaches_the_controller_at_once_whatever_the_poll_interval(
    make_fake: Callable[..., FakeBatch],
    s3: Any,
    event_stack: dict[str, str],
    write_batch_study: Callable[..., Path],
) -> None:
    clock = FakeClock()
    fake = make_fake(clock, Timings(submitted=1, runnable=5, starting=2, run=40))
    path = write_batch_study("ev", n_trials=8, max_parallel=4, poll_interval=30, **EVENT_STUDY)

    summary = run_study(path, event_clients(fake, clock, event_stack), s3, clock)

    assert summary.complete == 8
    assert all(t.state is TrialState.COMPLETE for t in study_trials(path))
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
    summary = run_study(path, fake_clients(fake, clock), s3, clock)
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

    summary = run_study(path, event_clients(fake, clock, {}), s3, clock)

    assert summary.complete == 4 and fake.calls["DescribeJobs"] <= 2
    assert url in sqs.list_queues()["QueueUrls"]  # yours: left in place
