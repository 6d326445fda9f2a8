"""AWS Batch: trials as GPU jobs, trial documents on S3.

``make_batch_backend(study)`` reads the ``backend:`` section (values missing there come
from the CloudFormation outputs of ``backend.stack``) and returns a :class:`BatchBackend`;
``open_batch_store(study)`` opens the study's ``s3://`` store with the same region, profile
and endpoint; ``resolve_log_group(study)`` says where its jobs log (for ``hpo logs``). Tests
pass ``clients=`` (a fake of the Batch API, moto's clients).
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import NoRegionError

from hpo.backends.batch.backend import BatchBackend
from hpo.backends.batch.client import BatchClients, make_clients
from hpo.backends.batch.settings import BatchSettings, log_group, resolve_settings, store_root
from hpo.backends.batch.stack import spec_values, stack_outputs
from hpo.errors import BackendError, SpecError
from hpo.spec.loader import StudyFile
from hpo.spec.models import BatchBackendSpec
from hpo.store.s3 import S3Store

__all__ = [
    "BatchBackend",
    "BatchClients",
    "BatchSettings",
    "make_batch_backend",
    "open_batch_store",
    "resolve_log_group",
]


def _spec(study: StudyFile) -> BatchBackendSpec:
    """The study's ``backend:`` section, which must be a batch one."""
    spec = study.spec.backend
    if not isinstance(spec, BatchBackendSpec):
        raise SpecError("not a batch study", file=str(study.path), field="backend.type")
    return spec


def _clients_for(spec: BatchBackendSpec) -> BatchClients:
    """boto3 clients for the spec's region, profile and endpoint (tests patch this seam)."""
    try:
        return make_clients(
            region=spec.region,
            profile=spec.profile,
            endpoint_url=spec.endpoint_url,
            retry_mode=spec.retry_mode,
        )
    except NoRegionError:
        raise BackendError(
            "the batch backend has no AWS region: none is set in the study file or for AWS",
            hint="set 'backend.region' in the study file, or AWS_REGION (or run `aws configure`)",
        ) from None


def _outputs(study: StudyFile, clients: BatchClients) -> dict[str, str]:
    """The stack's outputs, or nothing when the study names no stack."""
    spec = _spec(study)
    if not spec.stack:
        return {}
    return stack_outputs(clients.cloudformation, spec.stack, source=str(study.path))


def make_batch_backend(study: StudyFile, *, clients: BatchClients | None = None) -> BatchBackend:
    """The Batch backend for ``study`` (the study's S3 store root is checked here too)."""
    spec = _spec(study)
    clients = clients or _clients_for(spec)
    outputs = _outputs(study, clients)
    settings = resolve_settings(study, outputs)
    store_root(study, outputs)  # fail before any job exists if trials have nowhere to go
    return BatchBackend(settings, clients)


def open_batch_store(
    study: StudyFile, *, clients: BatchClients | None = None, s3_client: Any = None
) -> S3Store:
    """The study's S3 store: ``store:``, else the stack's store URI or bucket."""
    spec = _spec(study)
    outputs: dict[str, str] = {}
    if study.spec.store is None and spec.stack:
        outputs = _outputs(study, clients or _clients_for(spec))
    root = store_root(study, outputs)
    return S3Store.from_uri(
        root,
        client=s3_client,
        region=spec.region or outputs.get("Region"),
        profile=spec.profile,
        endpoint_url=spec.endpoint_url,
    )


def resolve_log_group(study: StudyFile, *, clients: BatchClients | None = None) -> str:
    """The CloudWatch log group the study's jobs write to, resolved as the backend resolves it;
    the stack is read only when the study names one and does not set ``log_group`` itself."""
    spec = _spec(study)
    outputs: dict[str, str] = {}
    if spec.stack and spec.log_group is None:
        outputs = _outputs(study, clients or _clients_for(spec))
    return log_group(spec, spec_values(outputs))
