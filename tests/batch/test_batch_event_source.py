"""The study's events queue (moto SQS): only Batch job state changes are believed; messages
are deleted when acknowledged, never on receipt."""

from __future__ import annotations

import json
import random
import threading
from typing import Any

import boto3

from hpo.backends.base import JobState, JobStatus
from hpo.backends.batch.client import Timer
from hpo.backends.batch.events import SqsEvents, event_detail
from hpo.backends.batch.status import job_status
from hpo.backends.batch.subscription import event_pattern, resource_name
from tests.batch.conftest import REGION


def body(detail: Any, **over: Any) -> str:
    doc = {"source": "aws.batch", "detail-type": "Batch Job State Change", "detail": detail}
    return json.dumps({**doc, **over})


def test_only_batch_job_state_changes_are_believed() -> None:
    job = {"jobId": "j-1", "status": "SUCCEEDED", "jobName": "s-0-1"}
    assert event_detail(body(job)) == job
    assert event_detail(body(job, source="aws.ec2")) is None
    assert event_detail(body(job, **{"detail-type": "Something else"})) is None
    assert event_detail(body({"jobId": "j-1", "status": "DONE"})) is None
    assert event_detail(body({"jobId": 7, "status": "RUNNING"})) is None
    assert event_detail(body(["not", "a", "dict"])) is None
    assert event_detail("{not json") is None
    assert event_detail(body({**job, "pad": "x" * 300_000})) is None


def test_a_malformed_job_in_an_event_yields_a_plain_status() -> None:
    job = {"jobId": "j-1", "status": "FAILED", "container": ["odd"], "attempts": "x",
           "statusReason": 5, "startedAt": "yesterday"}  # fmt: skip
    status = job_status(job, region=REGION, log_group="/g")
    assert status.state is JobState.FAILED and status.attempts == () and status.started_at is None


def test_messages_are_deleted_when_acknowledged_and_junk_at_once(aws: None) -> None:
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    for i in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=body({"jobId": f"j-{i}", "status": "RUNNING"}))
    sqs.send_message(QueueUrl=url, MessageBody="junk")

    def parse(job: dict[str, Any]) -> JobStatus | None:
        return job_status(job, region=REGION, log_group="/g")

    feed = SqsEvents(sqs, url, parse, timer=Timer(), rng=random.Random(0))
    events = feed.wait(1, threading.Event())
    assert sorted(e.status.job_id for e in events) == ["j-0", "j-1", "j-2"]
    left = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert left["ApproximateNumberOfMessagesNotVisible"] == "3"  # the junk is gone
    feed.ack(events)
    left = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert left["ApproximateNumberOfMessagesNotVisible"] == "0"
    assert left["ApproximateNumberOfMessages"] == "0"


def test_study_resource_names_fit_and_patterns_match_its_jobs_only() -> None:
    name = resource_name("hpo-ev-0a1b2c3d", "s" * 64)
    assert len(name) <= 64 and name.startswith("hpo-ev-0a1b2c3d-")
    assert resource_name("p", "study.x") != resource_name("p", "study-x")  # the hash tells
    pattern = event_pattern("my.study", "hpo-gpu")
    assert pattern["detail"]["jobName"] == [{"prefix": "my-study-"}]
    assert pattern["detail"]["jobQueue"] == [{"wildcard": "*/hpo-gpu"}]
