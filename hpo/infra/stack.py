"""Create or update the hpo stack and wait for it; read its outputs.

``deploy`` is idempotent: a missing stack is created, an existing one updated, and an update
without changes ("No updates are to be performed") is a success that changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, WaiterError

from hpo.aws import error_message
from hpo.errors import StackStateError
from hpo.infra.calls import Call, ClientFactory, guarded
from hpo.infra.template import Template

CAPABILITIES = ["CAPABILITY_IAM"]
NO_UPDATES = "No updates are to be performed"
BUSY_SUFFIX = "_IN_PROGRESS"
BROKEN = {"ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "CREATE_FAILED", "DELETE_FAILED"}
Echo = Callable[[str], None]


@dataclass(frozen=True)
class Waiting:
    """How often and how long to poll a stack operation (seconds, attempts)."""

    delay: int = 15
    max_attempts: int = 240

    def describe(self) -> str:
        minutes = self.delay * self.max_attempts // 60
        return f"every {self.delay} s, at most {minutes} min"


DEFAULT_WAITING = Waiting()


@dataclass(frozen=True)
class DeployRequest:
    """What ``hpo infra deploy`` sends: stack name, template, given parameters, tags."""

    stack: str
    template: Template
    parameters: Mapping[str, str]

    @property
    def tags(self) -> list[dict[str, str]]:
        return [{"Key": "hpo:stack", "Value": self.stack}]

    def _shown(self) -> dict[str, str]:
        size = len(self.template.body.encode())
        return {"TemplateBody": f"<{self.template.path}: {size} bytes>"}

    def create_call(self) -> Call:
        """The CreateStack call."""
        return self._call("create_stack", self._given())

    def update_call(self, existing: set[str]) -> Call:
        """The UpdateStack call: given values, and ``UsePreviousValue`` for the stack's others."""
        keep = sorted((existing & set(self.template.parameters)) - set(self.parameters))
        return self._call(
            "update_stack",
            self._given() + [{"ParameterKey": k, "UsePreviousValue": True} for k in keep],
        )

    def _given(self) -> list[dict[str, Any]]:
        return [{"ParameterKey": k, "ParameterValue": v} for k, v in self.parameters.items()]

    def _call(self, operation: str, params: list[dict[str, Any]]) -> Call:
        args = {"StackName": self.stack, "TemplateBody": self.template.body, "Parameters": params,
                "Capabilities": CAPABILITIES, "Tags": self.tags}  # fmt: skip
        return Call("cloudformation", operation, args, self._shown())


def describe_call(stack: str) -> Call:
    """The DescribeStacks call for one stack."""
    return Call("cloudformation", "describe_stacks", {"StackName": stack})


def describe(clients: ClientFactory, stack: str) -> dict[str, Any] | None:
    """The stack's description, or ``None`` when no such stack exists."""
    stacks = guarded(lambda: describe_call(stack).invoke(clients)["Stacks"],
                     f"describing stack {stack}",
                     tolerate=lambda exc: "does not exist" in error_message(exc))  # fmt: skip
    return stacks[0] if stacks else None


def outputs_of(description: Mapping[str, Any]) -> dict[str, str]:
    """``{OutputKey: OutputValue}`` of a stack description."""
    return {o["OutputKey"]: o["OutputValue"] for o in description.get("Outputs", [])}


def require_outputs(clients: ClientFactory, stack: str) -> dict[str, str]:
    """The outputs of an existing, usable stack; raises when it is missing or broken."""
    found = describe(clients, stack)
    if found is None:
        raise StackStateError(
            f"stack {stack} does not exist",
            hint="deploy it with: hpo infra deploy --stack NAME (and check --region)",
        )
    status = found["StackStatus"]
    if status in BROKEN or status.startswith("DELETE"):
        raise StackStateError(f"stack {stack} is {status}", hint="redeploy it first")
    return outputs_of(found)


