"""The controller's AWS requests per Batch trial stay within the issue's budget."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks.batch_requests import BUCKET, TARGET, measure
from hpo.testing.requests import PER_TRIAL, SETUP


def test_a_batch_trial_costs_three_requests_beyond_progress_polling(
    endpoint: str, s3: Any, tmp_path: Path
) -> None:
    s3.create_bucket(Bucket=BUCKET)
    report = measure(endpoint, s3, tmp_path, trials=16, parallel=8, steps=1)
    assert report.summary.complete == 16
    counts = {row.api: row.count for row in report.rows if row.kind == PER_TRIAL}
    assert counts == {
        "batch SubmitJob": 16,
        "s3 PutObject params.json": 16,
        "s3 GetObject result.json": 16,
    }
    assert report.per_trial(PER_TRIAL) == TARGET
    assert sum(r.count for r in report.rows if r.kind == SETUP) == 2  # job definition, once
