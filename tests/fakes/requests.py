"""Count a controller's AWS requests by API and purpose, per trial (benchmarks and tests).

Batch requests come from :class:`~tests.fakes.fake_batch.FakeBatch`'s own counters; S3
requests are counted with a botocore ``before-parameter-build`` hook on the controller's S3
client, other services' (SQS, EventBridge, ECS, EC2) with :class:`ApiTally`.
Each request is one of: ``per-trial`` (params in, submit, result out, prune), ``polling``
(DescribeJobs, ListJobs, progress listings and reads, the events queue), ``pricing``
(instances and prices of attempts) or ``setup`` (once per run).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from hpo.store.layout import PARAMS, PROGRESS, RESULT

PER_TRIAL = "per-trial"
POLLING = "polling"
PRICING = "pricing"
SETUP = "setup"
_API_KIND = {
    "sqs ReceiveMessage": POLLING,
    "sqs DeleteMessageBatch": POLLING,
    "ecs DescribeContainerInstances": PRICING,
    "ec2 DescribeInstances": PRICING,
    "ec2 DescribeSpotPriceHistory": PRICING,
    "pricing GetProducts": PRICING,
}
_BATCH_KIND = {
    "SubmitJob": PER_TRIAL,
    "TerminateJob": PER_TRIAL,
    "CancelJob": PER_TRIAL,
    "DescribeJobs": POLLING,
    "ListJobs": POLLING,
    "RegisterJobDefinition": SETUP,
    "DescribeJobDefinitions": SETUP,
}


@dataclass(frozen=True)
class Row:
    """One API (and document, for S3) with its count and purpose."""

    api: str
    kind: str
    count: int


class S3Tally:
    """Counts the requests an S3 client makes, keyed by operation and trial document."""

    def __init__(self, client: Any) -> None:
        self.counts: Counter[tuple[str, str]] = Counter()
        client.meta.events.register("before-parameter-build.s3", self._on_call)

    def _on_call(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        key = str(params.get("Key", ""))
        name = key.rsplit("/", 1)[-1] if key else ""
        self.counts[(model.name, name)] += 1


class ApiTally:
    """Counts the requests a boto3 client makes, by operation (``<service> <Operation>``)."""

    def __init__(self, client: Any, service: str) -> None:
        self.service = service
        self.counts: Counter[str] = Counter()
        client.meta.events.register(f"before-call.{client.meta.service_model.service_id.hyphenize()}",
                                    self._on_call)  # fmt: skip

    def _on_call(self, model: Any, **_: Any) -> None:
        self.counts[f"{self.service} {model.name}"] += 1


def _s3_kind(operation: str, name: str) -> str:
    if operation == "ListObjectsV2" or name == PROGRESS:
        return POLLING
    if name in (PARAMS, RESULT, "control.json"):
        return PER_TRIAL
    return "other"


def tally(batch_calls: Counter[str], s3: S3Tally, *others: Counter[str]) -> list[Row]:
    """Every counted API as a :class:`Row`, per-trial first (``others``: more services'
    counts keyed ``<service> <Operation>``)."""
    rows = [Row(f"batch {api}", _BATCH_KIND.get(api, "other"), n) for api, n in batch_calls.items()]
    for (operation, name), n in s3.counts.items():
        label = f"s3 {operation} {name}".rstrip()
        rows.append(Row(label, _s3_kind(operation, name), n))
    for counts in others:
        rows += [Row(api, _API_KIND.get(api, SETUP), n) for api, n in counts.items() if n]
    order = {PER_TRIAL: 0, POLLING: 1, PRICING: 2, SETUP: 3}
    return sorted(rows, key=lambda r: (order.get(r.kind, 3), r.api))


def per_trial(rows: list[Row], trials: int, kind: str) -> float:
    """Requests of ``kind`` divided by ``trials``."""
    return sum(r.count for r in rows if r.kind == kind) / max(1, trials)
