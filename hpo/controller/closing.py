"""Closing a trial: record how it ended, attach its artifacts, then tell Optuna exactly once.

Everything the end of a trial means is written to its user attributes before the tell (so a
controller killed in between tells it on its next start): the stage, when it ended, why it
failed, the trainer's metrics and attributes, and every attempt with what it cost (see
``attempts``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import optuna
from optuna.trial import TrialState

from hpo import attrs
from hpo.artifacts import ArtifactStore, register_artifacts
from hpo.attrs import Stage
from hpo.backends.base import JobStatus
from hpo.controller.attempts import Accounts
from hpo.controller.clock import Clock
from hpo.controller.documents import Outcome
from hpo.controller.inflight import InFlight
from hpo.store.base import ObjectStore
from hpo.store.layout import TrialLayout


def closing_attrs(
    state: TrialState,
    ended_at: float,
    *,
    status: JobStatus | None,
    outcome: Outcome | None,
    reason: str | None,
) -> dict[str, Any]:
    """The user attributes that record how a trial ended (its attempts and what they cost
    come from :class:`~hpo.controller.attempts.Accounts`)."""
    final: dict[str, Any] = {attrs.STAGE: Stage.ended(state).value, attrs.ENDED_AT: ended_at}
    if reason:
        final[attrs.FAIL_REASON] = reason[:1000]
    if status is not None:  # the attempt that ended (Batch may have retried it meanwhile)
        found = {attrs.EXIT_CODE: status.exit_code, attrs.LOG: status.log,
                 attrs.LOG_STREAM: status.log_stream}  # fmt: skip
        final.update({key: value for key, value in found.items() if value is not None})
    if outcome is not None:
        if outcome.metrics:
            final[attrs.METRICS] = outcome.metrics
        if outcome.constraints:
            final[attrs.CONSTRAINTS] = outcome.constraints
            final[attrs.FEASIBLE] = outcome.feasible
        final.update(outcome.user_attrs)
    return final


@dataclass
class Closing:
    """What closing a trial needs: the study, its documents, the accounts and the clock."""

    study: optuna.Study
    store: ObjectStore
    layout: TrialLayout
    accounts: Accounts
    clock: Clock
    artifact_store: ArtifactStore | None = None

    def close(
        self,
        f: InFlight,
        state: TrialState,
        *,
        status: JobStatus | None,
        outcome: Outcome | None,
        reason: str | None,
    ) -> optuna.trial.FrozenTrial:
        """Record the end of ``f`` (with ``status`` of its job, if it has one), then tell."""
        accounting = self.accounts.ended(f, status, final=True) or self.accounts.totals(f)
        f.started_at = None  # every run of it is on record now
        ended = (status.ended_at if status else None) or self.clock.now()
        final = closing_attrs(state, ended, status=status, outcome=outcome, reason=reason)
        f.record(**accounting, **final)
        if self.artifact_store is not None:  # the trial must still be RUNNING to attach them
            register_artifacts(f.trial, self.store, self.layout, f.number, self.artifact_store)
        values = outcome.values if outcome is not None else None
        for name, violation in (outcome.violations if outcome else {}).items():
            f.trial.set_constraint(name, violation)  # what the samplers read
        return self.study.tell(f.trial, values, state=state, skip_if_finished=True)
