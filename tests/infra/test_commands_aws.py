"""The infra commands for real: against moto, with a fake docker, and with scripted failures."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, WaiterError
from click.testing import CliRunner, Result

from hpo.backends.batch.subscription import subscribe
from hpo.cli import main
from tests.infra.conftest import (
    FAST,
    REGION,
    STACK,
    moto_parameters,
    moto_session,
    no_runner,
)


def _invoke(args: list[str], session: Any = moto_session, runner: Any = no_runner) -> Result:
    obj = {"infra.session": session, "infra.runner": runner, "infra.waiting": FAST}
    return CliRunner().invoke(main, ["infra", *args], obj=obj)


def _param_args(**extra: str) -> list[str]:
    return [arg for k, v in moto_parameters(**extra).items() for arg in ("--param", f"{k}={v}")]


class DeletingCfn:
    """moto's CloudFormation, except delete_stack and its waiter are recorded.

    moto cannot delete this stack: it leaves the S3 gateway endpoint and the gateway
    attachment behind and then refuses to delete the VPC.
    """

    def __init__(self) -> None:
        self.real = boto3.client("cloudformation", region_name=REGION)
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def delete_stack(self, **kw: Any) -> dict[str, Any]:
        self.calls.append(("delete_stack", kw))
        return {}

    def get_waiter(self, name: str) -> Any:
        calls = self.calls

        class Waiter:
            def wait(self, **kw: Any) -> None:
                calls.append((name, kw))

        return Waiter()


@pytest.mark.usefixtures("aws")
def test_deploy_creates_and_teardown_empties_and_deletes() -> None:
    # Updates are covered with FakeCfn below: moto's stack update fails on this template
    # (KeyError for UsePreviousValue of defaulted parameters, security group updates).
    created = _invoke(["deploy", "--stack", STACK, *_param_args()])
    assert created.exit_code == 0, created.output
    assert f"creating stack {STACK}" in created.output
    cfn = boto3.client("cloudformation", region_name=REGION)
    stack = cfn.describe_stacks(StackName=STACK)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    for key in ("JobQueueArn", "TrainerImageUri", "StudyEventsPrefix", "BucketName"):
        assert outputs[key] in created.output  # the outputs table
    assert {"Key": "hpo:stack", "Value": STACK} in stack["Tags"]

    bucket = outputs["BucketName"]
    s3 = boto3.client("s3", region_name=REGION)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    for body in (b"1", b"2"):  # two versions of the same key
        s3.put_object(Bucket=bucket, Key="demo/trials/0/progress.json", Body=body)
    s3.put_object(Bucket=bucket, Key="demo/trials/1/params.json", Body=b"{}")
    s3.delete_object(Bucket=bucket, Key="demo/trials/1/params.json")  # + a delete marker

    deleting = DeletingCfn()

    def session(region: str | None, profile: str | None) -> Any:
        real = moto_session(region, profile)
        return lambda service: deleting if service == "cloudformation" else real(service)

    refused = CliRunner().invoke(
        main, ["infra", "teardown", "--stack", STACK],
        obj={"infra.session": session, "infra.waiting": FAST}, input="n\n",
    )  # fmt: skip
    assert refused.exit_code == 1 and "Aborted" in refused.output
    assert deleting.calls == []
    assert len(s3.list_object_versions(Bucket=bucket)["Versions"]) == 3

    sqs, events = (
        boto3.client("sqs", region_name=REGION),
        boto3.client("events", region_name=REGION),
    )
    made = subscribe(sqs, events, prefix=outputs["StudyEventsPrefix"], study="left-behind",
                     job_queue=outputs["JobQueueArn"],
                     dead_letter_arn=outputs["EventsDeadLetterQueueArn"])  # fmt: skip

    removed = _invoke(["teardown", "--stack", STACK, "--yes"], session)
    assert removed.exit_code == 0, removed.output
    assert f"deleted 4 object versions from s3://{bucket}" in removed.output
    assert "deleted 2 study event rules and queues" in removed.output  # an interrupted study's
    assert events.list_rules(NamePrefix=made.rule_name)["Rules"] == []
    assert made.queue_url not in sqs.list_queues().get("QueueUrls", [])
    listing = s3.list_object_versions(Bucket=bucket)
    assert "Versions" not in listing and "DeleteMarkers" not in listing
    assert deleting.calls == [
        ("delete_stack", {"StackName": STACK}),
        ("stack_delete_complete", {"StackName": STACK, "WaiterConfig": {
            "Delay": FAST.delay, "MaxAttempts": FAST.max_attempts}}),
    ]  # fmt: skip
    assert f"stack {STACK} deleted" in removed.output


def _token() -> str:
    ecr = boto3.client("ecr", region_name=REGION)
    data = ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    return base64.b64decode(data).decode().partition(":")[2]


class FakeDocker:
    """Records docker commands; checks the staged context while the build runs."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.commands: list[list[str]] = []
        self.stdin: dict[str, bytes | None] = {}
        self.staged: set[str] = set()
        self.fail_on = fail_on

    def __call__(self, command: Sequence[str], stdin: bytes | None) -> int:
        command = list(command)
        self.commands.append(command)
        self.stdin[command[1]] = stdin
        if command[1] == "build":
            context = Path(command[-1])
            self.staged = {p.relative_to(context).as_posix() for p in context.rglob("*")}
        return 1 if command[1] == self.fail_on else 0


