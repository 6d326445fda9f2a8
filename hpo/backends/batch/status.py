"""Turn a DescribeJobs entry into a :class:`JobStatus`: state, reason, infra flag, log links.

SUBMITTED/PENDING/RUNNABLE/STARTING are PENDING; RUNNING, SUCCEEDED and FAILED map as named.
A FAILED job's reason joins ``statusReason``, ``container.reason`` and the exit code. Failures
that are not the trainer's fault (spot reclaim ``Host EC2 ...``, a RUNNABLE job cancelled for
lack of capacity) are ``infra_failure`` so the controller retries the trial.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from hpo.backends.base import JobState, JobStatus

PENDING_STATES = frozenset({"SUBMITTED", "PENDING", "RUNNABLE", "STARTING"})
_STATES = {"RUNNING": JobState.RUNNING, "SUCCEEDED": JobState.SUCCEEDED}
# Prefixes of Batch/ECS reasons that mean "the infrastructure failed, not the trainer".
INFRA_REASONS = ("Host EC2", "CAPACITY:", "DockerTimeoutError")
TIMEOUT_REASON = "Job attempt duration exceeded timeout"


def console_url(region: str | None, group: str, stream: str) -> str:
    """The CloudWatch console page of one log stream."""
    region = region or "us-east-1"

    def enc(text: str) -> str:
        return quote(quote(text, safe=""), safe="").replace("%", "$")

    return (
        f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
        f"#logsV2:log-groups/log-group/{enc(group)}/log-events/{enc(stream)}"
    )


def _last_attempt(job: dict[str, Any]) -> dict[str, Any]:
    attempts = job.get("attempts") or []
    return attempts[-1] if attempts else {}


def log_stream(job: dict[str, Any]) -> str | None:
    """The newest attempt's log stream (``container`` first, then ``attempts[-1]``)."""
    stream = (job.get("container") or {}).get("logStreamName")
    return stream or (_last_attempt(job).get("container") or {}).get("logStreamName")


def exit_code(job: dict[str, Any]) -> int | None:
    """The container's exit code (job level, else the newest attempt's)."""
    code = (job.get("container") or {}).get("exitCode")
    if code is None:
        code = (_last_attempt(job).get("container") or {}).get("exitCode")
    return int(code) if code is not None else None


def _reasons(job: dict[str, Any]) -> list[str]:
    """Distinct reasons, most specific last: job, last attempt, container."""
    attempt = _last_attempt(job)
    found = [
        job.get("statusReason"),
        attempt.get("statusReason"),
        (job.get("container") or {}).get("reason"),
        (attempt.get("container") or {}).get("reason"),
    ]
    out: list[str] = []
    for reason in found:
        if reason and reason not in out:
            out.append(str(reason))
    return out


def is_infra_failure(job: dict[str, Any]) -> bool:
    """Whether any reason names an infrastructure failure (``INFRA_REASONS``)."""
    return any(r.startswith(INFRA_REASONS) for r in _reasons(job))


def failure_reason(job: dict[str, Any]) -> str:
    """One line: the Batch reasons, the exit code, and how many Batch attempts ran."""
    parts = _reasons(job)
    if TIMEOUT_REASON in parts:
        limit = (job.get("timeout") or {}).get("attemptDurationSeconds")
        after = f" after {limit}s" if limit else ""
        parts[parts.index(TIMEOUT_REASON)] = f"timed out{after} ({TIMEOUT_REASON})"
    code = exit_code(job)
    if code is not None:
        parts.append(f"exit code {code}")
    n = len(job.get("attempts") or [])
    if n > 1:
        parts.append(f"after {n} Batch attempts")
    return "; ".join(parts) or "the job failed without a reason"


def _seconds(ms: Any) -> float | None:
    return float(ms) / 1000.0 if ms else None


def job_status(job: dict[str, Any], *, region: str | None, log_group: str) -> JobStatus:
    """The :class:`JobStatus` of one DescribeJobs entry."""
    raw = job.get("status", "")
    stream = log_stream(job)
    common: dict[str, Any] = {
        "log_stream": stream,
        "log": console_url(region, log_group, stream) if stream else None,
        "started_at": _seconds(job.get("startedAt")),
        "ended_at": _seconds(job.get("stoppedAt")),
    }
    if raw in PENDING_STATES:
        return JobStatus(job["jobId"], JobState.PENDING, **common)
    if raw in _STATES:
        return JobStatus(job["jobId"], _STATES[raw], exit_code=exit_code(job), **common)
    if raw == "FAILED":
        return JobStatus(
            job["jobId"],
            JobState.FAILED,
            reason=failure_reason(job),
            exit_code=exit_code(job),
            infra_failure=is_infra_failure(job),
            **common,
        )
    return JobStatus(job["jobId"], JobState.UNKNOWN, reason=f"unknown Batch status {raw!r}")
