"""The backend contract. Every backend passes ``tests/backend_contract.py``.

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
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


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
    started_at: float | None = None  # epoch seconds
    ended_at: float | None = None
    output_tail: str | None = None  # the last lines the trainer printed, bounded (local only)


class Backend(ABC):
    """Runs jobs. See the module docstring for the contract."""

    name: str = "backend"
    poll_interval: float = 1.0

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

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release clients and handles; running jobs keep running."""


def sanitize_job_name(text: str) -> str:
    """``text`` in Batch's job-name alphabet: [A-Za-z0-9_-], starting with a letter or digit."""
    import re

    return re.sub(r"[^A-Za-z0-9_-]", "-", text).lstrip("-_") or "job"


def job_name(study: str, trial: int, attempt: int) -> str:
    """Deterministic job name within Batch's rule (128 chars); the study part is shortened."""
    suffix = f"-{trial}-{attempt}"
    return sanitize_job_name(study)[: 128 - len(suffix)] + suffix
