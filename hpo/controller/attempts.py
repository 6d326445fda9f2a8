"""Every attempt of a trial, accounted: when it ran, how it ended, where, and what it cost.

An attempt is one run of the trainer's container. Each hpo attempt is a job, and Batch may
run a job's container more than once (it retries a reclaimed spot host itself). Every ended
attempt becomes one entry of the trial's ``attempts`` attribute, numbered from 1 across jobs,
so ``hpo logs --attempt N`` reaches each. ``compute_seconds`` is the sum of their durations;
``cost_usd`` the sum of duration x hourly price of the instance each ran on, and absent (with
``unpriced`` saying why) when any price is unknown: an unknown price is never counted as zero.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hpo import attrs
from hpo.backends.base import AttemptInfo, Backend, Host, HostQuery, JobStatus
from hpo.controller.inflight import InFlight


@dataclass(frozen=True)
class Spend:
    """What a trial has used so far: compute seconds, GPU hours, dollars (None: unpriced)."""

    seconds: float = 0.0
    gpu_hours: float = 0.0
    usd: float | None = 0.0


def host_attrs(host: Host | None) -> dict[str, Any]:
    """The current attempt's host as trial attributes (what its live cost is counted with)."""
    if host is None:
        return {}
    found = {attrs.INSTANCE_TYPE: host.instance_type, attrs.USD_PER_HOUR: host.usd_per_hour,
             attrs.PRICE_SOURCE: host.price_source}  # fmt: skip
    return {key: value for key, value in found.items() if value is not None}


def host_from_attrs(ua: dict[str, Any]) -> Host | None:
    """The inverse of :func:`host_attrs` (a resumed controller's view of a running attempt)."""
    if attrs.PRICE_SOURCE not in ua:
        return None
    price = ua.get(attrs.USD_PER_HOUR)
    return Host(ua.get(attrs.INSTANCE_TYPE), None, None,
                float(price) if isinstance(price, int | float) else None,
                str(ua[attrs.PRICE_SOURCE]))  # fmt: skip


class Accounts:
    """Records the attempts of the controller's trials, priced through the backend."""

    def __init__(self, backend: Backend, now: Callable[[], float]) -> None:
        self.backend = backend
        self.now = now
        self.priced = backend.priced
        self.gpus = backend.gpus_per_job

    # ------------------------------------------------------------------ hosts

    def _host(self, host: str | None, started_at: float | None) -> Host | None:
        if not self.priced:
            return None
        if host is None:
            return Host(None, None, None, None, "unpriced: the backend did not say where it ran")
        query = HostQuery(host, started_at if started_at is not None else self.now())
        found = self.backend.hosts([query]).get(query)
        return found or Host(None, None, None, None, f"unpriced: nothing known of {host}")

    def started(self, f: InFlight, status: JobStatus) -> dict[str, Any]:
        """Attributes of the attempt that just started to run: its host and price."""
        f.host = self._host(status.host, status.started_at)
        f.log, f.log_stream = status.log, status.log_stream
        return host_attrs(f.host)

    # ------------------------------------------------------------------ ended attempts

    def _runs(self, f: InFlight, status: JobStatus | None, final: bool) -> list[AttemptInfo]:
        """The attempts of the trial's current job that ended and are not recorded yet."""
        job_id = status.job_id if status is not None else f.job_id
        known = sum(1 for entry in f.history if entry.get("job_id") == job_id)
        if status is not None and status.attempts:
            return list(status.attempts[known:])
        if not final or known:
            return []
        if status is None:  # stopped by hpo (pruned, cancelled): the run so far
            if f.started_at is None:
                return []
            return [AttemptInfo(f.started_at, self.now(), log=f.log, log_stream=f.log_stream)]
        started = status.started_at or f.started_at
        ended = status.ended_at or self.now()
        return [AttemptInfo(started, ended if started is not None else None, status.exit_code,
                            status.reason, status.log, status.log_stream, status.host)]  # fmt: skip

    def _entry(self, f: InFlight, job_id: str | None, run: AttemptInfo, host: Host | None) -> dict:
        gpu_hours = run.seconds * self.gpus / 3600.0
        entry: dict[str, Any] = {
            "attempt": len(f.history) + 1, "job_attempt": f.attempt, "job_id": job_id,
            "started_at": run.started_at, "stopped_at": run.stopped_at,
            "seconds": round(run.seconds, 3), "exit_code": run.exit_code,
            "reason": run.reason[:500] if run.reason else None,
            "log": run.log, "log_stream": run.log_stream,
        }  # fmt: skip
        if self.gpus:
            entry["gpu_hours"] = round(gpu_hours, 6)
        if host is not None and run.seconds > 0:
            entry.update(instance_type=host.instance_type, zone=host.zone,
                         lifecycle=host.lifecycle, price_source=host.price_source)  # fmt: skip
            if host.usd_per_hour is not None:
                entry["usd_per_hour"] = host.usd_per_hour
                entry["cost_usd"] = round(run.seconds / 3600.0 * host.usd_per_hour, 6)
        return {key: value for key, value in entry.items() if value is not None}

    def ended(self, f: InFlight, status: JobStatus | None, *, final: bool) -> dict[str, Any]:
        """Record the attempts of the trial's job that ended since last seen (``final``: the
        job is over, or hpo stopped it); returns the trial attributes to write (or nothing)."""
        runs = self._runs(f, status, final)
        if not runs:
            return {}
        job_id = status.job_id if status is not None else f.job_id
        for i, run in enumerate(runs):
            if run.host is None and f.host is not None and i == len(runs) - 1:
                host = f.host  # the current attempt, priced when it started
            else:
                host = self._host(run.host, run.started_at)
            entry = self._entry(f, job_id, run, host)
            f.history.append(entry)
            f.prior_compute += run.seconds
            f.prior_gpu_hours += run.seconds * self.gpus / 3600.0
            if "cost_usd" in entry:
                f.prior_cost += run.seconds / 3600.0 * entry["usd_per_hour"]
            elif self.priced and run.seconds > 0:
                f.unpriced = f.unpriced or f"attempt {entry['attempt']}: {host_reason(host)}"
        return self.totals(f)

    def totals(self, f: InFlight) -> dict[str, Any]:
        """The trial's accounting attributes as they stand (ended attempts only)."""
        out: dict[str, Any] = {attrs.ATTEMPTS_LOG: f.history,
                               attrs.COMPUTE_SECONDS: round(f.prior_compute, 3)}  # fmt: skip
        if self.gpus:
            out[attrs.GPU_HOURS] = round(f.prior_gpu_hours, 6)
        if self.priced and f.unpriced:
            out[attrs.UNPRICED] = f.unpriced[:300]
        elif self.priced:
            out[attrs.COST_USD] = round(f.prior_cost, 6)
        return out

    def so_far(self, f: InFlight) -> Spend:
        """The trial's spend including its current attempt up to now."""
        running = max(0.0, self.now() - f.started_at) if f.started_at is not None else 0.0
        usd: float | None = f.prior_cost if self.priced and not f.unpriced else None
        if usd is not None and running > 0:
            price = f.host.usd_per_hour if f.host is not None else None
            usd = None if price is None else usd + running / 3600.0 * price
        return Spend(f.prior_compute + running,
                     f.prior_gpu_hours + running * self.gpus / 3600.0, usd)  # fmt: skip


def host_reason(host: Host | None) -> str:
    """Why ``host`` gives no price."""
    if host is None:
        return "unpriced: no host known"
    return host.price_source
