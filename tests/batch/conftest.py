"""Fixtures for the Batch backend tests: moto (S3, IAM, Batch, CloudFormation), a moto
server for trainer subprocesses, a fake clock and the fake Batch lifecycle behind it."""

from __future__ import annotations

import random
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import optuna
import pytest
from moto import mock_aws

from hpo.backends.batch import BatchClients, make_batch_backend
from hpo.backends.batch.backend import BatchBackend
from hpo.backends.batch.client import Timer
from hpo.controller.clock import FakeClock
from hpo.controller.loop import Controller, RunSummary
from hpo.spec import build
from hpo.spec.loader import load_study
from hpo.storage import open_storage
from hpo.store.s3 import S3Store
from tests.fakes.fake_batch import FakeBatch, Timings
from tests.fakes.fake_events import (
    BatchEvents,
    Delivery,
    FakeTimeSqs,
    StackOutputs,
    event_outputs,
)
from tests.fakes.fake_prices import Fleet, make_fleet
from tests.fakes.moto_env import FAKE_CREDENTIALS, REGION, container_env, moto_server

REPO = Path(__file__).resolve().parents[2]
BATCH_TRAINER = Path(__file__).parent / "data" / "batch_trainer.py"
BUCKET = "hpo-trials"
QUEUE = "arn:aws:batch:us-east-1:123456789012:job-queue/hpo-gpu"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/hpo-trainer:1"
# Where the trainer image keeps the example trainers (trainer_image/Dockerfile).
IMAGE_TRAINERS = "/opt/hpo/trainers/"

BATCH_STUDY = """\
name: {name}
store: s3://{bucket}/runs
objective: {{metric: loss, direction: minimize}}
search_space:
  x: {{type: float, low: -3, high: 3}}
sampler: {{type: random, seed: 1}}
budget: {{n_trials: {n_trials}, max_parallel: {max_parallel}, max_failures: 20}}
trainer:
  command: {command}
backend:
  type: batch
  job_queue: {queue}
  image: {image}
  poll_interval: {poll_interval}
  retry_attempts: {retry_attempts}
{extra}"""


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto for every AWS service, Batch without Docker; fake credentials, no profile."""
    for name, value in {**FAKE_CREDENTIALS, "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws(config={"batch": {"use_docker": False}}):
        yield


@pytest.fixture
def s3(aws: None) -> Any:
    """An in-process S3 client with the trial bucket created."""
    client = boto3.client("s3", region_name=REGION)
    client.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture(scope="session")
def endpoint() -> Iterator[str]:
    """The moto server URL that trainer subprocesses use as ``AWS_ENDPOINT_URL``.

    One server for the session: it serves moto's global backends, i.e. whatever the
    current test's ``mock_aws`` holds.
    """
    with moto_server() as url:
        yield url


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def run_study(path: Path, clients: BatchClients, s3: Any, clock: FakeClock) -> RunSummary:
    """``hpo run`` of a Batch study file through the Controller API, on ``clients``."""
    study = load_study(path)
    optuna_study = build.create_study(study, open_storage(study.storage_url))
    backend = make_batch_backend(study, clients=clients)
    store = S3Store.from_uri(study.store_root, client=s3)
    try:
        return Controller(optuna_study, study.spec, backend, store, clock=clock).run()
    finally:
        backend.close()


def study_trials(path: Path) -> list[optuna.trial.FrozenTrial]:
    """The trials of the study a file describes, as stored."""
    study = load_study(path)
    return optuna.load_study(study_name=study.spec.name,
                             storage=open_storage(study.storage_url)).trials  # fmt: skip


def fake_clients(fake: FakeBatch, clock: Any, cloudformation: Any = None) -> BatchClients:
    """Backend clients over ``fake``: its clock drives rate limits and backoff."""
    if isinstance(clock, FakeClock):
        timer = Timer(monotonic=clock.monotonic, sleep=clock.advance)
    else:
        timer = Timer()
    return BatchClients(
        batch=fake,
        cloudformation=cloudformation,
        region=REGION,
        timer=timer,
        rng=random.Random(0),
    )


@pytest.fixture
def make_fake(endpoint: str, tmp_path: Path) -> Iterator[Callable[..., FakeBatch]]:
    """Build fakes whose containers reach moto; every trainer is stopped at teardown."""
    made: list[FakeBatch] = []

    def make(clock: Any, timings: Timings | None = None) -> FakeBatch:
        fake = FakeBatch(
            clock,
            timings=timings or Timings(submitted=1, runnable=5, starting=2, run=60),
            container_env=container_env(endpoint),
            path_map={IMAGE_TRAINERS: str(REPO / "trainer_image") + "/"},
            workdir=tmp_path / f"batch{len(made)}",
            process_timeout=60,
        )
        made.append(fake)
        return fake

    yield make
    for fake in made:
        fake.close()


@pytest.fixture
def fake(make_fake: Callable[..., FakeBatch], clock: FakeClock) -> FakeBatch:
    return make_fake(clock)


@pytest.fixture
def write_batch_study(tmp_path: Path) -> Callable[..., Path]:
    """Write a batch study file; keyword arguments fill ``BATCH_STUDY``."""

    def write(name: str = "bt", **values: Any) -> Path:
        fields: dict[str, Any] = {
            "name": name,
            "bucket": BUCKET,
            "n_trials": 3,
            "max_parallel": 3,
            "command": f"[python, {BATCH_TRAINER}]",
            "queue": QUEUE,
            "image": IMAGE,
            "poll_interval": 15,
            "retry_attempts": 2,
            "extra": "",
        }
        fields.update(values)
        path = tmp_path / f"{name}.yaml"
        path.write_text(textwrap.dedent(BATCH_STUDY.format(**fields)))
        return path

    return write


@pytest.fixture
def batch_backend(
    fake: FakeBatch, clock: FakeClock, write_batch_study: Callable[..., Path]
) -> Callable[..., BatchBackend]:
    """A Batch backend on the fake for a study written with ``write_batch_study``."""

    def make(**values: Any) -> BatchBackend:
        study = load_study(write_batch_study(**values))
        return make_batch_backend(study, clients=fake_clients(fake, clock))

    return make


EVENTS_PREFIX = "hpo-ev-test"
STACK_NAME = "hpo-test"


@pytest.fixture
def event_stack(aws: None) -> dict[str, str]:
    """What a deployed stack gives the controller for job events: the study-queue prefix and
    the dead-letter queue (made in moto's SQS)."""
    return event_outputs(boto3.client("sqs", region_name=REGION), EVENTS_PREFIX)


def event_clients(
    fake: FakeBatch,
    clock: FakeClock,
    outputs: dict[str, str],
    delivery: Delivery | None = None,
    **extra: Any,
) -> BatchClients:
    """Clients for event mode: the fake sends its job state changes through moto's
    EventBridge; the controller's SQS long polls run on the fake clock."""
    events = boto3.client("events", region_name=REGION)
    if getattr(fake, "_events", None) is None:
        fake.emit_to(BatchEvents(events, delivery))
    clients = fake_clients(fake, clock, StackOutputs(outputs))
    clients.sqs = FakeTimeSqs(boto3.client("sqs", region_name=REGION), fake, clock.now,
                              clock.advance)  # fmt: skip
    clients.events = events
    for name, value in extra.items():
        setattr(clients, name, value)
    return clients


@pytest.fixture
def fleet(aws: None) -> Fleet:
    """A spot g5.xlarge (us-east-1a) and an on-demand g5.2xlarge (us-east-1b) in a cluster."""
    return make_fleet(
        boto3.client("ecs", region_name=REGION), boto3.client("ec2", region_name=REGION)
    )
