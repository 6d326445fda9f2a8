"""First-hour papercuts of the CLI: Batch without a region, a dead controller in ``hpo
status``, the lease hint naming the study file."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from hpo.attrs import STUDY_LEASE
from hpo.cli import main
from hpo.lease import Lease
from hpo.spec import build
from hpo.spec.loader import load_study
from hpo.storage import open_storage
from tests.conftest import MINIMAL_STUDY, REPO

AWS_VARS = ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL")  # fmt: skip


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_batch_without_a_region_is_one_line_and_leaves_no_running_controller(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in AWS_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    study = tmp_path / "batch-gpu.yaml"
    study.write_text((REPO / "studies" / "batch-gpu.yaml").read_text())
    code, out = cli("run", str(study))
    assert code == 1, out
    assert "Traceback" not in out and "NoRegionError" not in out
    errors = [line for line in out.splitlines() if line.startswith(("error:", "hint:"))]
    assert errors == [
        "error: the batch backend has no AWS region: none is set in the study file or for AWS",
        "hint: set 'backend.region' in the study file, or AWS_REGION (or run `aws configure`)",
    ]
    code, out = cli("status", str(study))
    assert code == 0, out
    assert "controller: running" not in out


def test_status_does_not_call_a_dead_controller_running(write_study) -> None:
    path = write_study(MINIMAL_STUDY)
    file = load_study(path)
    study = build.create_study(file, open_storage(file.storage_url))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    Lease(study, now=time.time, pid=dead.pid).acquire()  # killed: never released
    assert study.user_attrs[STUDY_LEASE]["expires_at"] > time.time()  # the lease is still valid
    code, out = cli("status", str(path))
    assert code == 0, out
    host = socket.gethostname()
    assert f"controller: not running (pid {dead.pid} on {host} exited without releasing" in out
    code, out = cli("status", str(path), "--json")
    assert '"state": "exited"' in out


def test_a_refused_second_controller_is_told_the_study_file_to_stop(write_study) -> None:
    path = write_study(MINIMAL_STUDY)
    file = load_study(path)
    study = build.create_study(file, open_storage(file.storage_url))
    Lease(study, now=time.time, pid=os.getpid()).acquire()  # this live process holds it
    code, out = cli("run", str(path))
    assert code == 3, out
    assert f"hint: stop that controller first (Ctrl-C, or `hpo stop {path}`)" in out
