"""Build the trainer image and push it to the stack's ECR repository.

The build context is staged in a temporary directory: the trainer directory (Dockerfile,
entrypoint, trainers, ``.dockerignore``) plus the few hpo modules a trainer imports, so the
upload is small and the image never sees the rest of the checkout. Login goes through
``ecr.get_authorization_token``; the password reaches ``docker login`` on stdin only and is
never printed or put on a command line.
"""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from hpo.errors import DockerError, InfraError
from hpo.infra.calls import Call, ClientFactory, guarded

Runner = Callable[[Sequence[str], bytes | None], int]
"""Runs a command with optional stdin bytes and returns its exit status."""

Echo = Callable[[str], None]

WORKER_MODULES = (
    "__init__.py",
    "worker.py",
    "errors.py",
    "aws.py",
    "store/__init__.py",
    "store/base.py",
    "store/layout.py",
)
"""The hpo modules copied into the image (``hpo.worker`` needs only these and boto3)."""

STAGED_CONTEXT = "<staged build context>"
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_ECR_URI = re.compile(
    r"^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/[a-z0-9][a-z0-9._/-]*$"
)


def run_process(command: Sequence[str], stdin: bytes | None) -> int:
    """The real runner: the command's output goes to the terminal, stdin from ``stdin``."""
    try:
        return subprocess.run(list(command), input=stdin, check=False).returncode
    except FileNotFoundError:
        raise DockerError(
            f"{command[0]} is not installed", hint="install Docker and make sure it is on PATH"
        ) from None


def hpo_package_dir() -> Path:
    """The directory of the hpo package this process imports."""
    import hpo

    return Path(hpo.__file__).resolve().parent


@dataclass(frozen=True)
class ImagePlan:
    """Where the image goes and how it is built."""

    repository_uri: str
    tag: str
    trainer_dir: Path
    platform: str = "linux/amd64"

    @property
    def image(self) -> str:
        return f"{self.repository_uri}:{self.tag}"

    @property
    def registry(self) -> str:
        return self.repository_uri.split("/", 1)[0]

    @property
    def account_id(self) -> str:
        return self.registry.split(".", 1)[0]

    @property
    def region(self) -> str:
        """The registry's region (``ACCOUNT.dkr.ecr.REGION.amazonaws.com``)."""
        return self.registry.split(".")[3]

    def build_command(self, context: str) -> list[str]:
        return [
            "docker", "build", "--platform", self.platform, "--tag", self.image,
            "--file", f"{context}/Dockerfile", context,
        ]  # fmt: skip

    def login_command(self, username: str = "AWS") -> list[str]:
        return ["docker", "login", "--username", username, "--password-stdin", self.registry]

    def push_command(self) -> list[str]:
        return ["docker", "push", self.image]

    def token_call(self) -> Call:
        return Call("ecr", "get_authorization_token", {"registryIds": [self.account_id]})


def check_repository_uri(uri: str) -> str:
    """An ECR repository URI (``ACCOUNT.dkr.ecr.REGION.amazonaws.com/NAME``), without a tag."""
    if not _ECR_URI.match(uri):
        raise InfraError(
            f"{uri!r} is not an ECR repository URI",
            hint="expected ACCOUNT.dkr.ecr.REGION.amazonaws.com/NAME (the RepositoryUri output)",
        )
    return uri


def check_tag(tag: str) -> str:
    """A valid image tag (letters, digits, ``_ . -``; at most 128; not starting with . or -)."""
    if not _TAG.match(tag):
        raise InfraError(
            f"{tag!r} is not a valid image tag", hint="e.g. --tag v3 or --tag 2025-06-01"
        )
    return tag


def tag_of(image_uri: str) -> str | None:
    """The tag of ``repo:tag`` (``None`` when there is none)."""
    name = image_uri.rsplit("/", 1)[-1]
    return name.rsplit(":", 1)[1] if ":" in name else None


def context_files(trainer_dir: Path, package_dir: Path | None = None) -> dict[str, Path]:
    """The staged context: ``{relative path in the context: source file}``."""
    package_dir = package_dir or hpo_package_dir()
    files = {
        p.relative_to(trainer_dir).as_posix(): p
        for p in sorted(trainer_dir.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }
    for module in WORKER_MODULES:
        source = package_dir / module
        if not source.is_file():
            raise InfraError(f"hpo module {source} is missing; reinstall hpo")
        files[f"hpo/{module}"] = source
    return files


def stage_context(trainer_dir: Path, dest: Path, package_dir: Path | None = None) -> list[str]:
    """Copy the context files into ``dest``; returns their relative paths."""
    files = context_files(trainer_dir, package_dir)
    for rel, source in files.items():
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    return sorted(files)


def registry_password(clients: ClientFactory, plan: ImagePlan) -> tuple[str, str]:
    """``(username, password)`` for the registry from ECR; never logged."""
    call = plan.token_call()
    data = guarded(lambda: call.invoke(clients)["authorizationData"], "getting an ECR login token")
    data = data[0]
    username, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
    return username, password


def _run(runner: Runner, command: list[str], echo: Echo, stdin: bytes | None = None) -> None:
    echo("$ " + " ".join(command))
    status = runner(command, stdin)
    if status != 0:
        raise DockerError(
            f"'{' '.join(command[:2])}' failed with exit status {status}",
            hint="see docker's output above; is the Docker daemon running?",
        )


def push(clients: ClientFactory, plan: ImagePlan, runner: Runner, echo: Echo) -> str:
    """Stage, build, log in and push; returns the pushed image URI."""
    with tempfile.TemporaryDirectory(prefix="hpo-image-") as tmp:
        staged = stage_context(plan.trainer_dir, Path(tmp))
        echo(f"staged {len(staged)} files from {plan.trainer_dir} and the hpo worker into {tmp}")
        _run(runner, plan.build_command(tmp), echo)
    username, password = registry_password(clients, plan)
    _run(runner, plan.login_command(username), echo, stdin=password.encode())
    _run(runner, plan.push_command(), echo)
    return plan.image


def plan_lines(plan: ImagePlan, package_dir: Path | None = None) -> list[str]:
    """The dry-run text of :func:`push`."""
    staged = ", ".join(sorted(context_files(plan.trainer_dir, package_dir)))
    return [
        f"1. stage {plan.trainer_dir} and the hpo worker modules into a temporary"
        f" {STAGED_CONTEXT}: {staged}",
        f"2. $ {' '.join(plan.build_command(STAGED_CONTEXT))}",
        f"3. {plan.token_call().render()}",
        f"4. $ {' '.join(plan.login_command())}   (password on stdin, never shown)",
        f"5. $ {' '.join(plan.push_command())}",
    ]
