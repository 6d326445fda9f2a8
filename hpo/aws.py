"""The one seam between hpo and AWS: sessions, clients (their retry config is set here only)
and the error code of a failed call.

Every boto3 client hpo makes comes from :func:`client`: the controller's (Batch, S3, SQS,
EventBridge, ECS, EC2, Pricing), the inspection commands' (CloudWatch Logs, S3), ``hpo
infra``'s, and the trainer's own S3 client in :mod:`hpo.worker`. This module needs only the
standard library at import (boto3 is imported when a session is made), so the trainer image
carries it beside ``hpo.worker``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hpo.errors import HpoError

if TYPE_CHECKING:
    from hpo.spec.loader import StudyFile

RETRY_MODE = "standard"  # botocore's: exponential backoff with jitter on throttles and 5xx
MAX_ATTEMPTS = 5  # per request, the first one included


def session(
    region: str | None = None,
    profile: str | None = None,
    *,
    error: type[HpoError] = HpoError,
    hint: str | None = None,
) -> Any:
    """A boto3 session; an unknown profile raises ``error`` (with ``hint``). No request is
    made here, and a missing region only shows when a client is made."""
    import boto3
    from botocore.exceptions import BotoCoreError

    try:
        return boto3.session.Session(profile_name=profile, region_name=region)
    except BotoCoreError as exc:
        raise error(f"cannot open an AWS session: {exc}", hint=hint) from exc


def client(
    aws_session: Any,
    service: str,
    *,
    endpoint_url: str | None = None,
    retry_mode: str = RETRY_MODE,
    region_name: str | None = None,
) -> Any:
    """A client of ``service`` from ``aws_session`` with hpo's retry config (``adaptive``
    mode also rate-limits the client itself; the Batch backend may ask for it)."""
    from botocore.config import Config

    config = Config(retries={"mode": retry_mode, "max_attempts": MAX_ATTEMPTS})
    return aws_session.client(
        service, endpoint_url=endpoint_url, config=config, region_name=region_name
    )


def study_client(study: StudyFile, service: str) -> Any:
    """A client of ``service`` with the region, profile and endpoint of the study's batch
    backend (the AWS defaults for a local study)."""
    from botocore.exceptions import BotoCoreError

    backend = study.spec.backend  # a local backend has none of these fields
    hint = "set backend.region/profile in the study file, or AWS_REGION/AWS_PROFILE"
    region = getattr(backend, "region", None)
    profile = getattr(backend, "profile", None)
    endpoint = getattr(backend, "endpoint_url", None)
    try:
        return client(session(region, profile, hint=hint), service, endpoint_url=endpoint)
    except BotoCoreError as exc:  # e.g. no region anywhere
        raise HpoError(f"cannot create an AWS {service} client: {exc}", hint=hint) from exc


def error_code(exc: BaseException) -> str:
    """The AWS error code of a failed call (``"ValidationError"``, ...; "" for anything that
    is not an AWS error response)."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return ""
    return str(response.get("Error", {}).get("Code", ""))


def error_message(exc: BaseException) -> str:
    """The AWS error message of a failed call (else the exception's text)."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return str(exc)
    return str(response.get("Error", {}).get("Message", exc))
