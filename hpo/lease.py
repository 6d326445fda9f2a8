"""One controller per study: a lease with a heartbeat, kept in the study's user attributes.

The lease names its holder (host, pid, process start time) and an expiry that the holder
renews every ``ttl / 3`` seconds. A new controller refuses to start while another holds a
live lease; it takes over a lease that expired, or at once when the holder is a dead
process on this same host (so a restart after ``kill -9`` needs no wait).
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable
from typing import Any

import optuna

from hpo.attrs import STUDY_LEASE
from hpo.backends.launcher import pid_alive, process_start_ticks
from hpo.errors import LeaseError


class Lease:
    """The running controller's claim on a study."""

    def __init__(
        self,
        study: optuna.Study,
        *,
        ttl: float = 60.0,
        now: Callable[[], float],
        host: str | None = None,
        pid: int | None = None,
        study_file: str | None = None,
    ) -> None:
        self.study = study
        self.study_file = study_file or "STUDY_FILE"  # named in the hint when refused
        self.ttl = ttl
        self.now = now
        self.host = host or socket.gethostname()
        self.pid = pid or os.getpid()
        self.owner = uuid.uuid4().hex
        self._renewed = 0.0

    def _record(self) -> dict[str, Any]:
        now = self.now()
        return {"owner": self.owner, "host": self.host, "pid": self.pid,
                "ticks": process_start_ticks(self.pid), "since": now,
                "expires_at": now + self.ttl}  # fmt: skip

    def _current(self) -> dict[str, Any] | None:
        lease = self.study.user_attrs.get(STUDY_LEASE)
        return lease if isinstance(lease, dict) and lease.get("owner") else None

    def holder_is_live(self, lease: dict[str, Any]) -> bool:
        """True while ``lease`` belongs to a controller that may still be running."""
        if lease.get("owner") == self.owner:
            return False
        return holder_alive(lease, self.host, self.now())

    def acquire(self) -> None:
        """Take the lease, or raise :class:`LeaseError` naming the live holder."""
        current = self._current()
        if current is not None and self.holder_is_live(current):
            raise _held(self.study.study_name, current, self.study_file)
        self.study.set_user_attr(STUDY_LEASE, self._record())
        self._renewed = self.now()
        winner = self._current()  # two starting at once: the last writer wins, the other yields
        if winner is None or winner.get("owner") != self.owner:
            raise _held(self.study.study_name, winner or {}, self.study_file)

    def renew(self) -> None:
        """Extend the lease when a third of its time has passed (cheap to call every tick)."""
        if self.now() - self._renewed >= self.ttl / 3:
            self.study.set_user_attr(STUDY_LEASE, {**self._record()})
            self._renewed = self.now()

    def release(self) -> None:
        """Give the lease up (a clean exit); a crash leaves it to expire."""
        current = self._current()
        if current is not None and current.get("owner") == self.owner:
            self.study.set_user_attr(STUDY_LEASE, {"owner": None, "released_at": self.now()})


def holder_alive(lease: dict[str, Any], host: str, now: float) -> bool:
    """Whether the controller named by ``lease`` may still run: on this host its process is
    checked (a dead one is known at once), elsewhere only the lease's expiry can tell."""
    if not lease.get("owner"):
        return False
    if lease.get("host") == host:
        return pid_alive(int(lease.get("pid", 0)), lease.get("ticks"))
    return float(lease.get("expires_at", 0)) > now


def _held(name: str, lease: dict[str, Any], study_file: str) -> LeaseError:
    who = f"pid {lease.get('pid')} on {lease.get('host')}"
    return LeaseError(
        f"study {name!r} is already being run by another controller ({who})",
        hint=f"stop that controller first (Ctrl-C, or `hpo stop {study_file}`); a controller "
        "that died on another host is taken over once its lease expires (60 s)",
    )