def test_push_image_builds_logs_in_on_stdin_and_pushes(stack_outputs: dict[str, str]) -> None:
    docker = FakeDocker()
    result = _invoke(["push-image", "--stack", STACK], runner=docker)
    assert result.exit_code == 0, result.output
    repo = stack_outputs["RepositoryUri"]
    assert [c[:2] for c in docker.commands] == [
        ["docker", "build"], ["docker", "login"], ["docker", "push"],
    ]  # fmt: skip
    assert docker.commands[0][-3:-1] == ["--file", f"{docker.commands[0][-1]}/Dockerfile"]
    assert f"{repo}:latest" in docker.commands[0]
    assert docker.commands[1] == [
        "docker", "login", "--username", "AWS", "--password-stdin", repo.split("/")[0],
    ]  # fmt: skip
    password = _token()
    assert docker.stdin["login"] == password.encode()
    assert password not in result.output and all(password not in c for c in docker.commands)
    assert docker.commands[2] == ["docker", "push", f"{repo}:latest"]
    assert {"Dockerfile", ".dockerignore", "entrypoint.sh", "train_torch.py"} <= docker.staged
    assert {"hpo/worker.py", "hpo/store/layout.py"} <= docker.staged
    assert not any("__pycache__" in p for p in docker.staged)
    assert f"pushed {repo}:latest" in result.output


def test_a_failed_build_is_a_clean_error(stack_outputs: dict[str, str]) -> None:
    docker = FakeDocker(fail_on="build")
    result = _invoke(["push-image", "--stack", STACK], runner=docker)
    assert result.exit_code == 1
    assert "error: 'docker build' failed with exit status 1" in result.output
    assert "Traceback" not in result.output
    assert len(docker.commands) == 1


@pytest.mark.usefixtures("aws")
def test_push_image_needs_the_stack() -> None:
    result = _invoke(["push-image", "--stack", "missing", "--dry-run"])
    assert result.exit_code == 1
    assert "stack missing does not exist" in result.output
    assert "hpo infra deploy" in result.output


# ---------------------------------------------------------------- scripted CloudFormation


