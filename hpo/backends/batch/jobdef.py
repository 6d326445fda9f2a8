"""The study's job definition: built from the settings, registered once under a content hash.

The name is ``hpo-<study>-<hash of the definition>``: running the same study again finds the
ACTIVE definition by name (DescribeJobDefinitions) and registers nothing; changing the image,
command, resources, timeout or retries gives a new name. Names start with ``hpo`` because the
infra/ stack lets the controller register only such definitions.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from hpo.backends.base import safe_name
from hpo.backends.batch.client import BatchClients, with_backoff
from hpo.backends.batch.settings import BatchSettings
from hpo.spec.models import BatchResources

# Batch retries an attempt whose host went away (spot reclaim) and nothing else.
RETRY_RULES = [
    {"onStatusReason": "Host EC2*", "action": "RETRY"},
    {"onReason": "*", "action": "EXIT"},
]


def resource_requirements(resources: BatchResources) -> list[dict[str, str]]:
    """Batch ``resourceRequirements`` (values are strings; MEMORY in MiB; no GPU entry for 0)."""
    out = [{"type": "GPU", "value": str(resources.gpus)}] if resources.gpus else []
    out += [
        {"type": "VCPU", "value": str(resources.vcpus)},
        {"type": "MEMORY", "value": str(resources.memory_mib)},
    ]
    return out


def retry_strategy(attempts: int) -> dict[str, Any]:
    """Retry lost hosts (spot reclaims) up to ``attempts`` tries; exit on anything else."""
    return {"attempts": attempts, "evaluateOnExit": [dict(rule) for rule in RETRY_RULES]}


def _log_configuration(settings: BatchSettings) -> dict[str, Any]:
    options = {"awslogs-group": settings.log_group, "awslogs-stream-prefix": "hpo"}
    if settings.region:
        options["awslogs-region"] = settings.region
    return {"logDriver": "awslogs", "options": options}


def definition_body(settings: BatchSettings) -> dict[str, Any]:
    """RegisterJobDefinition arguments (all but the name) for ``settings``."""
    props: dict[str, Any] = {
        "image": settings.image,
        "command": list(settings.command),
        "resourceRequirements": resource_requirements(settings.resources),
        "environment": [{"name": k, "value": v} for k, v in sorted(settings.env.items())],
        "logConfiguration": _log_configuration(settings),
        "linuxParameters": {
            "initProcessEnabled": True,
            "sharedMemorySize": max(64, settings.resources.memory_mib // 4),
        },
    }
    if settings.job_role_arn:
        props["jobRoleArn"] = settings.job_role_arn
    body: dict[str, Any] = {
        "type": "container",
        "containerProperties": props,
        "retryStrategy": retry_strategy(settings.retry_attempts),
        "platformCapabilities": ["EC2"],
        "propagateTags": True,
        "tags": {"hpo:study": settings.study},
    }
    if settings.timeout is not None:
        body["timeout"] = {"attemptDurationSeconds": int(settings.timeout)}
    return body


def definition_name(study: str, body: dict[str, Any]) -> str:
    """``hpo-<study>-<16 hex of sha256(body)>``, sanitised to Batch's name rule (128 chars)."""
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]
    safe = safe_name(study, 100)
    return f"hpo-{safe}-{digest}"


def ensure_job_definition(clients: BatchClients, settings: BatchSettings) -> str:
    """The ARN of the study's ACTIVE job definition, registering it if it does not exist."""
    body = definition_body(settings)
    name = definition_name(settings.study, body)
    found = with_backoff(
        lambda: clients.batch.describe_job_definitions(jobDefinitionName=name, status="ACTIVE"),
        what=f"DescribeJobDefinitions {name}",
        timer=clients.timer,
        rng=clients.rng,
    )
    active = [d for d in found.get("jobDefinitions", []) if d.get("status", "ACTIVE") == "ACTIVE"]
    if active:
        return max(active, key=lambda d: int(d.get("revision", 0)))["jobDefinitionArn"]
    made = with_backoff(
        lambda: clients.batch.register_job_definition(jobDefinitionName=name, **body),
        what=f"RegisterJobDefinition {name}",
        timer=clients.timer,
        rng=clients.rng,
    )
    return made["jobDefinitionArn"]
