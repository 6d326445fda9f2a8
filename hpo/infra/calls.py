"""AWS API calls as data: the same object is printed by ``--dry-run`` and invoked for real."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from hpo import aws
from hpo.errors import InfraError

T = TypeVar("T")

ClientFactory = Callable[[str], Any]
"""Returns the boto3 client of a service name (``"cloudformation"``, ``"ecr"``, ``"s3"``)."""

SessionFactory = Callable[[str | None, str | None], ClientFactory]
"""Builds a :data:`ClientFactory` for ``(region, profile)``."""


@dataclass(frozen=True)
class Call:
    """One API call: ``service.operation(**params)``; ``shown`` replaces bulky values in text."""

    service: str
    operation: str
    params: Mapping[str, Any]
    shown: Mapping[str, str] = field(default_factory=dict)

    def render(self) -> str:
        """``cloudformation.create_stack(StackName='hpo', ...)`` with bulky values abbreviated."""
        args = ", ".join(
            f"{key}={self.shown[key] if key in self.shown else repr(value)}"
            for key, value in self.params.items()
        )
        return f"{self.service}.{self.operation}({args})"

    def invoke(self, clients: ClientFactory) -> Any:
        """Make the call with the factory's client of this service."""
        return getattr(clients(self.service), self.operation)(**self.params)


def boto3_clients(region: str | None, profile: str | None) -> ClientFactory:
    """A factory of real boto3 clients sharing one session (created on first use)."""
    session = aws.session(
        region, profile, error=InfraError, hint="check --profile and ~/.aws/config"
    )
    cache: dict[str, Any] = {}

    def client(service: str) -> Any:
        if service not in cache:
            if session.region_name is None:
                raise InfraError(
                    "no AWS region configured",
                    hint="pass --region or set AWS_REGION / AWS_DEFAULT_REGION",
                )
            cache[service] = aws.client(session, service)
        return cache[service]

    return client


def guarded(
    call: Callable[[], T],
    doing: str,
    *,
    tolerate: Callable[[ClientError], bool] | None = None,
    default: T | None = None,
) -> T | None:
    """``call()``; an AWS error that ``tolerate`` accepts gives ``default``, any other one
    an :class:`InfraError` for ``doing`` (see :func:`aws_failure`)."""
    try:
        return call()
    except ClientError as exc:
        if tolerate is not None and tolerate(exc):
            return default
        raise aws_failure(exc, doing) from None
    except BotoCoreError as exc:
        raise aws_failure(exc, doing) from None


def aws_failure(exc: ClientError | BotoCoreError, doing: str) -> InfraError:
    """An :class:`InfraError` for a failed AWS call, with a hint for the usual causes."""
    if isinstance(exc, ClientError):
        code = aws.error_code(exc)
        text = f"{doing} failed: {code}: {aws.error_message(exc)}"
        if code in {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"}:
            return InfraError(text, hint="your AWS identity lacks this permission")
        if code in {"ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId"}:
            return InfraError(text, hint="refresh your AWS credentials (aws sso login, ...)")
        return InfraError(text)
    return InfraError(
        f"{doing} failed: {exc}", hint="check your AWS credentials, profile and region"
    )
