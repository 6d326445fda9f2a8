"""The Batch backend's real boto3 calls against moto: accepted, and parameters round-trip.

Also: settings come from CloudFormation stack outputs, explicit spec values win, and a study
missing required values gets a clear SpecError.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest

from hpo import aws as hpo_aws
from hpo.backends.base import JobSpec, JobState
from hpo.backends.batch import BatchClients, make_batch_backend, open_batch_store
from hpo.backends.batch.client import make_clients
from hpo.errors import SpecError
from hpo.runtime import make_store
from hpo.spec.loader import load_study
from hpo.store.s3 import S3Store
from tests.batch.conftest import BUCKET, IMAGE

STACK_TEMPLATE = {
    "Resources": {"Events": {"Type": "AWS::SQS::Queue"}},
    "Outputs": {
        "JobQueueArn": {"Value": "QUEUE"},
        "TrainerImageUri": {"Value": "111.dkr.ecr.us-east-1.amazonaws.com/hpo-trainer:7"},
        "JobDefinitionArn": {"Value": "arn:aws:batch:us-east-1:123:job-definition/hpo-trainer:1"},
        "JobRoleArn": {"Value": "arn:aws:iam::123456789012:role/hpo-job"},
        "LogGroupName": {"Value": "/hpo/trainers"},
        "BucketName": {"Value": "hpo-stack-bucket"},
        "StoreUri": {"Value": "s3://hpo-stack-bucket/studies/"},
        "Region": {"Value": "us-east-1"},
    },
}


@pytest.fixture
def queue_arn(aws: None) -> str:
    """A Batch compute environment and job queue in moto."""
    iam = boto3.client("iam")
    role = iam.create_role(RoleName="batch-service", AssumeRolePolicyDocument="{}")["Role"]
    batch = boto3.client("batch")
    env = batch.create_compute_environment(
        computeEnvironmentName="hpo-gpu-ce",
        type="UNMANAGED",
        state="ENABLED",
        serviceRole=role["Arn"],
    )
    queue = batch.create_job_queue(
        jobQueueName="hpo-gpu",
        state="ENABLED",
        priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": env["computeEnvironmentArn"]}],
    )
    return queue["jobQueueArn"]


@pytest.fixture
def stack(aws: None, queue_arn: str) -> str:
    template = json.loads(json.dumps(STACK_TEMPLATE).replace('"QUEUE"', json.dumps(queue_arn)))
    boto3.client("cloudformation").create_stack(StackName="hpo", TemplateBody=json.dumps(template))
    return "hpo"


@pytest.fixture(scope="module")
def boto_session() -> boto3.session.Session:
    """One session for the module: botocore loads each service model once."""
    return boto3.session.Session(region_name="us-east-1")


@pytest.fixture
def real_clients(aws: None, boto_session: boto3.session.Session) -> Callable[[], BatchClients]:
    """boto3 Batch and CloudFormation clients (moto answers them)."""

    def make() -> BatchClients:
        return BatchClients(
            batch=hpo_aws.client(boto_session, "batch"),
            cloudformation=hpo_aws.client(boto_session, "cloudformation"),
            region="us-east-1",
        )

    return make


def test_register_submit_describe_list_terminate_round_trip(
    queue_arn: str, write_batch_study: Callable[..., Path]
) -> None:
    """Through the production client factory (adaptive retries)."""
    extra = "  timeout: 1h\n  resources: {gpus: 1, vcpus: 4, memory_mib: 15000}\n"
    study = load_study(write_batch_study(queue=queue_arn, extra=extra))
    clients = make_clients(region="us-east-1", profile=None, endpoint_url=None)
    backend = make_batch_backend(study, clients=clients)
    spec = JobSpec(name="bt-0-1", study="bt", trial=0, attempt=1,
                   trial_uri=f"s3://{BUCKET}/runs/bt/trials/0")  # fmt: skip
    job_id = backend.submit(spec)
    batch = boto3.client("batch")
    definition = batch.describe_job_definitions(jobDefinitions=[backend.job_definition()])[
        "jobDefinitions"
    ][0]
    props = definition["containerProperties"]
    assert props["image"] == IMAGE and props["command"] == list(study.spec.trainer.command)
    assert {r["type"]: r["value"] for r in props["resourceRequirements"]} == {
        "GPU": "1", "VCPU": "4", "MEMORY": "15000"}  # fmt: skip
    assert definition["retryStrategy"]["attempts"] == 2
    assert definition["timeout"] == {"attemptDurationSeconds": 3600}
    assert props["logConfiguration"]["options"]["awslogs-group"] == "/aws/batch/job"
    described = batch.describe_jobs(jobs=[job_id])["jobs"][0]
    env = {e["name"]: e["value"] for e in described["container"]["environment"]}
    assert described["jobName"] == "bt-0-1" and env["HPO_TRIAL_URI"] == spec.trial_uri
    assert described["tags"] == {"hpo:study": "bt", "hpo:trial": "0", "hpo:attempt": "1"}
    assert described["timeout"] == {"attemptDurationSeconds": 3600}
    status = backend.poll([job_id])[job_id]  # moto without Docker: SUCCEEDED at once
    assert status.state is JobState.SUCCEEDED and status.log_stream
    assert backend.find("bt-0-1") == job_id and backend.find("bt-9-1") is None
    backend.terminate(job_id, "pruned at step 1")


def test_a_second_run_reuses_the_registered_definition(
    queue_arn: str, write_batch_study: Callable[..., Path], real_clients: Callable[[], Any]
) -> None:
    study = load_study(write_batch_study(queue=queue_arn))
    first = make_batch_backend(study, clients=real_clients()).job_definition()
    second = make_batch_backend(study, clients=real_clients()).job_definition()
    assert first == second and first.endswith(":1")


def test_values_come_from_the_stack_outputs(
    stack: str,
    queue_arn: str,
    write_batch_study: Callable[..., Path],
    real_clients: Callable[[], Any],
) -> None:
    path = write_batch_study(queue="null", image="null", extra=f"  stack: {stack}\n")
    text = path.read_text().replace("store: s3://hpo-trials/runs\n", "")
    path.write_text(text)
    study = load_study(path)
    backend = make_batch_backend(study, clients=real_clients())
    settings = backend.settings
    assert settings.job_queue == queue_arn
    assert settings.image == STACK_TEMPLATE["Outputs"]["TrainerImageUri"]["Value"]
    assert settings.job_role_arn == "arn:aws:iam::123456789012:role/hpo-job"
    assert settings.log_group == "/hpo/trainers" and settings.region == "us-east-1"
    store = open_batch_store(study, clients=real_clients())
    assert isinstance(store, S3Store) and store.root == "s3://hpo-stack-bucket/studies"
    assert make_store(study).root == store.root


def test_explicit_spec_values_win_over_the_stack(
    stack: str, write_batch_study: Callable[..., Path], real_clients: Callable[[], Any]
) -> None:
    extra = f"  stack: {stack}\n  log_group: /mine\n"
    study = load_study(write_batch_study(queue="my-queue", extra=extra))
    settings = make_batch_backend(study, clients=real_clients()).settings
    assert (settings.job_queue, settings.image, settings.log_group) == ("my-queue", IMAGE, "/mine")
    assert open_batch_store(study).root == f"s3://{BUCKET}/runs"


def test_a_missing_stack_is_a_spec_error(
    write_batch_study: Callable[..., Path], real_clients: Callable[[], Any]
) -> None:
    study = load_study(write_batch_study(extra="  stack: nope\n"))
    with pytest.raises(SpecError) as err:
        make_batch_backend(study, clients=real_clients())
    assert err.value.field == "backend.stack" and "nope" in str(err.value)


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"queue": "null"}, "backend.job_queue"),
        ({"image": "null"}, "backend.image"),
        ({"extra": "  job_definition: arn:jd\n"}, "backend.image"),  # image and definition
    ],
)
def test_missing_required_values_are_spec_errors(
    write_batch_study: Callable[..., Path], values: dict[str, str], field: str
) -> None:
    study = load_study(write_batch_study(**values))
    with pytest.raises(SpecError) as err:
        make_batch_backend(study, clients=BatchClients(batch=None))  # fails before any call
    assert err.value.field == field and err.value.hint


@pytest.mark.parametrize(
    ("store", "message"),
    [("store: ./runs\n", "needs an s3:// store"), ("", "an s3:// store for trial documents")],
)
def test_the_store_must_be_on_s3(
    write_batch_study: Callable[..., Path], store: str, message: str
) -> None:
    path = write_batch_study()
    path.write_text(path.read_text().replace("store: s3://hpo-trials/runs\n", store))
    study = load_study(path)
    with pytest.raises(SpecError) as err:
        make_batch_backend(study, clients=BatchClients(batch=None))
    assert err.value.field == "store" and message in str(err.value)


def test_the_example_study_runs_off_the_stack(
    stack: str, queue_arn: str, real_clients: Callable[[], Any]
) -> None:
    study = load_study(Path(__file__).parents[2] / "studies" / "batch-gpu.yaml")
    backend = make_batch_backend(study, clients=real_clients())
    assert backend.settings.job_queue == queue_arn
    assert backend.settings.command == [
        "python", "/opt/hpo/trainers/train_sklearn.py", "--epochs", "20"]  # fmt: skip
    job = JobSpec(name="batch-gpu-0-1", study="batch-gpu", trial=0, attempt=1,
                  trial_uri="s3://hpo-stack-bucket/studies/batch-gpu/trials/0")  # fmt: skip
    described = boto3.client("batch").describe_jobs(jobs=[backend.submit(job)])["jobs"][0]
    assert described["jobDefinition"] == backend.job_definition()
    assert described["jobDefinition"].split("/")[-1].startswith("hpo-batch-gpu-")
    store = open_batch_store(study, clients=real_clients())
    assert store.uri("batch-gpu/trials/0/params.json") == (
        "s3://hpo-stack-bucket/studies/batch-gpu/trials/0/params.json")  # fmt: skip
