"""Which job statuses the controller acts on each tick, and how it waits between ticks.

Without an event feed every tick polls every job (DescribeJobs on Batch) and the wait is the
poll interval. With a feed the wait ends as soon as an event that matters arrives (a job
started, ended, or was retried by Batch); the others wait for the next tick. Events come at
least once and in any order: one that is not newer than what is known of its job is dropped,
so a trial never goes back in state. Events are acknowledged only after the tick that applied
them made its records durable (``settle``), so a controller killed in between receives them
again, and reconciles anyway: DescribeJobs remains for every job at start and every
``RECONCILE_EVERY`` seconds, and for a job whose event is overdue (none within
``EVENT_GRACE`` of its submit or of its termination).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection

from hpo.backends.base import Backend, EventFeed, JobEvent, JobState, JobStatus
from hpo.controller.clock import Clock
from hpo.controller.failpoints import Failpoints
from hpo.errors import BackendError

log = logging.getLogger(__name__)

RECONCILE_EVERY = 300.0
EVENT_GRACE = 60.0


class Watcher:
    """Statuses by poll, or by events plus reconciliation. See the module docstring."""

    def __init__(self, backend: Backend, clock: Clock, failpoints: Failpoints) -> None:
        self.backend = backend
        self.clock = clock
        self.fail = failpoints
        self.feed: EventFeed | None = None
        self._seen: dict[str, tuple[int, int]] = {}  # job id -> newest status sequence applied
        self._due_by: dict[str, float] = {}  # job id -> when an event for it is overdue
        self._tracked: set[str] = set()  # jobs watched at the last tick
        self._stopping: set[str] = set()  # of those, the ones being terminated
        self._received: list[JobEvent] = []
        self._applied: list[JobEvent] = []
        self._reconcile_at = float("-inf")

    def open(self) -> None:
        """Ask the backend for its event feed (``None``: poll every tick)."""
        self.feed = self.backend.open_events()

    def close(self, *, done: bool) -> None:
        """Stop the feed; ``done``: the study is over, so the backend may undo its setup.
        Events not settled stay unacknowledged: they come again to the next controller."""
        if self.feed is not None:
            self.feed.close(done=done)
            self.feed = None

    # ------------------------------------------------------------------ statuses

    def statuses(self, ids: Collection[str], terminating: Collection[str]) -> dict[str, JobStatus]:
        """What to act on now for the jobs ``ids`` and the ``terminating`` ones.

        Raises ``BackendError`` only without a feed (then the tick asks again next time)."""
        watched = {*ids, *terminating}
        if self.feed is None:
            return self._note(self.backend.poll(list(watched)))
        now = self.clock.monotonic()
        self._track(watched, set(terminating), now)
        for event in self._received:  # heard from: its event is not overdue
            self._due_by.pop(event.status.job_id, None)
        polled: dict[str, JobStatus] = {}
        wanted = self._due(watched, now)
        if wanted:
            try:
                polled = self._note(self.backend.poll(wanted))
            except BackendError as exc:
                log.warning("reconciling %d jobs failed, using events only: %s", len(wanted), exc)
        out = dict(polled)
        for event in sorted(self._received, key=lambda e: e.status.sequence):
            status = event.status
            if status.job_id not in watched:
                continue  # a trial already told, or not this controller's job
            if status.job_id not in polled and self._newer(status):
                out[status.job_id] = status
                self._seen[status.job_id] = status.sequence
        self._applied += self._received
        self._received = []
        return out

    def _note(self, statuses: dict[str, JobStatus]) -> dict[str, JobStatus]:
        """Remember what a poll said (it is the truth: newer than any event so far)."""
        for job_id, status in statuses.items():
            seen = self._seen.get(job_id)
            self._seen[job_id] = status.sequence if seen is None else max(seen, status.sequence)
            if status.state is not JobState.UNKNOWN:
                self._due_by.pop(job_id, None)
        return statuses

    def _newer(self, status: JobStatus) -> bool:
        seen = self._seen.get(status.job_id)
        return seen is None or status.sequence > seen

    def _track(self, watched: set[str], terminating: set[str], now: float) -> None:
        """Expect an event soon for jobs new to the watch and jobs just told to stop."""
        for job_id in watched - self._tracked:
            self._due_by.setdefault(job_id, now + EVENT_GRACE)
        for job_id in terminating - self._stopping:
            self._due_by[job_id] = now + EVENT_GRACE
        for job_id in self._tracked - watched:
            self._seen.pop(job_id, None)
            self._due_by.pop(job_id, None)
        self._tracked, self._stopping = watched, terminating

    def _due(self, watched: set[str], now: float) -> list[str]:
        """Jobs to reconcile by DescribeJobs now: all of them at times, else overdue ones."""
        if now >= self._reconcile_at:
            self._reconcile_at = now + RECONCILE_EVERY
            return sorted(watched)
        due = sorted(j for j in watched if self._due_by.get(j, float("inf")) <= now)
        for job_id in due:
            self._due_by[job_id] = now + EVENT_GRACE
        return due

    # ------------------------------------------------------------------ waiting

    def wait(self, seconds: float, stop: threading.Event) -> None:
        """Wait up to ``seconds``: the poll interval, or until an event that matters arrives."""
        if self.feed is None:
            self.clock.wait(seconds, stop)
            return
        deadline = self.clock.monotonic() + seconds
        while not stop.is_set():
            remaining = deadline - self.clock.monotonic()
            if remaining <= 0:
                return
            try:
                events = self.feed.wait(remaining, stop)
            except BackendError as exc:
                log.warning("reading job events failed, reconciling by polling: %s", exc)
                self._reconcile_at = float("-inf")
                self.clock.wait(remaining, stop)
                return
            self._received += events
            if events:
                self.fail.hit("after_receive")  # received, nothing recorded yet
            if any(self._wakes(event.status) for event in events):
                return

    def _wakes(self, status: JobStatus) -> bool:
        """Whether the event is worth a tick now: a start, an end, or a Batch retry."""
        seen = self._seen.get(status.job_id)
        if seen is not None and status.sequence <= seen:
            return False
        retried = bool(status.attempts) and (seen is None or len(status.attempts) > seen[0])
        return status.state is JobState.RUNNING or status.state.finished or retried

    def settle(self) -> None:
        """Acknowledge the events applied so far (call once their records are durable)."""
        if self.feed is None or not self._applied:
            return
        try:
            self.feed.ack(self._applied)
        except BackendError as exc:  # they come back and are dropped as already applied
            log.warning("acknowledging %d job events failed: %s", len(self._applied), exc)
        self._applied = []
