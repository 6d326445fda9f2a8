"""Each study's own job events: an SQS queue and an EventBridge rule per study.

Several studies (several controllers) can share one stack. Each controller makes, once and
idempotently, a queue named after its study and a rule that sends to it the "Batch Job State
Change" events of the stack's job queue whose job name starts with the study's prefix
(``<study>-``) and whose status is one the controller acts on (``STATUSES``), so a
controller never receives, let alone deletes, another study's events. A study whose name is
a prefix of another's (``a`` and ``a-b``) also receives the other's events; it drops those,
and the other study's rule delivered its own copy. The queue's dead-letter queue is the
stack's; its policy lets only its rule send to it. Names start with the stack's
``StudyEventsPrefix`` output, which the controller's IAM policy is scoped to. When the
study has reached its end, its rule and queue are deleted.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from hpo.aws import error_code
from hpo.backends.base import safe_name, sanitize_job_name
from hpo.errors import BackendError

VISIBILITY_TIMEOUT = 60  # seconds a received event stays hidden before it is delivered again
RETENTION = 345_600  # four days
MAX_RECEIVES = 5  # then the message goes to the dead-letter queue
TARGET_ID = "hpo-study-events"
# The changes the controller acts on: queued (first, and again after a lost host), started,
# ended. PENDING and STARTING say nothing new, so they are not sent (fewer receives).
STATUSES = ("RUNNABLE", "RUNNING", "SUCCEEDED", "FAILED")


@dataclass(frozen=True)
class Subscription:
    """A study's events queue and the rule that fills it."""

    queue_url: str
    queue_arn: str
    rule_name: str
    rule_arn: str


def resource_name(prefix: str, study: str) -> str:
    """``<prefix>-<study, cut>-<8 hex of its hash>``: within SQS's and EventBridge's limits."""
    digest = hashlib.sha256(study.encode()).hexdigest()[:8]
    safe = safe_name(study, 28)
    return f"{prefix}-{safe}-{digest}"[:64]


def event_pattern(study: str, job_queue: str) -> dict[str, Any]:
    """The study's job state changes on ``job_queue`` (an ARN, or a queue name)."""
    queue: Any = job_queue if job_queue.startswith("arn:") else {"wildcard": f"*/{job_queue}"}
    return {
        "source": ["aws.batch"],
        "detail-type": ["Batch Job State Change"],
        "detail": {
            "jobQueue": [queue],
            "jobName": [{"prefix": sanitize_job_name(study) + "-"}],
            "status": list(STATUSES),
        },
    }


def _arn_parts(arn: str) -> tuple[str, str, str]:
    """Partition, region and account of an ARN."""
    parts = arn.split(":")
    if len(parts) < 6:
        raise BackendError(f"not an ARN: {arn!r}")
    return parts[1], parts[3], parts[4]


def _queue_policy(queue_arn: str, rule_arn: str) -> str:
    statement = {
        "Sid": "StudyRuleOnly",
        "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"},
        "Action": "sqs:SendMessage",
        "Resource": queue_arn,
        "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def subscribe(
    sqs: Any, events: Any, *, prefix: str, study: str, job_queue: str, dead_letter_arn: str
) -> Subscription:
    """Make (or find) the study's queue and rule; returns where its events arrive."""
    partition, region, account = _arn_parts(dead_letter_arn)
    name = resource_name(prefix, study)
    queue_arn = f"arn:{partition}:sqs:{region}:{account}:{name}"
    rule_arn = f"arn:{partition}:events:{region}:{account}:rule/{name}"
    attributes = {
        "MessageRetentionPeriod": str(RETENTION),
        "VisibilityTimeout": str(VISIBILITY_TIMEOUT),
        "SqsManagedSseEnabled": "true",
        "RedrivePolicy": json.dumps(
            {"deadLetterTargetArn": dead_letter_arn, "maxReceiveCount": MAX_RECEIVES}
        ),
        "Policy": _queue_policy(queue_arn, rule_arn),
    }
    try:
        url = _queue(sqs, name, attributes)
        events.put_rule(
            Name=name,
            EventPattern=json.dumps(event_pattern(study, job_queue)),
            State="ENABLED",
            Description=f"hpo: Batch job state changes of study {study}"[:512],
        )
        answer = events.put_targets(Rule=name, Targets=[{"Id": TARGET_ID, "Arn": queue_arn}])
    except (ClientError, BotoCoreError) as exc:
        raise BackendError(f"cannot subscribe study {study!r} to its job events: {exc}") from exc
    if answer.get("FailedEntryCount"):
        raise BackendError(f"EventBridge refused the study's queue target: {answer}")
    return Subscription(url, queue_arn, name, rule_arn)


def _queue(sqs: Any, name: str, attributes: dict[str, str]) -> str:
    """CreateQueue, or the existing queue brought to ``attributes``."""
    try:
        return str(sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"])
    except ClientError as exc:
        if error_code(exc) not in ("QueueAlreadyExists", "QueueNameExists"):
            raise
    url = str(sqs.get_queue_url(QueueName=name)["QueueUrl"])
    sqs.set_queue_attributes(QueueUrl=url, Attributes=attributes)
    return url


def unsubscribe(sqs: Any, events: Any, subscription: Subscription) -> None:
    """Delete the study's rule and queue (what is gone already is not an error)."""
    try:
        events.remove_targets(Rule=subscription.rule_name, Ids=[TARGET_ID])
        events.delete_rule(Name=subscription.rule_name)
        sqs.delete_queue(QueueUrl=subscription.queue_url)
    except (ClientError, BotoCoreError) as exc:
        if error_code(exc) not in (
            "ResourceNotFoundException",
            "AWS.SimpleQueueService.NonExistentQueue",
        ):
            raise BackendError(f"cannot remove the study's event subscription: {exc}") from exc
