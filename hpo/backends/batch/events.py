"""Batch job state changes from an SQS queue that EventBridge fills (see ``subscription``).

:class:`SqsEvents` long-polls the queue (at most ``LONG_POLL`` seconds per ReceiveMessage,
so a stop request is seen within that), turns each message into a :class:`JobStatus` and
deletes messages only when told (``ack``): a controller killed before recording what a
message said gets it again once its visibility timeout ends. Messages are untrusted input:
anything that is not a "Batch Job State Change" event of the expected shape is dropped.
"""

from __future__ import annotations

import json
import logging
import math
import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from hpo.backends.base import JobStatus
from hpo.backends.batch.client import Timer, with_backoff

log = logging.getLogger(__name__)

LONG_POLL = 5  # seconds one ReceiveMessage may wait (SQS allows up to 20)
MAX_MESSAGE_BYTES = 262_144
_DRAIN = 10  # extra receives while full batches keep coming
DETAIL_TYPE = "Batch Job State Change"
BATCH_STATES = frozenset(
    {"SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED"}
)


@dataclass(frozen=True)
class QueuedEvent:
    """One job status from the queue, with the handle that deletes its message."""

    status: JobStatus
    receipt: str


def event_detail(body: str) -> dict[str, Any] | None:
    """The job in a message body, or None when it is not a Batch job state change event."""
    if len(body) > MAX_MESSAGE_BYTES:
        return None
    try:
        doc = json.loads(body)
    except ValueError:
        return None
    if not isinstance(doc, dict) or doc.get("source") != "aws.batch":
        return None
    if doc.get("detail-type") != DETAIL_TYPE or not isinstance(doc.get("detail"), dict):
        return None
    detail = doc["detail"]
    job_id, status = detail.get("jobId"), detail.get("status")
    if not isinstance(job_id, str) or not 0 < len(job_id) <= 128 or status not in BATCH_STATES:
        return None
    return detail


class SqsEvents:
    """The study's events queue. ``parse`` turns an event's job into a status (None: drop)."""

    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        parse: Callable[[dict[str, Any]], JobStatus | None],
        *,
        timer: Timer,
        rng: random.Random,
        on_close: Callable[[bool], None] | None = None,
    ) -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        self.parse = parse
        self.timer = timer
        self.rng = rng
        self.on_close = on_close

    def _aws(self, call: Callable[[], Any], what: str) -> Any:
        return with_backoff(call, what=what, timer=self.timer, rng=self.rng)

    def wait(self, seconds: float, wake: threading.Event) -> list[QueuedEvent]:
        """Events within ``seconds`` (long polls; returns with the first that arrive)."""
        deadline = self.timer.monotonic() + seconds
        while not wake.is_set():
            remaining = deadline - self.timer.monotonic()
            if remaining <= 0:
                return []
            events, full = self._receive(min(LONG_POLL, max(1, math.ceil(remaining))))
            for _ in range(_DRAIN):
                if not full:
                    break
                more, full = self._receive(0)
                events += more
            if events:
                return events
        return []

    def _receive(self, wait: int) -> tuple[list[QueuedEvent], bool]:
        """One ReceiveMessage: the events, and whether the batch was full (more may wait)."""
        response = self._aws(
            lambda: self.sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait
            ),
            "SQS ReceiveMessage",
        )
        messages = response.get("Messages", [])
        events, junk = [], []
        for message in messages:
            detail = event_detail(str(message.get("Body", "")))
            status = self.parse(detail) if detail is not None else None
            if status is None:
                junk.append(message["ReceiptHandle"])
            else:
                events.append(QueuedEvent(status, message["ReceiptHandle"]))
        if junk:
            log.warning("dropping %d messages that are not Batch job events", len(junk))
            self._delete(junk)
        return events, len(messages) == 10

    def ack(self, events: Sequence[Any]) -> None:
        """Delete the events' messages (10 per DeleteMessageBatch)."""
        self._delete([e.receipt for e in events])

    def _delete(self, receipts: list[str]) -> None:
        for start in range(0, len(receipts), 10):
            chunk = receipts[start : start + 10]
            entries = [{"Id": str(i), "ReceiptHandle": r} for i, r in enumerate(chunk)]
            answer = self._aws(
                lambda entries=entries: self.sqs.delete_message_batch(
                    QueueUrl=self.queue_url, Entries=entries
                ),
                "SQS DeleteMessageBatch",
            )
            if answer.get("Failed"):  # they come back later and are dropped as seen
                log.info("%d event messages were not deleted", len(answer["Failed"]))

    def close(self, *, done: bool) -> None:
        if self.on_close is not None:
            self.on_close(done)
