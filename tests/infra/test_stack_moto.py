"""The stack deployed into moto: complete, usable by a Batch study, jobs and events flow."""

from __future__ import annotations

import ast
import json

import boto3
import pytest

from hpo.backends.batch.subscription import Subscription, subscribe, unsubscribe
from hpo.spec.models import STACK_OUTPUTS, BatchBackendSpec
from tests.infra.conftest import REGION, STACK, create_stack


def _batch_spec(outputs: dict[str, str]) -> BatchBackendSpec:
    """The batch backend spec a study with ``stack:`` gets: STACK_OUTPUTS read from outputs."""
    values = {field: outputs[key] for field, key in STACK_OUTPUTS.items()}
    fields = {k: v for k, v in values.items() if k in BatchBackendSpec.model_fields}
    return BatchBackendSpec(type="batch", stack=STACK, **fields)


def test_outputs_feed_a_batch_study_spec(shared_stack: dict[str, str]) -> None:
    assert set(STACK_OUTPUTS.values()) <= set(shared_stack)
    spec = _batch_spec(shared_stack)
    assert spec.job_queue == shared_stack["JobQueueArn"]
    assert spec.job_definition == shared_stack["JobDefinitionArn"]
    assert spec.image == shared_stack["TrainerImageUri"]
    assert spec.image.startswith(shared_stack["RepositoryUri"] + ":")
    assert spec.log_group == shared_stack["LogGroupName"]
    assert spec.region == REGION
    assert shared_stack["StoreUri"] == f"s3://{shared_stack['BucketName']}/"


def test_a_job_can_be_submitted_to_the_stack_queue(shared_stack: dict[str, str]) -> None:
    spec = _batch_spec(shared_stack)
    batch = boto3.client("batch", region_name=REGION)
    queue = batch.describe_job_queues(jobQueues=[spec.job_queue])["jobQueues"][0]
    assert queue["state"] == "ENABLED" and len(queue["computeEnvironmentOrder"]) == 1
    definition = batch.describe_job_definitions(jobDefinitions=[spec.job_definition])[
        "jobDefinitions"
    ][0]
    assert definition["containerProperties"]["image"] == spec.image
    assert definition["containerProperties"]["jobRoleArn"] == shared_stack["JobRoleArn"]

    uri = f"s3://{shared_stack['BucketName']}/demo/trials/0"
    job_id = batch.submit_job(
        jobName="demo-0-1",
        jobQueue=spec.job_queue,
        jobDefinition=spec.job_definition,
        containerOverrides={
            "command": ["train_torch.py", "--epochs", "2"],
            "environment": [{"name": "HPO_TRIAL_URI", "value": uri}],
        },
    )["jobId"]
    (job,) = batch.describe_jobs(jobs=[job_id])["jobs"]
    assert job["jobQueue"] == spec.job_queue
    assert job["jobDefinition"] == spec.job_definition


def test_compute_environment_is_spot_gpu_from_zero(shared_stack: dict[str, str]) -> None:
    batch = boto3.client("batch", region_name=REGION)
    (env,) = batch.describe_compute_environments()["computeEnvironments"]
    resources = env["computeResources"]
    assert resources["type"] == "SPOT"
    assert resources["allocationStrategy"] == "SPOT_PRICE_CAPACITY_OPTIMIZED"
    assert resources["minvCpus"] == 0
    assert resources["instanceTypes"] == ["g5", "g6"]
    assert len(resources["subnets"]) == 2
    ec2 = boto3.client("ec2", region_name=REGION)
    subnets = ec2.describe_subnets(SubnetIds=resources["subnets"])["Subnets"]
    assert len({s["AvailabilityZone"] for s in subnets}) == 2
    lt_id = resources["launchTemplate"]["launchTemplateId"]
    data = ec2.describe_launch_template_versions(LaunchTemplateId=lt_id)["LaunchTemplateVersions"][
        0
    ]["LaunchTemplateData"]
    assert data["MetadataOptions"]["HttpTokens"] == "required"


def test_job_role_policy_resolves_to_the_trial_keys(shared_stack: dict[str, str]) -> None:
    iam = boto3.client("iam", region_name=REGION)
    role = shared_stack["JobRoleArn"].rsplit("/", 1)[1]
    (name,) = iam.list_role_policies(RoleName=role)["PolicyNames"]
    document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
    if isinstance(document, str):  # moto keeps a template-made inline policy as a repr
        document = ast.literal_eval(document)
    bucket = shared_stack["BucketName"]
    resources = {str(s["Resource"]) for s in document["Statement"]}
    trials = f"arn:aws:s3:::{bucket}/*/trials/*"
    assert resources == {trials, f"{trials}/checkpoints/*", f"arn:aws:s3:::{bucket}"}


