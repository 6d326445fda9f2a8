"""The watcher: events applied newest-first and never backwards, acknowledged only once the
tick that applied them is durable, DescribeJobs only to reconcile."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

from hpo.backends.base import AttemptInfo, Backend, JobSpec, JobState, JobStatus
from hpo.controller.clock import FakeClock
from hpo.controller.failpoints import Failpoints
from hpo.controller.watch import EVENT_GRACE, RECONCILE_EVERY, Watcher


@dataclass(frozen=True)
class Event:
    status: JobStatus
    receipt: str = ""


class Feed:
    """Hands out the events queued on it (else waits out the time on the clock); remembers
    what was acknowledged."""

    def __init__(self) -> None:
        self.clock: FakeClock | None = None
        self.queued: list[Event] = []
        self.acked: list[Event] = []
        self.closed: bool | None = None

    def wait(self, seconds: float, wake: threading.Event) -> list[Event]:
        out, self.queued = self.queued, []
        if not out and self.clock is not None:
            self.clock.advance(seconds)
        return out

    def ack(self, events: Sequence[Event]) -> None:
        self.acked += events

    def close(self, *, done: bool) -> None:
        self.closed = done


class Polled(Backend):
    """A backend whose poll answers from a table and counts the ids asked for."""

    def __init__(self, feed: Feed | None) -> None:
        self.feed = feed
        self.table: dict[str, JobStatus] = {}
        self.asked: list[list[str]] = []

    def open_events(self) -> Feed | None:  # type: ignore[override]
        return self.feed

    def submit(self, job: JobSpec) -> str:
        raise NotImplementedError

    def find(self, name: str) -> str | None:
        return None

    def poll(self, job_ids: Sequence[str]) -> dict[str, JobStatus]:
        self.asked.append(sorted(job_ids))
        return {i: self.table.get(i, JobStatus(i, JobState.UNKNOWN)) for i in job_ids}

    def terminate(self, job_id: str, reason: str) -> None:
        return None


def status(job: str, state: JobState, attempts: int = 0) -> JobStatus:
    return JobStatus(job, state, attempts=tuple(AttemptInfo(1.0, 2.0) for _ in range(attempts)))


def watcher(feed: Feed | None = None) -> tuple[Watcher, Polled, FakeClock]:
    clock = FakeClock()
    backend = Polled(feed)
    w = Watcher(backend, clock, Failpoints())
    if feed is not None:
        feed.clock = clock
    w.open()
    return w, backend, clock


def test_without_a_feed_every_tick_polls_every_job() -> None:
    w, backend, _ = watcher()
    backend.table["a"] = status("a", JobState.RUNNING)
    assert w.statuses(["a"], ["b"])["a"].state is JobState.RUNNING
    assert w.statuses(["a"], ["b"])["a"].state is JobState.RUNNING
    assert backend.asked == [["a", "b"], ["a", "b"]]


def test_events_are_deduplicated_and_never_go_back() -> None:
    feed = Feed()
    w, backend, _ = watcher(feed)
    backend.table["j"] = status("j", JobState.PENDING)
    assert w.statuses(["j"], [])["j"].state is JobState.PENDING  # reconciled at start
    feed.queued = [Event(status("j", JobState.SUCCEEDED)), Event(status("j", JobState.RUNNING)),
                   Event(status("j", JobState.SUCCEEDED))]  # fmt: skip
    w.wait(30, threading.Event())
    assert w.statuses(["j"], [])["j"].state is JobState.SUCCEEDED  # the newest, once
    feed.queued = [Event(status("j", JobState.RUNNING)), Event(status("j", JobState.SUCCEEDED))]
    w.wait(30, threading.Event())
    assert w.statuses(["j"], []) == {}  # late and duplicate events change nothing
    assert backend.asked == [["j"]]


def test_a_batch_retry_is_newer_than_the_run_before_it() -> None:
    feed = Feed()
    w, backend, _ = watcher(feed)
    backend.table["j"] = status("j", JobState.RUNNING)
    w.statuses(["j"], [])
    feed.queued = [Event(status("j", JobState.PENDING, attempts=1))]  # host lost, queued again
    w.wait(30, threading.Event())
    assert w.statuses(["j"], [])["j"].attempts


def test_events_are_acknowledged_only_when_settled() -> None:
    feed = Feed()
    w, _, _ = watcher(feed)
    w.statuses(["j"], [])
    done = Event(status("j", JobState.SUCCEEDED), "r1")
    foreign = Event(status("other", JobState.SUCCEEDED), "r2")
    feed.queued = [done, foreign]
    w.wait(30, threading.Event())
    w.statuses(["j"], [])
    assert feed.acked == []  # a controller killed here gets them again
    w.close(done=False)
    assert feed.acked == [] and feed.closed is False
    w, _, _ = watcher(feed)
    w.statuses(["j"], [])
    feed.queued = [done, foreign]
    w.wait(30, threading.Event())
    w.statuses(["j"], [])
    w.settle()
    assert feed.acked == [done, foreign]  # the other job's event is not this study's


def test_a_quiet_event_does_not_end_the_wait_but_an_end_does() -> None:
    feed = Feed()
    w, _, clock = watcher(feed)
    w.statuses(["j"], [])
    feed.queued = [Event(status("j", JobState.PENDING))]
    start = clock.monotonic()
    w.wait(30, threading.Event())  # a queued job: nothing to do, so the wait goes on
    assert clock.monotonic() == start + 30
    feed.queued = [Event(status("j", JobState.SUCCEEDED))]
    w.wait(30, threading.Event())
    assert w.statuses(["j"], [])["j"].state is JobState.SUCCEEDED


def test_describe_jobs_reconciles_at_start_periodically_and_when_events_are_overdue() -> None:
    feed = Feed()
    w, backend, clock = watcher(feed)
    w.statuses(["a"], [])
    assert backend.asked == [["a"]]  # at start
    w.statuses(["a", "b"], [])  # b was just submitted: an event is expected for it soon
    assert backend.asked == [["a"]]
    feed.queued = [Event(status("a", JobState.RUNNING))]
    w.wait(1, threading.Event())
    clock.advance(EVENT_GRACE + 1)
    w.statuses(["a", "b"], [])
    assert backend.asked[-1] == ["b"]  # no event for b in time: asked about it alone
    w.statuses(["a", "b"], ["a"])  # a is being stopped: its end is expected soon
    clock.advance(EVENT_GRACE + 1)
    w.statuses(["a", "b"], ["a"])
    assert backend.asked[-1] == ["a", "b"]
    clock.advance(RECONCILE_EVERY)
    w.statuses(["a", "b"], [])
    assert backend.asked[-1] == ["a", "b"]  # every few minutes, all of them
    assert len(backend.asked) == 4
