"""The retry policy: what a failed job means for its trial.

A trainer error fails the trial. An infrastructure failure (spot reclaim, lost host, vanished
job) keeps a valid result the trainer wrote before the host went away, else starts another
attempt while ``retries.max_attempts`` allows, else fails the trial (and, with
``retries.requeue``, enqueues its params as a new trial).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

from hpo.backends.base import JobStatus
from hpo.controller.documents import InvalidDocument, Outcome


class Verdict(enum.Enum):
    FAIL = "fail"
    COMPLETE = "complete"  # the result was in before the infrastructure failed
    RETRY = "retry"


@dataclass(frozen=True)
class Decision:
    """What to do with the trial, and the reason to record."""

    verdict: Verdict
    reason: str
    outcome: Outcome | None = None
    requeue: bool = False  # attempts ran out on infrastructure failures


def valid_or_none(read_outcome: Callable[[], Outcome]) -> Outcome | None:
    """The trial's result if it is in and valid, else None."""
    try:
        return read_outcome()
    except InvalidDocument:
        return None


def after_failure(
    status: JobStatus, attempt: int, max_attempts: int, read_outcome: Callable[[], Outcome]
) -> Decision:
    """The decision for a FAILED or LOST job on its trial's ``attempt``-th attempt."""
    reason = status.reason or status.state.value
    if not status.infra_failure:
        return Decision(Verdict.FAIL, reason)
    outcome = valid_or_none(read_outcome)  # the work may be done before the host went away
    if outcome is not None:
        return Decision(Verdict.COMPLETE, reason, outcome)
    if attempt < max_attempts:
        return Decision(Verdict.RETRY, reason)
    return Decision(Verdict.FAIL, f"{reason} (after {attempt} attempts)", requeue=True)
