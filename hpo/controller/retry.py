"""The retry policy: what a failed job means for its trial.

A trainer error fails the trial. An infrastructure failure (spot reclaim, lost host, vanished
job) keeps a valid result the trainer wrote before the host went away, else starts another
attempt while ``retries.max_attempts`` allows, else fails the trial (and, with
``retries.requeue``, enqueues its params as a new trial).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from optuna.trial import TrialState

from hpo.backends.base import JobStatus
from hpo.controller.documents import InvalidDocument, Outcome


@dataclass(frozen=True)
class Decision:
    """Another attempt (``retry``), or the state the trial ends in; the reason to record."""

    reason: str
    retry: bool = False
    state: TrialState = TrialState.FAIL  # COMPLETE: the result was in before the host failed
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
        return Decision(reason)
    outcome = valid_or_none(read_outcome)  # the work may be done before the host went away
    if outcome is not None:
        return Decision(reason, state=TrialState.COMPLETE, outcome=outcome)
    if attempt < max_attempts:
        return Decision(reason, retry=True)
    return Decision(f"{reason} (after {attempt} attempts)", requeue=True)
