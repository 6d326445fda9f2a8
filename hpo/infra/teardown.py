"""Delete the hpo stack: empty its trial bucket (CloudFormation cannot delete a full one),
remove the job-event queues and rules its studies' controllers made (``StudyEventsPrefix-*``,
left behind by a study that never reached its end), then delete the stack and wait. The ECR
repository is emptied by CloudFormation (EmptyOnDelete).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

from hpo.errors import InfraError
from hpo.infra.calls import Call, ClientFactory, guarded
from hpo.infra.stack import DEFAULT_WAITING, Waiting, describe_call, wait

Echo = Callable[[str], None]
BATCH = 1000  # DeleteObjects takes at most 1000 keys


def delete_call(stack: str) -> Call:
    """The DeleteStack call."""
    return Call("cloudformation", "delete_stack", {"StackName": stack})


def _versions(s3: Any, bucket: str) -> Iterator[dict[str, str]]:
    """Every object version and delete marker of the bucket as DeleteObjects entries."""
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        for item in page.get("Versions", []) + page.get("DeleteMarkers", []):
            yield {"Key": item["Key"], "VersionId": item["VersionId"]}


def _delete_batch(s3: Any, bucket: str, batch: list[dict[str, str]]) -> None:
    answer = s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
    errors = answer.get("Errors", [])
    if errors:
        first = errors[0]
        raise InfraError(
            f"could not delete s3://{bucket}/{first.get('Key')}: {first.get('Message')}",
            hint="check the bucket policy and your permissions, then run teardown again",
        )


def empty_bucket(clients: ClientFactory, bucket: str) -> int:
    """Delete every object version of ``bucket``; returns how many were deleted."""
    s3 = clients("s3")
    deleted: list[int] = []  # per batch; a bucket already gone keeps what was deleted

    def empty() -> None:
        versions = iter(_versions(s3, bucket))
        while batch := list(itertools.islice(versions, BATCH)):
            _delete_batch(s3, bucket, batch)
            deleted.append(len(batch))

    guarded(empty, f"emptying s3://{bucket}", tolerate=lambda exc: "NoSuchBucket" in str(exc))
    return sum(deleted)


def _rules(events: Any, prefix: str) -> list[str]:
    names: list[str] = []
    token: str | None = None
    while True:
        page = events.list_rules(NamePrefix=prefix, **({"NextToken": token} if token else {}))
        names += [rule["Name"] for rule in page.get("Rules", [])]
        token = page.get("NextToken")
        if not token:
            return names


def remove_study_events(clients: ClientFactory, prefix: str) -> int:
    """Delete the study event rules and queues named ``<prefix>-*``; returns how many."""
    events, sqs = clients("events"), clients("sqs")

    def remove() -> int:
        rules = _rules(events, f"{prefix}-")
        for name in rules:
            ids = [t["Id"] for t in events.list_targets_by_rule(Rule=name).get("Targets", [])]
            if ids:
                events.remove_targets(Rule=name, Ids=ids)
            events.delete_rule(Name=name)
        queues = sqs.list_queues(QueueNamePrefix=f"{prefix}-").get("QueueUrls", [])
        for url in queues:
            sqs.delete_queue(QueueUrl=url)
        return len(rules) + len(queues)

    return guarded(remove, f"removing the study event queues {prefix}-*") or 0


def teardown(
    clients: ClientFactory,
    stack: str,
    outputs: dict[str, str],
    echo: Echo,
    waiting: Waiting = DEFAULT_WAITING,
) -> None:
    """Empty the stack's bucket, remove its studies' event queues and rules, delete the stack
    and wait until it is gone (``outputs``: the stack's outputs)."""
    bucket, prefix = outputs.get("BucketName"), outputs.get("StudyEventsPrefix")
    if bucket:
        count = empty_bucket(clients, bucket)
        echo(f"deleted {count} object versions from s3://{bucket}")
    if prefix:
        echo(f"deleted {remove_study_events(clients, prefix)} study event rules and queues")
    guarded(lambda: delete_call(stack).invoke(clients), f"deleting stack {stack}")
    echo(f"deleting stack {stack}")
    wait(clients, stack, "stack_delete_complete", waiting)
    echo(f"stack {stack} deleted")


def plan_lines(
    stack: str, bucket: str | None, waiting: Waiting = DEFAULT_WAITING, prefix: str | None = None
) -> list[str]:
    """The dry-run text of :func:`teardown`."""
    lines = [f"1. {describe_call(stack).render()}  (read only: finds the bucket)"]
    if bucket:
        lines.append(
            f"2. delete every object version in s3://{bucket}:"
            f" s3.list_object_versions(Bucket={bucket!r}) pages, then"
            f" s3.delete_objects(Bucket={bucket!r}, Delete=<up to {BATCH} versions>) per batch"
        )
    else:
        lines.append("2. (the stack has no bucket output: nothing to empty)")
    if prefix:
        lines.append(
            f"   then the study event rules and queues {prefix}-*: events.list_rules, "
            "remove_targets and delete_rule; sqs.list_queues and delete_queue"
        )
    lines += [
        f"3. {delete_call(stack).render()}",
        f"4. wait stack_delete_complete ({waiting.describe()})",
    ]
    return lines
