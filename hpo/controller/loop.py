"""The controller: an asynchronous ask -> stage -> submit -> watch -> tell loop.

Up to ``max_parallel`` trials are in flight. Each tick *watches* the jobs (one poll, or the
job events since the last tick), *tells* Optuna how each finished trial ended (exactly once),
feeds new intermediate values to the pruner, and refills every free slot: *ask* the sampler
(``proposer``), *stage* the attempt's params (``staging``), *submit* its job. Every transition
is written to the trial's user attributes *before* the side effect relies on it, so a new
controller can rebuild this state from storage plus the backend (``recover``). The pieces:
``control`` (lease, ``hpo stop``), ``watch`` (statuses), ``retry`` (what a failed job means),
``closing`` (the tell), ``budget`` and ``spending`` (when to stop); see the controller's tick
in ``docs/architecture.md``.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable

import optuna
from optuna.trial import TrialState

from hpo import attrs
from hpo.artifacts import ArtifactStore
from hpo.attrs import Stage
from hpo.backends.base import Backend, JobState, JobStatus
from hpo.controller.attempts import Accounts, Spend
from hpo.controller.budget import Budget, StopReason
from hpo.controller.clock import Clock, SystemClock
from hpo.controller.closing import Closing
from hpo.controller.control import Control
from hpo.controller.documents import InvalidDocument, Outcome, Results
from hpo.controller.failpoints import Failpoints
from hpo.controller.inflight import InFlight
from hpo.controller.progress import ProgressReader
from hpo.controller.proposer import Proposer
from hpo.controller.reasons import trial_failure
from hpo.controller.recover import recover_inflight
from hpo.controller.report import BestSoFar, NullReporter, Reporter, Snapshot, TrialEvent
from hpo.controller.retry import after_failure, valid_or_none
from hpo.controller.spending import Spending
from hpo.controller.staging import Staging
from hpo.controller.summary import RunSummary, summarize
from hpo.controller.watch import Watcher
from hpo.errors import BackendError, ThrottledError
from hpo.lease import Lease
from hpo.spec import build
from hpo.spec.models import StudySpec
from hpo.storage import group_commit
from hpo.store.base import ObjectStore
from hpo.store.layout import TrialLayout

log = logging.getLogger(__name__)

__all__ = ["Controller", "RunSummary", "StopReason"]

CANCELLED = "cancelled by hpo stop --cancel"


class Controller:
    """Drives one study with one backend and one object store. See the module docstring."""

    def __init__(
        self,
        study: optuna.Study,
        spec: StudySpec,
        backend: Backend,
        store: ObjectStore,
        *,
        clock: Clock | None = None,
        reporter: Reporter | None = None,
        lease: Lease | None = None,
        failpoints: Failpoints | None = None,
        artifact_store: ArtifactStore | None = None,
        study_file: str | None = None,
    ) -> None:
        self.study, self.spec, self.backend, self.store = study, spec, backend, store
        self.clock = clock or SystemClock()
        self.reporter = reporter or NullReporter()
        self.lease = lease
        self.fail = failpoints or Failpoints()
        self.study_file = study_file  # named in hints (`hpo logs FILE N`)
        self.layout = TrialLayout(spec.name)
        self.budget = Budget(spec.budget, self.clock.monotonic, build.grid_size(spec))
        self.watcher = Watcher(backend, self.clock, self.fail)
        self.accounts = Accounts(backend, self.clock.now)
        self.staging = Staging(store, self.layout, backend.name)
        self.control = Control(study, self.budget, lease, self.clock.monotonic)
        self.closing = Closing(study, store, self.layout, self.accounts, self.clock, artifact_store)
        self.spending = Spending(spec.budget, self._inflight_spend, priced=backend.priced)
        self.budget.watch_spending(self.spending)
        self._space = build.distributions(spec)
        self.proposer = Proposer(study, self._space, self.clock, conditions=spec.search_space,
                                 max_parallel=spec.budget.max_parallel)  # fmt: skip
        self.results = Results(store, self.layout, spec.objective)
        single = len(spec.objective.study_directions) == 1
        self._tracks_progress = single  # Optuna keeps intermediate values for one objective
        self._prunable = self._tracks_progress and spec.pruner.type != "none"
        live = self._prunable or (self._tracks_progress and spec.backend.live_progress)
        self.progress = ProgressReader(store, self.layout, live=live, every=backend.poll_interval)
        self._inflight: dict[int, InFlight] = {}
        self._terminating: set[str] = set()
        self._stop = threading.Event()
        self._cancel = False
        self._best = BestSoFar(spec.objective.direction if single else None)
        self._sync: Callable[[], None] = lambda: None  # makes storage writes durable

    # ------------------------------------------------------------------ public

    def request_stop(self, *, cancel: bool = False) -> None:
        """Stop proposing trials and return soon; with ``cancel`` also stop the running jobs."""
        self._cancel = self._cancel or cancel
        self._stop.set()

    def run(self) -> RunSummary:
        """Run until the budget is spent, the failure limit is hit, or a stop is requested."""
        with group_commit(self.study) as self._sync:
            self.budget.load(self.study)
            self.spending.load(self.study)
            self.control.clear()
            for inflight in recover_inflight(self.study, self.backend, self.layout):
                if inflight.job_id is None and inflight.stage is Stage.ASKED:
                    self.proposer.adopt(inflight.trial)  # asked, never staged: run it next
                else:
                    self._inflight[inflight.number] = inflight
            self._best.load(self.study, self.budget.counts[TrialState.COMPLETE])
            self.watcher.open()
            self.reporter.started(self._snapshot())
            try:
                while True:
                    next_poll = self.clock.monotonic() + self.backend.poll_interval
                    self.tick()
                    if self._finished():
                        break
                    self._prepare(until=next_poll)
                    wait = max(0.0, next_poll - self.clock.monotonic())
                    self.watcher.wait(wait, self._stop)  # returns early on a job event
                if self._cancel:
                    self._stop_inflight(CANCELLED, by="hpo stop --cancel")
                if not self._stop.is_set():  # an interrupted run leaves them to the next
                    self.proposer.close(str(self._stop_reason() or StopReason.COMPLETE))
            finally:
                self.budget.save(self.study)
                self.watcher.close(done=not self._inflight and not self._stop.is_set())
        summary = self._summary()
        self.reporter.stopped(summary)
        return summary

    def cancel(self) -> int:
        """With no controller running: terminate every RUNNING trial's job and fail the trial."""
        with group_commit(self.study) as self._sync:
            self.budget.load(self.study)
            for inflight in recover_inflight(self.study, self.backend, self.layout):
                self._inflight[inflight.number] = inflight
            count = len(self._inflight)
            self._stop_inflight(CANCELLED, by="hpo stop --cancel")
        return count

    def tick(self) -> None:
        """One pass: watch the jobs and tell the finished trials, read progress (and prune),
        then ask, stage and submit a trial for every free slot.

        Storage writes reach the file at once; their fsync waits for the next job submit or
        the end of the pass (group commit), so a power loss costs at most this pass's records
        and never those a submitted job relies on."""
        request = self.control.check()  # the lease, and `hpo stop`
        if request is not None:
            self.request_stop(cancel=request.cancel)
        self._submit_staged()  # attempts an earlier tick (or run) staged but could not submit
        self._watch_jobs()  # watch -> tell
        self._ingest_progress()  # watch (intermediate values) -> prune -> tell
        self._refill()  # ask -> stage -> submit
        self._sync()
        self.watcher.settle()  # events whose records are now durable
        self.reporter.tick(self._snapshot())

    # ------------------------------------------------------------------ ask -> stage -> submit

    def _refill(self) -> None:
        """Ask, stage and submit a trial for every free slot."""
        filled = 0
        while not self._stop.is_set() and self.budget.room(len(self._inflight)) > 0:
            trial = self.proposer.take()
            filled += 1
            self.fail.hit("after_ask")
            inflight = InFlight(trial=trial, number=trial.number)
            self._inflight[trial.number] = inflight
            self._stage(inflight)
            self._submit(inflight)
        self.proposer.note_poll(filled)

    def _prepare(self, until: float) -> None:
        """Use the time before the next poll to ask ahead (see ``hpo.controller.proposer``)."""
        if not self._stop.is_set():
            spare = self.budget.spare(len(self._inflight) + len(self.proposer.prepared))
            self.proposer.prepare(spare, until)
            self._sync()

    def _stage(self, f: InFlight) -> None:
        """Stage: the attempt's params.json, and where it lives on record."""
        self.staging.stage(f)
        self.fail.hit("after_stage")

    def _submit(self, f: InFlight) -> None:
        """Submit: the attempt's job (throttled: it stays staged for the next tick)."""
        job = self.staging.job(f)
        self._sync()  # the trial, its params and its stage are durable before its job exists
        try:
            job_id = self.backend.submit(job)
        except ThrottledError:
            return  # stays staged; the next tick submits it
        except BackendError as exc:
            self._finish(f, TrialState.FAIL, reason=f"submit failed: {exc}")
            return
        self.fail.hit("after_submit")
        f.job_id = job_id
        f.record(**{attrs.JOB_ID: job_id, attrs.STAGE: Stage.SUBMITTED.value,
                    attrs.SUBMITTED_AT: self.clock.now()})  # fmt: skip
        self.fail.hit("after_record")

    def _submit_staged(self) -> None:
        for f in list(self._inflight.values()):
            if f.job_id is None and f.stage in (Stage.ASKED, Stage.STAGED):
                if f.stage is Stage.ASKED:
                    self._stage(f)
                self._submit(f)

    # ------------------------------------------------------------------ watch

    def _watch_jobs(self) -> None:
        """Watch: the status of every job in flight (and of those being stopped)."""
        ids = [f.job_id for f in self._inflight.values() if f.job_id is not None]
        if not ids and not self._terminating:
            return
        try:
            statuses = self.watcher.statuses(ids, self._terminating)
        except BackendError as exc:  # after the backend's own retries: try again next tick
            log.warning("polling %d jobs failed, retrying at the next poll: %s", len(ids), exc)
            return
        for job_id in list(self._terminating):
            status = statuses.get(job_id)
            if status is not None and status.state.finished:
                self._terminating.discard(job_id)
        for f in list(self._inflight.values()):
            status = statuses.get(f.job_id) if f.job_id else None
            if status is not None:
                self._on_status(f, status)

    def _on_status(self, f: InFlight, status: JobStatus) -> None:
        retried = {} if status.state.finished else self.accounts.ended(f, status, final=False)
        if retried:  # Batch ran the job's container again (a lost host): the last run is on record
            f.started_at, f.host = None, None
            f.record(**retried, **{attrs.STAGE: Stage.SUBMITTED.value})
        if status.state is JobState.RUNNING and f.stage is not Stage.RUNNING:
            f.started_at = status.started_at or self.clock.now()
            found = {attrs.LOG: status.log, attrs.LOG_STREAM: status.log_stream}
            f.record(**{attrs.STAGE: Stage.RUNNING.value, attrs.STARTED_AT: f.started_at},
                     **{k: v for k, v in found.items() if v},
                     **self.accounts.started(f, status))  # fmt: skip
        elif status.state.finished:
            self.fail.hit("after_job_end")
            if self._tracks_progress:  # steps it reported after the last poll, however it ended
                self.progress.read(f)
            if status.state is JobState.SUCCEEDED:
                self._ingest_result(f, status)
            else:
                self._on_failure(f, status)

    def _ingest_progress(self) -> None:
        """Watch: new steps of running trials, when a pruner or a live view needs them (at most once
        per poll interval, one listing for all); otherwise read once when a trial ends."""
        if not self.progress.due(self.clock.monotonic()):
            return
        running = [f for f in self._inflight.values() if f.stage is Stage.RUNNING]
        for f in self.progress.changed(running):
            if self._prunable and f.trial.should_prune():
                self._prune(f)

    # ------------------------------------------------------------------ tell: how each trial ended

    def _ingest_result(self, f: InFlight, status: JobStatus) -> None:
        try:
            outcome = self.results.read(f.number)
        except InvalidDocument as exc:
            self._finish(f, TrialState.FAIL, status=status, reason=str(exc))
            return
        self._finish(f, TrialState.COMPLETE, status=status, outcome=outcome)

    def _on_failure(self, f: InFlight, status: JobStatus) -> None:
        attempts = self.spec.retries.max_attempts
        decision = after_failure(status, f.attempt, attempts, lambda: self.results.read(f.number))
        if decision.retry:
            self._retry(f, status, decision.reason)
        elif decision.state is TrialState.COMPLETE:
            self._finish(f, TrialState.COMPLETE, status=status, outcome=decision.outcome)
        elif not status.infra_failure:
            reason = trial_failure(status, self.store, self.layout, f, self.study_file)
            self._finish(f, TrialState.FAIL, status=status, reason=reason)
        else:
            self._finish(f, TrialState.FAIL, status=status, reason=decision.reason)
            if decision.requeue and self.spec.retries.requeue:
                self.study.enqueue_trial(f.params, user_attrs={attrs.RETRY_OF: f.number})

    def _retry(self, f: InFlight, status: JobStatus, reason: str) -> None:
        """Infrastructure failure with attempts left: a new attempt of the same trial."""
        accounting = self.accounts.ended(f, status, final=True)
        f.next_attempt(reason)
        f.record(**accounting)
        self.reporter.trial_retried(f.number, f.attempt, reason)
        self._stage(f)
        self._submit(f)

    def _prune(self, f: InFlight) -> None:
        outcome = valid_or_none(lambda: self.results.read(f.number)) if f.result_listed else None
        if outcome is not None:  # the result is in: complete, never pruned (it is exiting)
            self._finish(f, TrialState.COMPLETE, outcome=outcome)
            return
        reason = f"pruned at step {f.last_step}"
        self._stop_job(f, reason)
        self._finish(f, TrialState.PRUNED, reason=None)

    def _finish(
        self,
        f: InFlight,
        state: TrialState,
        *,
        status: JobStatus | None = None,
        outcome: Outcome | None = None,
        reason: str | None = None,
        counted: bool = True,
    ) -> None:
        """Record the end of the trial, then tell Optuna exactly once (see ``closing``)."""
        frozen = self.closing.close(f, state, status=status, outcome=outcome, reason=reason)
        self.fail.hit("after_tell")
        self._inflight.pop(f.number, None)
        if counted:
            self.budget.count(state)
        self.spending.add(self.accounts.so_far(f))  # stopped by hpo or not, it cost that
        self._best.note(frozen)
        self.reporter.trial_finished(
            TrialEvent(number=f.number, state=frozen.state, values=frozen.values,
                       reason=reason, compute_seconds=f.prior_compute, params=f.params,
                       snapshot=self._snapshot())  # the counts after this trial
        )  # fmt: skip

    # ------------------------------------------------------------------ stopping

    def _stop_job(self, f: InFlight, reason: str) -> None:
        """Terminate the trial's job: its trainer gets SIGTERM (``trial.should_stop()``)."""
        if f.job_id is None:
            return
        try:
            self.backend.terminate(f.job_id, reason)
            self._terminating.add(f.job_id)
        except BackendError as exc:
            log.warning("could not terminate job %s of trial %d: %s", f.job_id, f.number, exc)

    def _stop_inflight(self, reason: str, *, by: str) -> None:
        """Terminate every running job and fail its trial (`hpo stop --cancel`, the budget's
        timeout); ``stopped_by`` keeps those trials out of ``max_failures``."""
        for f in list(self._inflight.values()):
            self._stop_job(f, reason)
            outcome = valid_or_none(functools.partial(self.results.read, f.number))
            if outcome is not None:  # a result that landed since the last poll is kept
                self._finish(f, TrialState.COMPLETE, outcome=outcome)
            else:
                f.record(**{attrs.STOPPED_BY: by})
                self._finish(f, TrialState.FAIL, reason=reason, counted=False)

    def _stop_reason(self) -> str | None:
        if self._stop.is_set():
            return StopReason.INTERRUPTED
        return self.budget.exhausted_reason()

    def _finished(self) -> bool:
        if self._stop.is_set():
            return True
        if self._inflight and self.budget.exhausted_reason() == StopReason.TIMEOUT:
            self._stop_inflight(f"stopped at budget.timeout ({self.budget.spec.timeout:g}s)",
                                by="budget.timeout")  # fmt: skip
        return not self._inflight and not self._terminating and self.budget.room(0) == 0

    # ------------------------------------------------------------------ bookkeeping

    def _inflight_spend(self) -> list[Spend]:
        return [self.accounts.so_far(f) for f in self._inflight.values()]

    def _snapshot(self) -> Snapshot:
        return Snapshot.of(self.budget, len(self._inflight), self._best.value)

    def _summary(self) -> RunSummary:
        reason = self._stop_reason() or StopReason.COMPLETE
        return summarize(self.study, self.budget, reason, len(self._inflight), self.clock.now())
