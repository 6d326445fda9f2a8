"""EventBridge for the fake Batch, and an SQS long poll that runs on the fake clock.

Batch itself emits a "Batch Job State Change" event for every state change after submit;
moto's Batch never does. :class:`BatchEvents` is the fake's emitter: each change becomes an
event sent with PutEvents to moto's EventBridge, whose rules route it (to the studies' SQS
queues). Like the real service it may deliver an event twice and out of order (``Delivery``).
:class:`FakeTimeSqs` wraps an SQS client so that a long poll with nothing to receive moves
the fake clock from one state change of the fake Batch to the next (at most the poll's wait),
lets the fake apply each, and returns once one sent a message: a long poll, without waiting.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

DETAIL_TYPE = "Batch Job State Change"


@dataclass(frozen=True)
class Delivery:
    """How events reach EventBridge: ``duplicate`` is the chance an event is sent again
    with the next batch; ``shuffle`` sends each batch in random order."""

    duplicate: float = 0.0
    shuffle: bool = False
    seed: int = 0


class BatchEvents:
    """Collects the fake's job state changes and sends them with PutEvents (``flush``)."""

    def __init__(self, events_client: Any, delivery: Delivery | None = None) -> None:
        self.client = events_client
        self.delivery = delivery or Delivery()
        self.rng = random.Random(self.delivery.seed)
        self.sent = 0
        self._pending: list[dict[str, Any]] = []
        self._again: list[dict[str, Any]] = []

    def __call__(self, detail: dict[str, Any], at: float) -> None:
        """Note one state change (``detail`` is the job's DescribeJobs entry at fake ``at``)."""
        self._pending.append(
            {
                "Source": "aws.batch",
                "DetailType": DETAIL_TYPE,
                "Detail": json.dumps(detail),
                "Resources": [detail["jobArn"]],
                "Time": datetime.fromtimestamp(at, UTC),
            }
        )

    def flush(self) -> None:
        """Send what changed (and the duplicates held back from the batch before)."""
        batch, self._again = self._again + self._pending, []
        self._pending = []
        for entry in batch:
            if self.rng.random() < self.delivery.duplicate:
                self._again.append(entry)
        if self.delivery.shuffle:
            self.rng.shuffle(batch)
        for start in range(0, len(batch), 10):
            self.client.put_events(Entries=batch[start : start + 10])
        self.sent += len(batch)


class _Fake(Protocol):
    def step(self) -> None: ...

    def next_change(self) -> float | None: ...


class FakeTimeSqs:
    """An SQS client whose ReceiveMessage long poll waits on the fake clock (see module)."""

    def __init__(
        self,
        sqs: Any,
        fake: _Fake,
        now: Callable[[], float],
        advance: Callable[[float], None],
    ) -> None:
        self._sqs = sqs
        self._fake = fake
        self._now = now
        self._advance = advance
        self.calls: dict[str, int] = {}

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._sqs, name)
        if not callable(attr):
            return attr

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] = self.calls.get(name, 0) + 1
            return attr(*args, **kwargs)

        return counted

    def receive_message(self, **kwargs: Any) -> dict[str, Any]:
        self.calls["receive_message"] = self.calls.get("receive_message", 0) + 1
        deadline = self._now() + float(kwargs.pop("WaitTimeSeconds", 0))
        while True:  # like SQS: return once a message is there, or when the wait is over
            got = self._sqs.receive_message(WaitTimeSeconds=0, **kwargs)
            remaining = deadline - self._now()
            if got.get("Messages") or remaining <= 0:
                return got
            due = self._fake.next_change()
            self._advance(remaining if due is None else min(remaining, max(0.0, due - self._now())))
            self._fake.step()


class StackOutputs:
    """A CloudFormation client that knows one stack's outputs (a study with ``stack:``)."""

    def __init__(self, outputs: dict[str, str]) -> None:
        self.outputs = outputs

    def describe_stacks(self, StackName: str) -> dict[str, Any]:
        items = [{"OutputKey": k, "OutputValue": v} for k, v in self.outputs.items()]
        return {"Stacks": [{"StackName": StackName, "Outputs": items}]}


def event_outputs(sqs: Any, prefix: str) -> dict[str, str]:
    """What a deployed stack gives the controller for job events: the study-queue name prefix
    and a dead-letter queue (made here)."""
    url = sqs.create_queue(QueueName=f"{prefix}-dead-letters")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    return {"StudyEventsPrefix": prefix, "EventsDeadLetterQueueArn": arn["QueueArn"]}
