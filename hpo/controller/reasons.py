"""The reason a failed trial records: the trainer's own words where it left any.

``error.json`` (written by ``hpo.worker`` when the trainer dies of an uncaught exception) is
untrusted input: it is used only when it is a small JSON object for this very attempt, and
its text is cut to one bounded line. Without it, the backend's bounded tail of the trainer's
output stands in. Either way the reason ends with the command that shows the whole log.
"""

from __future__ import annotations

import json
import re

from hpo.backends.base import JobStatus
from hpo.controller.inflight import InFlight
from hpo.store.base import ObjectStore
from hpo.store.layout import TrialLayout

MAX_ERROR_BYTES = 16_384
MAX_MESSAGE = 400
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def one_line(text: str, limit: int = MAX_MESSAGE) -> str:
    """``text`` without control characters, on one line, at most ``limit`` characters."""
    flat = _CONTROL.sub(" ", text).strip()
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def worker_error(raw: bytes | None, attempt: int) -> str | None:
    """The error message the worker recorded for ``attempt``, or ``None``."""
    if not raw or len(raw) > MAX_ERROR_BYTES:
        return None
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(doc, dict) or doc.get("attempt") != attempt:
        return None
    message = doc.get("error")
    return one_line(message) if isinstance(message, str) and message.strip() else None


def failure_reason(
    status: JobStatus, error_doc: bytes | None, attempt: int, logs_command: str | None
) -> str:
    """What a trial that failed with ``status`` records as ``fail_reason``."""
    reason = status.reason or status.state.value
    message = worker_error(error_doc, attempt)
    if message is not None:
        reason = f"{message} ({reason})"
    elif status.output_tail:
        reason = f"{reason}: {one_line(status.output_tail)}"
    return f"{reason}; see: {logs_command}" if logs_command else reason


def trial_failure(
    status: JobStatus, store: ObjectStore, layout: TrialLayout, f: InFlight, study_file: str | None
) -> str:
    """:func:`failure_reason` for trial ``f``, with its ``error.json`` read from ``store``."""
    error = store.get(layout.error(f.number))
    logs = f"hpo logs {study_file} {f.number}" if study_file else None
    return failure_reason(status, error, f.attempt, logs)
