"""Turn a DescribeJobs entry into a :class:`JobStatus`: state, reason, infra flag, log links.

SUBMITTED/PENDING/RUNNABLE/STARTING are PENDING; RUNNING, SUCCEEDED and FAILED map as named.
A FAILED job's reason joins ``statusReason``, ``container.reason`` and the exit code. Failures
that are not the trainer's fault (spot reclaim ``Host EC2 ...``, a RUNNABLE job cancelled for
lack of capacity) are ``infra_failure`` so the controller retries the trial.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from hpo.backends.base import AttemptInfo, JobState, JobStatus

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


def _text(value: Any, limit: int = 1000) -> str | None:
    """A string field of untrusted input, cut to ``limit``; anything else is None."""
    return value[:limit] if isinstance(value, str) and value else None


def _dict(value: Any) -> dict[str, Any]:
    """``value`` if it is a dict, else an empty one (events and answers are untrusted)."""
    return value if isinstance(value, dict) else {}


def _last_attempt(job: dict[str, Any]) -> dict[str, Any]:
    attempts = job.get("attempts")
    return _dict(attempts[-1]) if isinstance(attempts, list) and attempts else {}


def log_stream(job: dict[str, Any]) -> str | None:
    """The newest attempt's log stream (``container`` first, then ``attempts[-1]``)."""
    stream = _text(_dict(job.get("container")).get("logStreamName"), 512)
    return stream or _text(_dict(_last_attempt(job).get("container")).get("logStreamName"), 512)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def exit_code(job: dict[str, Any]) -> int | None:
    """The container's exit code (job level, else the newest attempt's)."""
    code = _int(_dict(job.get("container")).get("exitCode"))
    return (
        code
        if code is not None
        else _int(_dict(_last_attempt(job).get("container")).get("exitCode"))
    )


def _reasons(job: dict[str, Any]) -> list[str]:
    """Distinct reasons, most specific last: job, last attempt, container."""
    attempt = _last_attempt(job)
    found = [
        job.get("statusReason"),
        attempt.get("statusReason"),
        _dict(job.get("container")).get("reason"),
        _dict(attempt.get("container")).get("reason"),
    ]
    out: list[str] = []
    for reason in found:
        text = _text(reason)
        if text and text not in out:
            out.append(text)
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
    n = len(job["attempts"]) if isinstance(job.get("attempts"), list) else 0
    if n > 1:
        parts.append(f"after {n} Batch attempts")
    return "; ".join(parts) or "the job failed without a reason"


def _seconds(ms: Any) -> float | None:
    if isinstance(ms, bool) or not isinstance(ms, int | float) or ms <= 0:
        return None
    return float(ms) / 1000.0


def attempts(job: dict[str, Any], *, region: str | None, log_group: str) -> tuple[AttemptInfo, ...]:
    """Every ended attempt of the job (Batch lists one per container run, retries included)."""
    out = []
    listed = job.get("attempts")
    for entry in listed if isinstance(listed, list) else []:
        if not isinstance(entry, dict):
            continue
        container = _dict(entry.get("container"))
        stream = _text(container.get("logStreamName"), 512)
        code = _int(container.get("exitCode"))
        reasons = [r for r in (_text(entry.get("statusReason")), _text(container.get("reason")))
                   if r]  # fmt: skip
        out.append(
            AttemptInfo(
                started_at=_seconds(entry.get("startedAt")),
                stopped_at=_seconds(entry.get("stoppedAt")),
                exit_code=code,
                reason="; ".join(dict.fromkeys(reasons)) or None,
                log=console_url(region, log_group, stream) if stream else None,
                log_stream=stream,
                host=_text(container.get("containerInstanceArn"), 512),
            )
        )
    return tuple(out)


def job_status(job: dict[str, Any], *, region: str | None, log_group: str) -> JobStatus:
    """The :class:`JobStatus` of one DescribeJobs entry (or a job state change event's detail)."""
    raw = job.get("status", "")
    stream = log_stream(job)
    container = _dict(job.get("container"))
    common: dict[str, Any] = {
        "log_stream": stream,
        "log": console_url(region, log_group, stream) if stream else None,
        "started_at": _seconds(job.get("startedAt")),
        "ended_at": _seconds(job.get("stoppedAt")),
        "attempts": attempts(job, region=region, log_group=log_group),
        "host": _text(container.get("containerInstanceArn"), 512),
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
    return JobStatus(job["jobId"], JobState.UNKNOWN, reason=f"unknown Batch status {raw!r}"[:200])
