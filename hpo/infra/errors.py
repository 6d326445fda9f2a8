"""Errors of the infra commands: one line and a hint, printed by the CLI without a traceback."""

from __future__ import annotations

from hpo.errors import HpoError


class InfraError(HpoError):
    """Deploying, pushing to or tearing down the AWS side failed, or was asked wrongly."""


class StackStateError(InfraError):
    """The stack is missing or in a state that does not allow the operation."""


class DockerError(InfraError):
    """A docker command failed or docker is not installed."""
