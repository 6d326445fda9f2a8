"""The controller's AWS requests per Batch trial stay within the issue's budget."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks.batch_requests import BUCKET, TARGET, Run, measure
from tests.fakes.requests import PER_TRIAL, SETUP


def test_a_batch_trial_costs_three_requests_beyond_progress_polling(
    endpoint: str, s3: Any, tmp_path: Path
) -> None:
    s3.create_bucket(Bucket=BUCKET)
    report = measure(endpoint, s3, tmp_path, Run(trials=16, parallel=8, steps=1))
    assert report.summary.complete == 16
    counts = {row.api: row.count for row in report.rows if row.kind == PER_TRIAL}
    assert counts == {
        "batch SubmitJob": 16,
        "s3 PutObject params.json": 16,
        "s3 GetObject result.json": 16,
    }
    assert report.per_trial(PER_TRIAL) == TARGET
    assert sum(r.count for r in report.rows if r.kind == SETUP) == 2  # job definition, once


def test_in_event_mode_a_trial_costs_the_same_and_describe_jobs_only_reconciles(
    endpoint: str, s3: Any, tmp_path: Path
) -> None:
    s3.create_bucket(Bucket=BUCKET)
    polled = measure(endpoint, s3, tmp_path / "poll", Run(trials=16, parallel=8, steps=1,
                                                          poll=30))  # fmt: skip
    pushed = measure(endpoint, s3, tmp_path / "events", Run(trials=16, parallel=8, steps=1,
                                                            poll=30, events=True))  # fmt: skip
    assert pushed.summary.complete == 16 and pushed.per_trial(PER_TRIAL) == TARGET
    assert pushed.count("batch DescribeJobs") <= 4 < polled.count("batch DescribeJobs")
    assert pushed.count("sqs ReceiveMessage") > 0 and polled.count("sqs ReceiveMessage") == 0
    assert pushed.count("events PutRule") == 1 and pushed.count("sqs DeleteQueue") == 1
    assert max(pushed.idle) < 5 < max(polled.idle)  # a freed slot waits for the next poll
    assert polled.count("s3 GetObject progress.json") == 16  # no pruner: once per trial
    assert polled.count("s3 ListObjectsV2") == 0
