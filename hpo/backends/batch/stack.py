"""Values for a Batch study from the CloudFormation outputs of the infra/ stack (``stack:``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from hpo.aws import error_code
from hpo.errors import BackendError, SpecError
from hpo.spec.models import STACK_OUTPUTS


def stack_outputs(cloudformation: Any, stack: str, *, source: str = "<study>") -> dict[str, str]:
    """``{OutputKey: OutputValue}`` of ``stack`` (one DescribeStacks call)."""
    try:
        stacks = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    except ClientError as exc:
        if error_code(exc) == "ValidationError":
            raise SpecError(
                f"CloudFormation stack {stack!r} was not found ({exc})",
                file=source,
                field="backend.stack",
                hint="deploy the infra/ stack first, or fix the stack name or region",
            ) from exc
        raise BackendError(f"cannot read stack {stack!r}: {exc}") from exc
    except BotoCoreError as exc:
        raise BackendError(
            f"cannot read stack {stack!r}: {exc}",
            hint="check AWS credentials and backend.region/profile",
        ) from exc
    outputs = stacks[0].get("Outputs", []) if stacks else []
    return {o["OutputKey"]: o["OutputValue"] for o in outputs}


def spec_values(outputs: Mapping[str, str]) -> dict[str, str]:
    """Spec field -> value for every ``STACK_OUTPUTS`` entry the stack provides."""
    return {field: outputs[key] for field, key in STACK_OUTPUTS.items() if outputs.get(key)}
