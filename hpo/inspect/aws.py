"""AWS clients for inspection, built from the study's batch backend settings (never global)."""

from __future__ import annotations

from typing import Any

from hpo.errors import HpoError
from hpo.spec.loader import StudyFile
from hpo.spec.models import BatchBackendSpec


def batch_spec(study: StudyFile) -> BatchBackendSpec | None:
    """The study's batch backend settings, or ``None`` for a local study."""
    backend = study.spec.backend
    return backend if isinstance(backend, BatchBackendSpec) else None


def client(study: StudyFile, service: str) -> Any:
    """A boto3 client for ``service`` with the study's region, profile and endpoint."""
    import boto3
    import botocore.exceptions

    spec = batch_spec(study)
    region = spec.region if spec else None
    profile = spec.profile if spec else None
    endpoint = spec.endpoint_url if spec else None
    try:
        session = boto3.Session(profile_name=profile, region_name=region)
        return session.client(service, endpoint_url=endpoint)
    except botocore.exceptions.BotoCoreError as exc:
        raise HpoError(
            f"cannot create an AWS {service} client: {exc}",
            hint="set backend.region/profile in the study file, or AWS_REGION/AWS_PROFILE",
        ) from exc
