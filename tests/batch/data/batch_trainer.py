"""A trainer for the Batch tests; ``FAKE_TRAINER_MODE`` (set per job by the fake) picks:

``succeed`` (default) reports two steps and finishes with ``(x - 1)^2``; ``fail`` prints a
CUDA-style error and exits 3; ``malformed`` writes a result.json that is not JSON.
"""

import os
import sys

import boto3

from hpo import worker

mode = os.environ.get("FAKE_TRAINER_MODE", "succeed")
trial = worker.current()
value = (float(trial.params.get("x", 0.0)) - 1.0) ** 2
if mode == "fail":
    print("RuntimeError: CUDA error: out of memory", file=sys.stderr, flush=True)
    sys.exit(3)
if mode == "malformed":
    bucket, _, prefix = trial.uri[5:].partition("/")
    s3 = boto3.client("s3", endpoint_url=os.environ.get("AWS_ENDPOINT_URL"))
    s3.put_object(Bucket=bucket, Key=f"{prefix}/result.json", Body=b"{not json")
    sys.exit(0)
trial.report(1, value + 1.0)
trial.report(2, value + 0.5)
trial.finish(value)
print(f"attempt {os.environ.get('AWS_BATCH_JOB_ATTEMPT')} finished: {value}", flush=True)
