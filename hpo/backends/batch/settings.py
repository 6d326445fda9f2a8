"""The Batch backend's resolved settings: the study's batch spec plus the stack's outputs.

Explicit spec values win over stack outputs; defaults apply last. Missing required values
(job queue, image or job definition, an ``s3://`` store) are ``SpecError``s naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from hpo.backends.batch.stack import spec_values
from hpo.errors import SpecError
from hpo.spec.loader import StudyFile
from hpo.spec.models import BatchBackendSpec, BatchResources

DEFAULT_LOG_GROUP = "/aws/batch/job"


@dataclass(frozen=True)
class EventSettings:
    """Where the study's job events come from: a queue of its own (``queue_url``, the user's),
    or a queue and rule the controller makes under the stack's ``prefix``."""

    queue_url: str | None = None
    prefix: str | None = None
    dead_letter_arn: str | None = None


def event_settings(spec: BatchBackendSpec, outputs: Mapping[str, str]) -> EventSettings | None:
    """Events from the spec's own queue, else from the stack (if it makes study queues)."""
    if not spec.events:
        return None
    if spec.events_queue_url:
        return EventSettings(queue_url=spec.events_queue_url)
    prefix, dlq = outputs.get("StudyEventsPrefix"), outputs.get("EventsDeadLetterQueueArn")
    if prefix and dlq:
        return EventSettings(prefix=prefix, dead_letter_arn=dlq)
    return None  # no stack, or one from before study queues: poll


@dataclass(frozen=True)
class BatchSettings:
    """Everything the Batch backend needs, resolved and checked."""

    study: str
    job_queue: str
    command: list[str]
    image: str | None = None  # set: register our own job definition
    job_definition: str | None = None  # set (and no image): use this one with overrides
    job_role_arn: str | None = None
    log_group: str = DEFAULT_LOG_GROUP
    region: str | None = None
    resources: BatchResources = field(default_factory=BatchResources)
    timeout: float | None = None
    retry_attempts: int = 3
    poll_interval: float = 15.0
    stop_on_exit: bool = False
    submit_rate: float = 40.0
    env: Mapping[str, str] = field(default_factory=dict)
    events: EventSettings | None = None  # None: poll DescribeJobs


def _pick(spec: BatchBackendSpec, stack: Mapping[str, str], name: str) -> str | None:
    """The explicit spec value, else the stack's, else the spec default."""
    value = getattr(spec, name)
    if name in spec.model_fields_set and value is not None:
        return value
    return stack.get(name, value)


def log_group(spec: BatchBackendSpec, stack: Mapping[str, str]) -> str:
    """Where the jobs log: the spec's ``log_group`` if set, else the stack's, else the default."""
    return _pick(spec, stack, "log_group") or DEFAULT_LOG_GROUP


def _missing(study: StudyFile, field_name: str, what: str) -> SpecError:
    """The error for a required value neither the spec nor the stack gives."""
    spec = study.spec.backend
    where = f"stack {spec.stack!r} has no output for it" if spec.stack else "no 'stack:' is set"
    return SpecError(
        f"the batch backend needs {what} ({where})",
        file=str(study.path),
        field=field_name,
        hint=f"set '{field_name}' or 'backend.stack' to a deployed infra/ stack",
    )


def _image_or_definition(study: StudyFile, stack: Mapping[str, str]) -> tuple[str | None, ...]:
    """``(image, job_definition)``: explicit spec values first, then the stack (image preferred)."""
    spec = study.spec.backend
    assert isinstance(spec, BatchBackendSpec)
    if spec.image and spec.job_definition:
        raise SpecError(
            "give either 'image' (hpo registers a job definition) or 'job_definition', not both",
            file=str(study.path),
            field="backend.image",
            hint="remove one of them: 'image' gives this study its own job definition",
        )
    if spec.image or spec.job_definition:
        return spec.image, spec.job_definition
    if stack.get("image"):
        return stack["image"], None
    if stack.get("job_definition"):
        return None, stack["job_definition"]
    raise _missing(study, "backend.image", "a container image or a job definition")


def resolve_settings(study: StudyFile, outputs: Mapping[str, str]) -> BatchSettings:
    """Merge ``study``'s batch spec with the stack's ``outputs`` (empty without a stack)."""
    spec = study.spec.backend
    assert isinstance(spec, BatchBackendSpec)
    stack = spec_values(outputs)
    queue = _pick(spec, stack, "job_queue")
    if not queue:
        raise _missing(study, "backend.job_queue", "a job queue")
    image, definition = _image_or_definition(study, stack)
    return BatchSettings(
        study=study.spec.name,
        job_queue=queue,
        command=list(study.spec.trainer.command),
        image=image,
        job_definition=definition,
        job_role_arn=_pick(spec, stack, "job_role_arn"),
        log_group=log_group(spec, stack),
        region=_pick(spec, stack, "region"),
        resources=spec.resources,
        timeout=study.spec.attempt_timeout,
        retry_attempts=spec.retry_attempts,
        poll_interval=spec.poll_interval,
        stop_on_exit=spec.stop_on_exit,
        submit_rate=spec.submit_rate,
        env=dict(study.spec.trainer.env),
        events=event_settings(spec, outputs),
    )


def store_root(study: StudyFile, outputs: Mapping[str, str]) -> str:
    """The ``s3://`` root of the trial documents: the study's ``store``, else the stack's."""
    store = study.spec.store
    if store is not None and not store.startswith("s3://"):
        raise SpecError(
            f"the batch backend needs an s3:// store; {store!r} is a local directory that "
            "Batch jobs cannot reach",
            file=str(study.path),
            field="store",
            hint="set 'store: s3://BUCKET/PREFIX' or leave it out to use the stack's bucket",
        )
    if store is not None:
        return study.store_root
    if outputs.get("StoreUri", "").startswith("s3://"):
        return outputs["StoreUri"].rstrip("/")
    if outputs.get("BucketName"):
        return f"s3://{outputs['BucketName']}"
    raise _missing(study, "store", "an s3:// store for trial documents")
