"""``--dry-run`` prints the exact plan and calls neither AWS (beyond reading outputs) nor docker."""

from __future__ import annotations

import boto3
import pytest
from click.testing import CliRunner, Result

from hpo.cli import main
from tests.infra.conftest import FAST, REGION, STACK, TEMPLATE, Guard, no_runner

READ_OUTPUTS = {("cloudformation", "describe_stacks")}


def _invoke(args: list[str], guard: Guard) -> Result:
    obj = {"infra.session": guard, "infra.runner": no_runner, "infra.waiting": FAST}
    return CliRunner().invoke(main, ["infra", *args], obj=obj)


def test_deploy_dry_run_prints_the_calls_and_calls_nothing() -> None:
    guard = Guard()
    result = _invoke(
        ["deploy", "--stack", "study-infra", "--param", "GpuInstanceTypes=g5,g6",
         "--param", "SpotMaxvCpus=64", "--region", "eu-west-1", "--dry-run"],
        guard,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    out = result.output
    assert "stack study-infra in region eu-west-1" in out
    assert f"template {TEMPLATE}" in out
    given = (
        "Parameters=[{'ParameterKey': 'GpuInstanceTypes', 'ParameterValue': 'g5,g6'}, "
        "{'ParameterKey': 'SpotMaxvCpus', 'ParameterValue': '64'}]"
    )
    assert f"cloudformation.create_stack(StackName='study-infra', TemplateBody=<{TEMPLATE}" in out
    assert given in out
    assert "Capabilities=['CAPABILITY_IAM']" in out
    assert "cloudformation.update_stack(StackName='study-infra'" in out
    assert "UsePreviousValue=True" in out
    assert "wait stack_create_complete" in out and "wait stack_update_complete" in out
    assert "  GpuInstanceTypes = 'g5,g6' (given)" in out
    assert "  SubnetMode = 'public' (default)" in out
    assert guard.calls == []


def test_deploy_rejects_unknown_and_malformed_parameters() -> None:
    result = _invoke(["deploy", "--param", "GpuTypes=g5", "--dry-run"], Guard())
    assert result.exit_code == 1
    assert "unknown stack parameter GpuTypes" in result.output
    assert "GpuInstanceTypes" in result.output  # the hint lists the declared ones
    assert "Traceback" not in result.output
    result = _invoke(["deploy", "--param", "GpuInstanceTypes", "--dry-run"], Guard())
    assert result.exit_code == 1 and "is not KEY=VALUE" in result.output
    result = _invoke(["deploy", "--stack", "9 bad", "--dry-run"], Guard())
    assert result.exit_code == 1 and "not a valid stack name" in result.output


def test_push_image_dry_run_uses_the_stack_repository(stack_outputs: dict[str, str]) -> None:
    guard = Guard(allowed=READ_OUTPUTS)
    result = _invoke(["push-image", "--stack", STACK, "--dry-run"], guard)
    assert result.exit_code == 0, result.output
    repo = stack_outputs["RepositoryUri"]
    registry = repo.split("/")[0]
    out = result.output
    assert f"$ docker build --platform linux/amd64 --tag {repo}:latest" in out
    assert "hpo/worker.py" in out and "train_torch.py" in out and "Dockerfile" in out
    assert "ecr.get_authorization_token(registryIds=['123456789012'])" in out
    assert f"$ docker login --username AWS --password-stdin {registry}" in out
    assert f"$ docker push {repo}:latest" in out
    assert guard.calls == [("cloudformation", "describe_stacks")]


def test_push_image_dry_run_with_a_tag_notes_the_stack_tag(stack_outputs: dict[str, str]) -> None:
    guard = Guard(allowed=READ_OUTPUTS)
    result = _invoke(["push-image", "--stack", STACK, "--tag", "v7", "--dry-run"], guard)
    assert result.exit_code == 0, result.output
    assert f"$ docker push {stack_outputs['RepositoryUri']}:v7" in result.output
    assert "--param TrainerImageTag=v7" in result.output


def test_push_image_dry_run_with_a_repository_uri_calls_no_aws() -> None:
    repo = "111122223333.dkr.ecr.eu-west-1.amazonaws.com/trainer"
    result = _invoke(["push-image", "--repository-uri", repo, "--tag", "v1", "--dry-run"], Guard())
    assert result.exit_code == 0, result.output
    assert f"--tag {repo}:v1" in result.output
    assert "registryIds=['111122223333']" in result.output


def test_push_image_rejects_a_non_ecr_uri_and_a_bad_tag() -> None:
    result = _invoke(["push-image", "--repository-uri", "docker.io/me/x", "--dry-run"], Guard())
    assert result.exit_code == 1
    assert "not an ECR repository URI" in result.output
    repo = "111122223333.dkr.ecr.eu-west-1.amazonaws.com/trainer"
    args = ["push-image", "--repository-uri", repo, "--tag", "-x y", "--dry-run"]
    result = _invoke(args, Guard())
    assert result.exit_code == 1 and "not a valid image tag" in result.output


def test_teardown_dry_run_changes_nothing(stack_outputs: dict[str, str]) -> None:
    bucket = stack_outputs["BucketName"]
    s3 = boto3.client("s3", region_name=REGION)
    s3.put_object(Bucket=bucket, Key="demo/trials/0/result.json", Body=b"{}")
    guard = Guard(allowed=READ_OUTPUTS)
    result = _invoke(["teardown", "--stack", STACK, "--dry-run"], guard)
    assert result.exit_code == 0, result.output
    assert f"every object version in s3://{bucket}" in result.output
    assert f"cloudformation.delete_stack(StackName='{STACK}')" in result.output
    assert "wait stack_delete_complete" in result.output
    assert f"study event rules and queues {stack_outputs['StudyEventsPrefix']}-*" in result.output
    assert guard.calls == [("cloudformation", "describe_stacks")]
    cfn = boto3.client("cloudformation", region_name=REGION)
    assert cfn.describe_stacks(StackName=STACK)["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 1


@pytest.mark.usefixtures("aws")
def test_teardown_of_a_missing_stack_is_a_no_op() -> None:
    result = _invoke(["teardown", "--stack", "nothing-here", "--yes"], Guard(READ_OUTPUTS))
    assert result.exit_code == 0, result.output
    assert "does not exist: nothing to delete" in result.output
