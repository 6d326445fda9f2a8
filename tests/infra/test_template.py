"""The CloudFormation template: cfn-lint clean, least-privilege IAM, TLS-only bucket, IMDSv2."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.infra.conftest import TEMPLATE, templates

cfnlint_api = pytest.importorskip("cfnlint.api")
from cfnlint.decode import decode_str  # noqa: E402


def _doc(path: Path = TEMPLATE) -> dict[str, Any]:
    template, matches = decode_str(path.read_text())
    assert not matches, matches
    return template


def _resources(doc: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in doc["Resources"].items() if v["Type"] == kind}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _policy_documents(doc: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(owner, policy document) of every IAM, bucket and queue policy in the template."""
    found = []
    for name, res in doc["Resources"].items():
        props = res.get("Properties", {})
        for policy in props.get("Policies", []):
            found.append((f"{name}/{policy['PolicyName']}", policy["PolicyDocument"]))
        if "PolicyDocument" in props:
            found.append((name, props["PolicyDocument"]))
    return found


def _allow_statements(doc: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (owner, st)
        for owner, document in _policy_documents(doc)
        for st in document["Statement"]
        if st["Effect"] == "Allow"
    ]


@pytest.mark.parametrize("path", templates(), ids=lambda p: p.name)
def test_cfn_lint_reports_nothing(path: Path) -> None:
    config = cfnlint_api.ManualArgs(regions=["us-east-1"], include_checks=["I"])
    matches = cfnlint_api.lint(path.read_text(), config=config)
    assert [str(m) for m in matches] == []


def test_no_wildcard_action_and_read_only_wildcard_resources() -> None:
    statements = _allow_statements(_doc())
    assert statements
    for owner, st in statements:
        actions = _as_list(st["Action"])
        assert "*" not in actions and not any(a.endswith(":*") for a in actions), owner
        if "*" in _as_list(st.get("Resource")):  # reads that take no resource (the price list)
            verbs = [a.split(":", 1)[1] for a in actions if a != "pricing:GetProducts"]
            assert all(v.startswith(("Describe", "List")) for v in verbs), (owner, actions)


def test_no_broad_managed_policies() -> None:
    doc = _doc()
    for name, role in _resources(doc, "AWS::IAM::Role").items():
        text = str(role["Properties"].get("ManagedPolicyArns", []))
        for broad in ("AmazonS3FullAccess", "AdministratorAccess", "PowerUserAccess"):
            assert broad not in text, name
    instance_role = doc["Resources"]["BatchInstanceRole"]["Properties"]
    assert len(instance_role["ManagedPolicyArns"]) == 1
    assert "AmazonEC2ContainerServiceforEC2Role" in str(instance_role["ManagedPolicyArns"])
    assert "Policies" not in instance_role


def test_job_role_is_limited_to_trial_keys() -> None:
    role = _doc()["Resources"]["JobRole"]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "ecs-tasks.amazonaws.com"
    }
    statements = [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]
    actions = sorted(a for s in statements for a in _as_list(s["Action"]))
    assert actions == ["s3:DeleteObject", "s3:GetObject", "s3:ListBucket", "s3:PutObject"]
    for st in statements:
        if "s3:ListBucket" in _as_list(st["Action"]):
            assert "/trials/*" in str(st["Condition"]["StringLike"]["s3:prefix"])
        elif "s3:DeleteObject" in _as_list(st["Action"]):  # checkpoints only, never results
            assert _as_list(st["Action"]) == ["s3:DeleteObject"]
            assert "/trials/*/checkpoints/*" in str(st["Resource"])
        else:
            assert "/trials/*" in str(st["Resource"])


def test_controller_may_submit_only_to_its_queue_and_pass_only_the_job_role() -> None:
    policy = _doc()["Resources"]["ControllerPolicy"]["Properties"]["PolicyDocument"]
    by_action: dict[str, list[Any]] = {}
    for st in policy["Statement"]:
        for action in _as_list(st["Action"]):
            by_action.setdefault(action, []).extend(_as_list(st["Resource"]))
    submit = by_action["batch:SubmitJob"]
    assert {"Ref": "JobQueue"} in submit and "*" not in submit
    assert all("job-definition/" in str(r) for r in submit if r != {"Ref": "JobQueue"})
    assert by_action["iam:PassRole"] == [{"Fn::GetAtt": ["JobRole", "Arn"]}]
    assert by_action["cloudformation:DescribeStacks"] == [{"Ref": "AWS::StackId"}]
    for needed in (
        "batch:TerminateJob",
        "batch:RegisterJobDefinition",
        "batch:TagResource",
        "logs:GetLogEvents",
        "logs:FilterLogEvents",
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
    ):
        assert "*" not in by_action[needed], needed
    for read in ("batch:DescribeJobs", "batch:ListJobs"):
        assert by_action[read] == ["*"]


