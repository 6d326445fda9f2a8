"""A fast trainer for benchmarks: standard library only, talks to moto's S3 over plain HTTP.

``python quick_trainer.py [--steps N]`` reads ``params.json`` under ``HPO_TRIAL_URI``
(``s3://bucket/prefix``) from ``AWS_ENDPOINT_URL``, reports N progress steps and writes
``{"value": (x - 1)^2 + ...}`` as ``result.json`` (``--result-delay`` real seconds later).
moto checks no signatures, so a dummy ``Authorization`` header naming the S3 service is
enough; nothing here works on real AWS.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import urllib.request

_AUTH = (
    "AWS4-HMAC-SHA256 Credential=testing/20240101/us-east-1/s3/aws4_request, "
    "SignedHeaders=host, Signature=0"
)


def _url(name: str) -> str:
    bucket, _, prefix = os.environ["HPO_TRIAL_URI"][5:].partition("/")
    endpoint = os.environ["AWS_ENDPOINT_URL"].rstrip("/")
    return f"{endpoint}/{bucket}/{prefix.rstrip('/')}/{name}"


def _get(name: str) -> bytes:
    request = urllib.request.Request(_url(name), headers={"Authorization": _AUTH})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.read()


def _put(name: str, doc: object) -> None:
    headers = {"Authorization": _AUTH, "Content-Type": "application/json"}
    data = json.dumps(doc).encode()
    request = urllib.request.Request(_url(name), data=data, method="PUT", headers=headers)
    urllib.request.urlopen(request, timeout=30).close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=0)
    parser.add_argument("--result-delay", type=float, default=0.0, help="real seconds")
    args = parser.parse_args()
    params = json.loads(_get("params.json"))["params"]
    value = sum((float(v) - 1.0) ** 2 for v in params.values() if isinstance(v, int | float))
    steps = []
    for step in range(1, args.steps + 1):
        steps.append([step, value * (1 + 1 / step)])
        _put("progress.json", {"steps": steps})
    time.sleep(args.result_delay)  # a pruner sees the curve before the result is in
    _put("result.json", {"value": value})


if __name__ == "__main__":
    main()
