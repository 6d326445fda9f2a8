"""The exception tree: every error hpo raises on purpose derives from :class:`HpoError`.

``HpoError``
    ``SpecError`` - the study file is invalid (exit code 2); carries file, field, line, hint.
    ``StorageError`` - the Optuna storage cannot be opened or used.
    ``ObjectStoreError`` - reading or writing trial documents failed.
    ``BackendError`` - a backend could not submit, describe or stop a job.
        ``ThrottledError`` - the backend asked us to slow down; retry with backoff.
    ``LeaseError`` - another controller holds the study (exit code 3).
    ``BudgetError`` - the study stopped because ``max_failures`` was reached (exit code 4).
    ``UnknownTrialError`` - an inspection command named a trial the study does not have.
    ``LogUnavailable`` - a trial's log does not exist (yet).
    ``InfraError`` - deploying, pushing to or tearing down the AWS side failed.
        ``StackStateError`` - the stack is missing or in a state that forbids the operation.
        ``DockerError`` - a docker command failed or docker is not installed.

Not in the tree on purpose: ``hpo.worker.WorkerError`` is raised inside the trainer's process
(which does not depend on the controller's modules); ``InvalidDocument`` is internal: the
controller turns an invalid job document into a failed trial, never into an exit.

The CLI prints ``str(error)`` (one line) plus ``error.hint`` and exits with ``error.exit_code``.
"""

from __future__ import annotations


class HpoError(Exception):
    """Root of all hpo errors. ``hint`` tells the user what to do next."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


class SpecError(HpoError):
    """An invalid study file: names the file, the field (and line when known) and the fix."""

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        field: str | None = None,
        line: int | None = None,
        hint: str | None = None,
    ) -> None:
        self.file = file
        self.field = field
        self.line = line
        self.detail = message
        where = file or "<study>"
        if line is not None:
            where += f":{line}"
        if field:
            where += f": {field}"
        super().__init__(f"{where}: {message}", hint=hint)


class StorageError(HpoError):
    """The Optuna storage cannot be opened or written."""


class ObjectStoreError(HpoError):
    """A trial document could not be read or written."""


class BackendError(HpoError):
    """A backend call failed after its retries."""


class ThrottledError(BackendError):
    """The backend throttled a request; the caller may retry after backing off."""


class LeaseError(HpoError):
    """Another live controller owns this study."""

    exit_code = 3


class BudgetError(HpoError):
    """The study was stopped by its failure budget."""

    exit_code = 4


class UnknownTrialError(HpoError):
    """The study has no trial with the number the user gave."""


class LogUnavailable(HpoError):
    """The log does not exist (yet): no file, no stream, or the job has not started."""


class InfraError(HpoError):
    """Deploying, pushing to or tearing down the AWS side failed, or was asked wrongly."""


class StackStateError(InfraError):
    """The stack is missing or in a state that does not allow the operation."""


class DockerError(InfraError):
    """A docker command failed or docker is not installed."""