def test_studies_sharing_the_stack_each_get_their_own_job_events(
    shared_stack: dict[str, str],
) -> None:
    events = boto3.client("events", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    queue = shared_stack["JobQueueArn"]
    dlq = shared_stack["EventsDeadLetterQueueArn"]
    prefix = shared_stack["StudyEventsPrefix"]

    def make(study: str) -> Subscription:
        return subscribe(sqs, events, prefix=prefix, study=study, job_queue=queue,
                         dead_letter_arn=dlq)  # fmt: skip

    made = {study: make(study) for study in ("a", "a-b", "b")}
    assert make("a") == made["a"]  # idempotent: a resumed controller finds its queue

    def put(job_name: str, job_queue: str = queue) -> None:
        detail = {"jobName": job_name, "jobId": job_name, "jobQueue": job_queue,
                  "status": "RUNNING"}  # fmt: skip
        entry = {"Source": "aws.batch", "DetailType": "Batch Job State Change",
                 "Detail": json.dumps(detail)}  # fmt: skip
        events.put_events(Entries=[entry])

    for name in ("a-0-1", "a-b-0-1", "b-0-1", "ab-0-1"):
        put(name)
    put("a-1-1", "arn:aws:batch:us-east-1:123456789012:job-queue/someone-else")

    def received(study: str) -> set[str]:
        url = made[study].queue_url
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
        return {json.loads(m["Body"])["detail"]["jobName"] for m in messages}

    assert received("a") == {"a-0-1", "a-b-0-1"}  # the controller of "a" drops a-b's
    assert received("a-b") == {"a-b-0-1"}  # ... which "a-b" got as well
    assert received("b") == {"b-0-1"}
    attributes = sqs.get_queue_attributes(QueueUrl=made["b"].queue_url,
                                          AttributeNames=["RedrivePolicy"])  # fmt: skip
    redrive = json.loads(attributes["Attributes"]["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == shared_stack["EventsDeadLetterQueueArn"]

    unsubscribe(sqs, events, made["b"])
    assert made["b"].rule_name not in {r["Name"] for r in events.list_rules()["Rules"]}
    assert made["b"].queue_url not in sqs.list_queues().get("QueueUrls", [])


@pytest.mark.usefixtures("shared_stack")
def test_optional_parts_deploy_together() -> None:
    outputs = create_stack(
        "hpo-full",
        RepositoryName="hpo-full-trainer",
        SubnetMode="private",
        EnableOnDemand="true",
        CreateController="true",
        ControllerSshCidr="192.0.2.0/24",
        ControllerKeyName="ops",
        EnableBucketVersioning="true",
        TrialPrefix="hpo/",
        GpuInstanceTypes="g6.xlarge,g5",
    )
    assert outputs["StoreUri"] == f"s3://{outputs['BucketName']}/hpo/"
    batch = boto3.client("batch", region_name=REGION)
    (queue,) = batch.describe_job_queues(jobQueues=[outputs["JobQueueArn"]])["jobQueues"]
    assert [e["order"] for e in queue["computeEnvironmentOrder"]] == [1, 2]
    ec2 = boto3.client("ec2", region_name=REGION)
    (reservation,) = ec2.describe_instances(InstanceIds=[outputs["ControllerInstanceId"]])[
        "Reservations"
    ]
    instance = reservation["Instances"][0]
    assert instance["IamInstanceProfile"]["Arn"].split("/")[-1].startswith("hpo-full-Controller")
    vpc = {"Name": "vpc-id", "Values": [outputs["VpcId"]]}
    assert ec2.describe_nat_gateways(Filters=[vpc])["NatGateways"]
    # moto ignores a bucket's VersioningConfiguration; test_template checks the condition.


def test_default_stack_has_no_controller_and_no_nat(shared_stack: dict[str, str]) -> None:
    outputs = shared_stack
    assert "ControllerInstanceId" not in outputs
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = {"Name": "vpc-id", "Values": [outputs["VpcId"]]}
    assert ec2.describe_nat_gateways(Filters=[vpc])["NatGateways"] == []
    reservations = ec2.describe_instances(Filters=[vpc])["Reservations"]
    assert [i for r in reservations for i in r["Instances"]] == []
    s3 = boto3.client("s3", region_name=REGION)
    rules = s3.get_bucket_encryption(Bucket=outputs["BucketName"])[
        "ServerSideEncryptionConfiguration"
    ]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
