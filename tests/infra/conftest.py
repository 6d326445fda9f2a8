"""Fixtures of the infra tests: the template, a moto account with the stack, guarded clients."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from hpo import worker
from hpo.infra.calls import ClientFactory, boto3_clients
from hpo.infra.stack import Waiting

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"
TEMPLATE = INFRA / "hpo-stack.yaml"
TRAINER_DIR = REPO / "trainer_image"
REGION = "us-east-1"
STACK = "hpo-test"
FAST = Waiting(delay=1, max_attempts=5)

# moto names ECR repositories with capitals (real CloudFormation picks a valid name), and it
# cannot create a compute environment without a ServiceRole (real AWS uses the Batch
# service-linked role): moto_parameters() adds a BatchServiceRoleArn.
MOTO_PARAMS = {"RepositoryName": "hpo-test-trainer"}


def import_trainer(name: str) -> ModuleType:
    """An example trainer of trainer_image/ imported as a module (it is a script in the image)."""
    spec = importlib.util.spec_from_file_location(name, TRAINER_DIR / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def stage_trial(directory: Path, params: dict[str, Any], attempt: int = 1) -> Path:
    """A trial directory with params.json as the controller writes it."""
    directory.mkdir(parents=True, exist_ok=True)
    doc = {"params": params, "trial": 0, "study": "s", "attempt": attempt}
    (directory / "params.json").write_text(json.dumps(doc))
    return directory


class Killed(Exception):
    """Stands for SIGKILL in :class:`DiesAtCheckpoint`."""


class DiesAtCheckpoint(worker.Trial):
    """A trial whose trainer is killed while it saves the checkpoint of its ``at``-th step."""

    def __init__(self, uri: str, at: int) -> None:
        super().__init__(uri)
        self.at, self.saved = at, 0

    def save_checkpoint(self) -> None:
        self.saved += 1
        if self.saved == self.at:
            raise Killed
        super().save_checkpoint()


def templates() -> list[Path]:
    """Every CloudFormation template under infra/."""
    return sorted(p for p in INFRA.rglob("*.y*ml") if p.is_file())


@contextmanager
def _moto_account() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_CONFIG_FILE"):
            patch.delenv(name, raising=False)
        patch.setenv("AWS_ACCESS_KEY_ID", "testing")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        patch.setenv("AWS_DEFAULT_REGION", REGION)
        with mock_aws(config={"batch": {"use_docker": False}}):
            yield


@pytest.fixture
def aws() -> Iterator[None]:
    """A fresh moto account (Batch without Docker) with fake credentials."""
    with _moto_account():
        yield


@pytest.fixture(scope="module")
def shared_stack() -> Iterator[dict[str, str]]:
    """One moto account with the default stack for a module's tests that only look at it."""
    with _moto_account():
        yield create_stack()


def moto_parameters(**extra: str) -> dict[str, str]:
    """Stack parameters that moto needs, plus ``extra``."""
    iam = boto3.client("iam", region_name=REGION)
    try:
        arn = iam.get_role(RoleName="batch-service")["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        arn = iam.create_role(RoleName="batch-service", AssumeRolePolicyDocument="{}")["Role"][
            "Arn"
        ]
    return {"BatchServiceRoleArn": arn, **MOTO_PARAMS, **extra}


def create_stack(name: str = STACK, **extra: str) -> dict[str, str]:
    """Deploy the template into moto with boto3 directly; returns the outputs."""
    cfn = boto3.client("cloudformation", region_name=REGION)
    params = moto_parameters(**extra)
    cfn.create_stack(
        StackName=name,
        TemplateBody=TEMPLATE.read_text(),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()],
        Capabilities=["CAPABILITY_IAM"],
    )
    stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    return {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}


@pytest.fixture
def stack_outputs(aws: None) -> dict[str, str]:
    """The outputs of the stack deployed into moto with default parameters."""
    return create_stack()


class Forbidden(AssertionError):
    """Raised by a guarded client for a call the test does not allow."""


@dataclass
class Guard:
    """A session factory whose clients allow only ``allowed`` (service, operation) calls."""

    allowed: set[tuple[str, str]] = field(default_factory=set)
    calls: list[tuple[str, str]] = field(default_factory=list)

    def __call__(self, region: str | None, profile: str | None) -> ClientFactory:
        real = boto3_clients(region or REGION, None) if self.allowed else None
        return lambda service: _GuardedClient(service, self, real)


class _GuardedClient:
    def __init__(self, service: str, guard: Guard, real: ClientFactory | None) -> None:
        self._service, self._guard, self._real = service, guard, real

    def __getattr__(self, operation: str) -> Callable[..., Any]:
        if (self._service, operation) not in self._guard.allowed or self._real is None:
            raise Forbidden(f"{self._service}.{operation} must not be called here")
        self._guard.calls.append((self._service, operation))
        return getattr(self._real(self._service), operation)


def moto_session(region: str | None, profile: str | None) -> ClientFactory:
    """Real boto3 clients (inside ``mock_aws`` they talk to moto)."""
    return boto3_clients(region or REGION, None)


def no_runner(command: Any, stdin: Any) -> int:
    """A process runner that must not be used."""
    raise Forbidden(f"ran {command}")
