"""Fault injection for crash tests: die at a named point of the loop, on its n-th pass.

``HPO_FAILPOINTS="after_submit=3,after_job_end=1"`` makes the controller SIGKILL itself the
third time a job was submitted (before its id is recorded) and the first time a finished
job was observed (before its trial is told). Unset, every point is a no-op. In-process tests
pass an ``action`` that raises instead, and then discard everything but the storage.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable

ENV = "HPO_FAILPOINTS"
POINTS = ("after_ask", "after_stage", "after_submit", "after_record", "after_receive",
          "after_job_end", "after_tell")  # fmt: skip


class Failpoints:
    """Counts passes through each named point and kills the process at the chosen one."""

    def __init__(self, spec: str | None = None, action: Callable[[], None] | None = None) -> None:
        self.action = action or (lambda: os.kill(os.getpid(), signal.SIGKILL))
        self.targets: dict[str, int] = {}
        for item in filter(None, (spec or "").split(",")):
            name, _, count = item.partition("=")
            if name.strip() not in POINTS:
                raise ValueError(f"unknown failpoint {name!r}; known: {', '.join(POINTS)}")
            self.targets[name.strip()] = int(count or 1)
        self.counts: dict[str, int] = {}

    @classmethod
    def from_env(cls) -> Failpoints:
        return cls(os.environ.get(ENV))

    def hit(self, name: str) -> None:
        if name not in self.targets:
            return
        self.counts[name] = self.counts.get(name, 0) + 1
        if self.counts[name] == self.targets[name]:
            self.action()
