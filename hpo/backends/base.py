"""The backend contract. Every backend passes :mod:`hpo.testing.backend_contract`.

- ``submit`` starts one job for one trial attempt and returns its id. The job's ``name`` is
  deterministic (``<study>-<trial>-<attempt>``) and unique; ``find(name)`` returns the id of
  a job submitted under that name, so a controller that died between submit and recording
  the id never submits twice.
- ``poll(ids)`` answers for many jobs in one call. A job the backend cannot see is reported
  ``UNKNOWN`` (maybe not visible yet) until the backend is sure it is gone, then ``LOST``.
- ``terminate`` is idempotent and returns at once; a terminated job later polls as FAILED.
- Jobs outlive the controller: ``close()`` releases clients, it does not stop jobs.
- ``infra_failure`` on a FAILED/LOST status marks failures that are not the trainer's fault
  (spot reclaim, lost host, vanished job): the controller retries them.
- ``BackendError`` (and ``ThrottledError``) are the only errors a backend raises.
- ``attempts`` on a status lists the runs of the job's container that ended (Batch retries a
  reclaimed host itself); ``hosts`` prices them where the backend knows its machines.
- ``open_events`` (optional) gives a feed of job state changes; ``poll`` then only reconciles.
"""

from __future__ import annotations

import enum
import re
import threading
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol


class JobState(enum.Enum):
    """Where a job is, as far as the controller needs to know."""

    PENDING = "pending"  # accepted, waiting for capacity
    RUNNING = "running"
    SUCCEEDED = "succeeded"  # the trainer exited 0; the result document decides the rest
    FAILED = "failed"
    UNKNOWN = "unknown"  # not visible (yet); ask again
    LOST = "lost"  # the backend is sure it has no such job any more

    @property
    def finished(self) -> bool:
        return self in (JobState.SUCCEEDED, JobState.FAILED, JobState.LOST)


@dataclass(frozen=True)
class JobSpec:
    """One trial attempt to run. ``trial_uri`` reaches the trainer as ``HPO_TRIAL_URI``."""

    name: str
    study: str
    trial: int
    attempt: int
    trial_uri: str
    env: Mapping[str, str] = field(default_factory=dict)


_RANK = {JobState.UNKNOWN: 0, JobState.PENDING: 0, JobState.RUNNING: 1}


@dataclass(frozen=True)
class AttemptInfo:
    """One run of a job's container that ended, as the backend reports it."""

    started_at: float | None  # epoch seconds the container started (None: it never ran)
    stopped_at: float | None
    exit_code: int | None = None
    reason: str | None = None
    log: str | None = None
    log_stream: str | None = None
    host: str | None = None  # where it ran (Batch: the ECS container instance ARN)

    @property
    def seconds(self) -> float:
        """How long the container ran (0 when it never started)."""
        if self.started_at is None or self.stopped_at is None:
            return 0.0
        return max(0.0, self.stopped_at - self.started_at)


@dataclass(frozen=True)
class JobStatus:
    """A job's state plus what the trial should record about it."""

    job_id: str
    state: JobState
    reason: str | None = None
    exit_code: int | None = None
    infra_failure: bool = False
    log: str | None = None  # a path locally, a CloudWatch console URL on Batch
    log_stream: str | None = None
    started_at: float | None = None  # epoch seconds (the current attempt's start)
    ended_at: float | None = None
    attempts: tuple[AttemptInfo, ...] = ()  # runs that ended; empty if the backend keeps none
    host: str | None = None  # where the current attempt runs (Batch: container instance ARN)
    output_tail: str | None = None  # the last lines the trainer printed, bounded (local only)

    @property
    def sequence(self) -> tuple[int, int]:
        """Orders the statuses of one job: a later one is never smaller (events come
        unordered; a job goes back to PENDING only after an attempt ended)."""
        return len(self.attempts), _RANK.get(self.state, 2)


@dataclass(frozen=True)
class Host:
    """Where an attempt ran and its price (``usd_per_hour`` None: unpriced; never zero)."""

    instance_type: str | None
    zone: str | None
    lifecycle: str | None  # "spot" or "on-demand"
    usd_per_hour: float | None
    price_source: str  # what the price is, or why there is none


@dataclass(frozen=True)
class HostQuery:
    """Ask for the host of one attempt: where (the status's ``host``) and when it started."""

    host: str
    started_at: float


class JobEvent(Protocol):
    """A pushed job status; ``ack`` it once what it says is recorded (or irrelevant)."""

    @property
    def status(self) -> JobStatus: ...


class EventFeed(Protocol):
    """Pushed job state changes (at least once, in any order)."""

    def wait(self, seconds: float, wake: threading.Event) -> list[JobEvent]:
        """Events that arrive within ``seconds`` (returns early with the first ones)."""

    def ack(self, events: Sequence[JobEvent]) -> None:
        """Forget events whose content is recorded: they are not delivered again."""

    def close(self, *, done: bool) -> None:
        """Stop receiving; ``done``: the study is over, so undo what ``open_events`` set up."""


class Backend(ABC):
    """Runs jobs. See the module docstring for the contract."""

    name: str = "backend"
    poll_interval: float = 1.0
    priced: bool = False  # whether ``hosts`` knows prices (else trials carry none)

    @abstractmethod
    def submit(self, job: JobSpec) -> str:
        """Start ``job``; return its id."""

    @abstractmethod
    def find(self, name: str) -> str | None:
        """The id of the job submitted under ``name``, or ``None``."""

    @abstractmethod
    def poll(self, job_ids: Sequence[str]) -> dict[str, JobStatus]:
        """The status of every id in ``job_ids``."""

    @abstractmethod
    def terminate(self, job_id: str, reason: str) -> None:
        """Stop the job (SIGTERM, then SIGKILL after the grace period)."""

    def open_events(self) -> EventFeed | None:
        """Start pushed status changes (may subscribe on the service), or ``None``: poll."""
        return None

    def hosts(self, queries: Sequence[HostQuery]) -> dict[HostQuery, Host]:
        """Instance and price of the attempts asked about; an empty answer: no prices here."""
        return {}

    @property
    def gpus_per_job(self) -> int:
        """GPUs each job holds (for ``budget.max_gpu_hours``); 0 where the backend has none."""
        return 0

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release clients and handles; running jobs keep running."""


_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
NAME_LIMIT = 128  # Batch's, for job names and job definition names


def safe_name(text: str, limit: int = NAME_LIMIT) -> str:
    """``text`` in the alphabet AWS names share ([A-Za-z0-9_-]: Batch jobs and job
    definitions, SQS queues, EventBridge rules), other characters as ``-``, cut to ``limit``."""
    return _UNSAFE.sub("-", text)[:limit]


def sanitize_job_name(text: str, limit: int = NAME_LIMIT) -> str:
    """``text`` as a job name: :func:`safe_name`, starting with a letter or digit."""
    return (safe_name(text, len(text)).lstrip("-_") or "job")[:limit]


def job_name(study: str, trial: int, attempt: int) -> str:
    """Deterministic job name within Batch's rule (128 chars); the study part is shortened."""
    suffix = f"-{trial}-{attempt}"
    return sanitize_job_name(study, NAME_LIMIT - len(suffix)) + suffix
