"""DescribeJobs entries -> JobStatus, job names, job definition names (no AWS at all)."""

from __future__ import annotations

from typing import Any

import pytest

from hpo.backends.base import JobState, sanitize_job_name
from hpo.backends.batch.client import Timer
from hpo.backends.batch.jobdef import definition_body, definition_name
from hpo.backends.batch.ratelimit import TokenBucket
from hpo.backends.batch.settings import BatchSettings
from hpo.backends.batch.status import console_url, job_status
from hpo.controller.clock import FakeClock


def status(**job: Any) -> Any:
    return job_status({"jobId": "j-1", **job}, region="eu-west-1", log_group="/aws/batch/job")


@pytest.mark.parametrize(
    ("raw", "state"),
    [
        ("SUBMITTED", JobState.PENDING),
        ("PENDING", JobState.PENDING),
        ("RUNNABLE", JobState.PENDING),
        ("STARTING", JobState.PENDING),
        ("RUNNING", JobState.RUNNING),
        ("SUCCEEDED", JobState.SUCCEEDED),
        ("FAILED", JobState.FAILED),
        ("SOMETHING_NEW", JobState.UNKNOWN),
    ],
)
def test_batch_states_map_to_job_states(raw: str, state: JobState) -> None:
    assert status(status=raw).state is state


def test_a_failed_job_names_status_reason_container_reason_and_exit_code() -> None:
    got = status(
        status="FAILED",
        statusReason="Essential container in task exited",
        container={"exitCode": 137, "reason": "OutOfMemoryError: Container killed"},
    )
    assert got.reason == (
        "Essential container in task exited; OutOfMemoryError: Container killed; exit code 137"
    )
    assert got.exit_code == 137 and not got.infra_failure


@pytest.mark.parametrize(
    ("reason", "infra"),
    [
        ("Host EC2 (instance i-0abc) terminated.", True),
        ("CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY - no capacity", True),
        ("MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT - too big", False),
        ("Job attempt duration exceeded timeout", False),
        ("pruned at step 4", False),
    ],
)
def test_infrastructure_failures_are_told_apart(reason: str, infra: bool) -> None:
    assert status(status="FAILED", statusReason=reason).infra_failure is infra


def test_a_reclaim_seen_only_on_the_last_attempt_is_infra() -> None:
    attempt = {"statusReason": "Host EC2 (instance i-1) terminated.", "container": {}}
    got = status(status="FAILED", statusReason="", attempts=[attempt, attempt])
    assert got.infra_failure and got.reason.endswith("after 2 Batch attempts")


def test_timeouts_say_so() -> None:
    got = status(status="FAILED", statusReason="Job attempt duration exceeded timeout")
    assert got.reason == "timed out (Job attempt duration exceeded timeout)"


def test_log_stream_comes_from_the_container_or_the_last_attempt() -> None:
    direct = status(status="RUNNING", container={"logStreamName": "hpo/default/abc"})
    nested = status(
        status="SUCCEEDED",
        container={},
        attempts=[{"container": {"logStreamName": "hpo/default/old"}},
                  {"container": {"logStreamName": "hpo/default/new", "exitCode": 0}}],
    )  # fmt: skip
    assert direct.log_stream == "hpo/default/abc"
    assert nested.log_stream == "hpo/default/new" and nested.exit_code == 0
    assert nested.log == console_url("eu-west-1", "/aws/batch/job", "hpo/default/new")


def test_console_url_escapes_like_the_cloudwatch_console() -> None:
    url = console_url("eu-west-1", "/aws/batch/job", "hpo/default/abc")
    assert url == (
        "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1"
        "#logsV2:log-groups/log-group/$252Faws$252Fbatch$252Fjob"
        "/log-events/hpo$252Fdefault$252Fabc"
    )


def test_times_are_epoch_seconds() -> None:
    got = status(status="SUCCEEDED", startedAt=1_700_000_000_500, stoppedAt=1_700_000_060_000)
    assert (got.started_at, got.ended_at) == (1_700_000_000.5, 1_700_000_060.0)


@pytest.mark.parametrize(
    ("name", "expected"),
    [("my-study-3-1", "my-study-3-1"), ("my.study 3", "my-study-3"), ("__x", "x")],
)
def test_job_names_are_sanitised(name: str, expected: str) -> None:
    assert sanitize_job_name(name) == expected


def test_job_names_are_at_most_128_chars() -> None:
    assert len(sanitize_job_name("a" * 200)) == 128


def test_definition_names_hash_the_content() -> None:
    base = BatchSettings(study="s", job_queue="q", command=["python", "t.py"], image="img:1")
    same = BatchSettings(study="s", job_queue="other", command=["python", "t.py"], image="img:1")
    other = BatchSettings(study="s", job_queue="q", command=["python", "t.py"], image="img:2")
    name = definition_name("s", definition_body(base))
    assert name.startswith("hpo-s-") and len(name) <= 128
    assert definition_name("s", definition_body(same)) == name  # the queue is not in it
    assert definition_name("s", definition_body(other)) != name


def test_token_bucket_allows_a_burst_then_the_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(40, Timer(monotonic=clock.monotonic, sleep=clock.advance))
    slept = [bucket.acquire() for _ in range(30)]
    assert slept[:10] == [0.0] * 10 and all(s == pytest.approx(1 / 40) for s in slept[10:])