def test_bucket_is_private_encrypted_expiring_and_tls_only() -> None:
    doc = _doc()
    bucket = doc["Resources"]["TrialBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert len(bucket["PublicAccessBlockConfiguration"]) == 4
    sse = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert sse["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in {"AES256", "aws:kms"}
    rule = bucket["LifecycleConfiguration"]["Rules"][0]
    assert rule["Status"] == "Enabled"
    assert rule["ExpirationInDays"] == {"Ref": "TrialDataExpirationDays"}
    assert doc["Parameters"]["EnableBucketVersioning"]["Default"] == "false"

    (policy,) = _resources(doc, "AWS::S3::BucketPolicy").values()
    assert policy["Properties"]["Bucket"] == {"Ref": "TrialBucket"}
    denies = [
        s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"
    ]
    tls = [s for s in denies if s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}]
    assert len(tls) == 1 and tls[0]["Principal"] == "*" and tls[0]["Action"] == "s3:*"
    resources = str(tls[0]["Resource"])
    assert "TrialBucket.Arn" in resources or "TrialBucket" in resources
    assert "/*" in resources  # objects as well as the bucket


def test_imdsv2_is_required_everywhere() -> None:
    doc = _doc()
    templates_ = _resources(doc, "AWS::EC2::LaunchTemplate")
    instances = _resources(doc, "AWS::EC2::Instance")
    assert templates_ and instances
    for name, lt in templates_.items():
        assert lt["Properties"]["LaunchTemplateData"]["MetadataOptions"]["HttpTokens"] == (
            "required"
        ), name
    for name, instance in instances.items():
        assert instance["Properties"]["MetadataOptions"]["HttpTokens"] == "required", name
    for ce in _resources(doc, "AWS::Batch::ComputeEnvironment").values():
        assert ce["Properties"]["ComputeResources"]["LaunchTemplate"]["LaunchTemplateId"] == {
            "Ref": "BatchLaunchTemplate"
        }


def test_batch_is_spot_gpu_scaling_to_zero_with_spot_retries() -> None:
    doc = _doc()
    spot = doc["Resources"]["SpotComputeEnvironment"]["Properties"]["ComputeResources"]
    assert spot["Type"] == "SPOT"
    assert spot["AllocationStrategy"] == "SPOT_PRICE_CAPACITY_OPTIMIZED"
    assert spot["MinvCpus"] == 0
    assert spot["Ec2Configuration"] == [{"ImageType": "ECS_AL2023_NVIDIA"}]
    assert doc["Resources"]["OnDemandComputeEnvironment"]["Condition"] == "OnDemandOn"

    queue = doc["Resources"]["JobQueue"]["Properties"]
    (first, *_) = queue["JobStateTimeLimitActions"]
    assert (first["State"], first["Action"]) == ("RUNNABLE", "CANCEL")
    assert first["Reason"] == "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY"

    job = doc["Resources"]["JobDefinition"]["Properties"]
    kinds = [r["Type"] for r in job["ContainerProperties"]["ResourceRequirements"]]
    assert sorted(kinds) == ["GPU", "MEMORY", "VCPU"]
    rules = job["RetryStrategy"]["EvaluateOnExit"]
    assert rules[0] == {"OnStatusReason": "Host EC2*", "Action": "RETRY"}
    assert rules[-1]["Action"] == "EXIT" and rules[-1].get("OnReason") == "*"
    assert job["ContainerProperties"]["LogConfiguration"]["Options"]["awslogs-group"] == {
        "Ref": "LogGroup"
    }


def _controller_statements() -> dict[str, dict[str, Any]]:
    policy = _doc()["Resources"]["ControllerPolicy"]["Properties"]["PolicyDocument"]
    return {st["Sid"]: st for st in policy["Statement"]}


def test_each_study_may_make_only_its_own_event_queue_and_rule() -> None:
    doc = _doc()
    assert not _resources(doc, "AWS::Events::Rule")  # no queue that all studies would share
    assert list(_resources(doc, "AWS::SQS::Queue")) == ["EventsDeadLetterQueue"]
    prefix = doc["Outputs"]["StudyEventsPrefix"]["Value"]
    assert "AWS::StackId" in str(prefix)  # unique per stack: one stack's controller cannot
    st = _controller_statements()  # touch another stack's study queues
    queues, rules = st["StudyEventQueues"], st["StudyEventRules"]
    assert str(queues["Resource"]).count(":sqs:") == 1 and "}-*" in str(queues["Resource"])
    assert "sqs:CreateQueue" in queues["Action"] and "sqs:DeleteQueue" in queues["Action"]
    assert rules["Action"] == "events:PutRule"  # a rule may match Batch job changes only
    assert rules["Condition"]["StringEquals"] == {
        "events:source": "aws.batch",
        "events:detail-type": "Batch Job State Change",
    }
    targets = st["StudyEventTargets"]  # and deliver only to a study queue of this stack
    assert targets["Action"] == "events:PutTargets"
    assert ":sqs:" in str(targets["Condition"]["ArnLike"]["events:TargetArn"])
    for sid in ("StudyEventRules", "StudyEventTargets", "StudyEventRuleCleanup"):
        assert ":rule/${Prefix}-*" in str(st[sid]["Resource"]), sid


def test_the_controller_may_read_where_jobs_ran_and_their_prices() -> None:
    st = _controller_statements()
    assert st["FindJobInstances"]["Action"] == "ecs:DescribeContainerInstances"
    assert "container-instance/*" in str(st["FindJobInstances"]["Resource"])
    assert sorted(st["PriceJobInstances"]["Action"]) == [
        "ec2:DescribeInstances",
        "ec2:DescribeSpotPriceHistory",
        "pricing:GetProducts",
    ]


def test_outputs_cover_the_study_spec() -> None:
    from hpo.spec.models import STACK_OUTPUTS

    outputs = _doc()["Outputs"]
    for key in STACK_OUTPUTS.values():
        assert key in outputs and "Condition" not in outputs[key], key