class FakeCfn:
    """A CloudFormation client with a scripted stack status and update answer."""

    def __init__(self, status: str, update_error: str | None = None) -> None:
        self.status = status
        self.update_error = update_error
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def describe_stacks(self, **kw: Any) -> dict[str, Any]:
        self.calls.append(("describe_stacks", kw))
        params = [{"ParameterKey": "JobVcpus", "ParameterValue": "4"},
                  {"ParameterKey": "Retired", "ParameterValue": "x"}]  # fmt: skip
        outputs = [{"OutputKey": "JobQueueArn", "OutputValue": "arn:queue"}]
        return {"Stacks": [{"StackStatus": self.status, "Parameters": params, "Outputs": outputs}]}

    def update_stack(self, **kw: Any) -> dict[str, Any]:
        self.calls.append(("update_stack", kw))
        if self.update_error:
            error = {"Error": {"Code": "ValidationError", "Message": self.update_error}}
            raise ClientError(error, "UpdateStack")
        return {}

    def create_stack(self, **kw: Any) -> dict[str, Any]:
        raise AssertionError("create_stack on an existing stack")

    def get_waiter(self, name: str) -> Any:
        cfn = self

        class Waiter:
            def wait(self, **kw: Any) -> None:
                cfn.calls.append((name, kw))
                raise WaiterError(name, "Waiter encountered a terminal failure state", {})

        return Waiter()

    def describe_stack_events(self, **kw: Any) -> dict[str, Any]:
        failed = {
            "LogicalResourceId": "SpotComputeEnvironment",
            "ResourceStatus": "UPDATE_FAILED",
            "ResourceStatusReason": "no g5 here",
        }
        return {"StackEvents": [{"ResourceStatus": "UPDATE_IN_PROGRESS"}, failed]}


def _fake(cfn: FakeCfn) -> Any:
    return lambda region, profile: lambda service: cfn


def test_an_update_without_changes_is_a_success() -> None:
    cfn = FakeCfn("UPDATE_COMPLETE", update_error="No updates are to be performed.")
    result = _invoke(["deploy", "--stack", "s", "--param", "SpotMaxvCpus=32"], _fake(cfn))
    assert result.exit_code == 0, result.output
    assert "stack s is up to date" in result.output
    (update,) = [kw for name, kw in cfn.calls if name == "update_stack"]
    assert update["Parameters"] == [
        {"ParameterKey": "SpotMaxvCpus", "ParameterValue": "32"},
        {"ParameterKey": "JobVcpus", "UsePreviousValue": True},
    ]
    assert not [name for name, _ in cfn.calls if name.startswith("stack_")]  # no waiting


def test_a_failed_update_reports_the_resource_reason() -> None:
    cfn = FakeCfn("CREATE_COMPLETE")
    result = _invoke(["deploy", "--stack", "s"], _fake(cfn))
    assert result.exit_code == 1
    assert "did not reach update_complete: SpotComputeEnvironment: no g5 here" in result.output
    assert ("stack_update_complete", {"StackName": "s", "WaiterConfig": {
        "Delay": FAST.delay, "MaxAttempts": FAST.max_attempts}}) in cfn.calls  # fmt: skip


@pytest.mark.parametrize(
    ("status", "expected"),
    [("ROLLBACK_COMPLETE", "hpo infra teardown --stack s"), ("UPDATE_IN_PROGRESS", "busy")],
)
def test_a_stack_that_cannot_be_updated_is_refused(status: str, expected: str) -> None:
    cfn = FakeCfn(status)
    result = _invoke(["deploy", "--stack", "s"], _fake(cfn))
    assert result.exit_code == 1
    assert expected in result.output
    assert [name for name, _ in cfn.calls] == ["describe_stacks"]


@pytest.mark.usefixtures("aws")
def test_the_login_token_comes_from_the_registry_region() -> None:
    regions: list[str | None] = []

    def session(region: str | None, profile: str | None) -> Any:
        regions.append(region)
        return moto_session(region, profile)

    repo = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/trainer"
    docker = FakeDocker()
    result = _invoke(["push-image", "--repository-uri", repo, "--tag", "t1"], session, docker)
    assert result.exit_code == 0, result.output
    assert regions == ["eu-west-1"]
    assert docker.commands[1][-1] == "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
    assert docker.commands[2] == ["docker", "push", f"{repo}:t1"]