def _check_deployable(stack: str, status: str) -> None:
    if status.endswith(BUSY_SUFFIX):
        raise StackStateError(
            f"stack {stack} is busy ({status})", hint="wait until it settles, then retry"
        )
    if status in BROKEN or status == "REVIEW_IN_PROGRESS":
        raise StackStateError(
            f"stack {stack} is {status} and cannot be updated",
            hint=f"delete it with: hpo infra teardown --stack {stack}, then deploy again",
        )


def failure_reasons(clients: ClientFactory, stack: str, limit: int = 3) -> list[str]:
    """The newest resource failures of the stack's events, for the error message."""
    try:
        events = clients("cloudformation").describe_stack_events(StackName=stack)["StackEvents"]
    except (ClientError, BotoCoreError):
        return []
    failed = [e for e in events if str(e.get("ResourceStatus", "")).endswith("_FAILED")]
    return [
        f"{e.get('LogicalResourceId')}: {e.get('ResourceStatusReason', e['ResourceStatus'])}"
        for e in failed[:limit]
    ]


def wait(clients: ClientFactory, stack: str, waiter: str, waiting: Waiting) -> None:
    """Block until ``waiter`` (stack_create_complete, ...) succeeds; raise with the reasons."""
    try:
        clients("cloudformation").get_waiter(waiter).wait(
            StackName=stack,
            WaiterConfig={"Delay": waiting.delay, "MaxAttempts": waiting.max_attempts},
        )
    except WaiterError as exc:
        reasons = failure_reasons(clients, stack)
        detail = "; ".join(reasons) if reasons else str(exc)
        raise StackStateError(
            f"stack {stack} did not reach {waiter.removeprefix('stack_')}: {detail}",
            hint="see the stack's events in the CloudFormation console",
        ) from None


def deploy(
    clients: ClientFactory, request: DeployRequest, echo: Echo, waiting: Waiting = DEFAULT_WAITING
) -> dict[str, str]:
    """Create or update the stack, wait for it, and return its outputs."""
    found = describe(clients, request.stack)
    if found is None:
        echo(f"creating stack {request.stack} (this takes a few minutes)")
        _send(clients, request.create_call(), request.stack)
        wait(clients, request.stack, "stack_create_complete", waiting)
    else:
        _check_deployable(request.stack, found["StackStatus"])
        existing = {p["ParameterKey"] for p in found.get("Parameters", [])}
        echo(f"updating stack {request.stack}")

        def update() -> bool:
            request.update_call(existing).invoke(clients)
            return True

        updated = guarded(update, f"updating stack {request.stack}", default=False,
                          tolerate=lambda exc: NO_UPDATES in error_message(exc))  # fmt: skip
        if updated:
            wait(clients, request.stack, "stack_update_complete", waiting)
        else:
            echo(f"stack {request.stack} is up to date")
    return require_outputs(clients, request.stack)


def _send(clients: ClientFactory, call: Call, stack: str) -> None:
    guarded(lambda: call.invoke(clients), f"{call.operation} of stack {stack}")


def plan(request: DeployRequest, waiting: Waiting = DEFAULT_WAITING) -> list[str]:
    """The dry-run text of :func:`deploy`: every call it may make, in order."""
    keep_note = "  (plus UsePreviousValue=True for every other parameter the stack has)"
    return [
        f"1. {describe_call(request.stack).render()}",
        "2. if the stack does not exist:",
        f"   {request.create_call().render()}",
        f"   wait stack_create_complete ({waiting.describe()})",
        "   if it exists:",
        f"   {request.update_call(set()).render()}{keep_note}",
        f"   wait stack_update_complete ({waiting.describe()});"
        f" '{NO_UPDATES}' means nothing to change",
        f"3. {describe_call(request.stack).render()} and print the outputs",
    ]


def effective_parameters(request: DeployRequest) -> list[tuple[str, str, str]]:
    """``(name, value, source)`` of every template parameter for a new stack."""
    rows = []
    for name, default in request.template.parameters.items():
        if name in request.parameters:
            rows.append((name, request.parameters[name], "given"))
        else:
            rows.append((name, "" if default is None else default, "default"))
    return rows
