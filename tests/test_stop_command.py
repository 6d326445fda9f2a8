"""`hpo stop` in process: the request reaches a live controller, which stops and leaves its
jobs running; with no controller it says so (the --cancel e2e is in test_resume_e2e)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from optuna.trial import TrialState

from hpo import attrs
from hpo.backends.base import JobSpec
from hpo.backends.simulated import SimPlan, SimulatedBackend
from hpo.cli import main
from hpo.controller.clock import FakeClock
from hpo.controller.loop import Controller, StopReason
from hpo.controller.report import NullReporter, Snapshot
from hpo.lease import Lease
from hpo.spec import build
from hpo.spec.loader import load_study
from hpo.storage import open_storage
from hpo.store.local import LocalStore
from tests.conftest import MINIMAL_STUDY


def _study_file(tmp_path: Path) -> Path:
    path = tmp_path / "study.yaml"
    path.write_text(MINIMAL_STUDY + "budget: {n_trials: 20, max_parallel: 2}\n")
    return path


def _long_jobs(job: JobSpec, params: Mapping[str, Any]) -> SimPlan:
    return SimPlan(duration=1000.0, result={"value": 1.0})


def _stop(path: Path, *args: str) -> str:
    result = CliRunner().invoke(main, ["stop", str(path), *args])
    assert result.exit_code == 0, result.output
    return result.output


class StopFromCli(NullReporter):
    """Runs `hpo stop --no-wait` (as another terminal would) after the controller's first pass."""

    def __init__(self, path: Path) -> None:
        self.path, self.output = path, ""

    def tick(self, snapshot: Snapshot) -> None:
        if not self.output:
            self.output = _stop(self.path, "--no-wait")


def test_stop_reaches_the_live_controller_which_leaves_its_jobs_running(tmp_path: Path) -> None:
    path = _study_file(tmp_path)
    study_file = load_study(path)
    study = build.create_study(study_file, open_storage(study_file.storage_url))
    clock = FakeClock()
    store = LocalStore(tmp_path / "runs")
    backend = SimulatedBackend(store, _long_jobs, clock.now, poll_interval=1.0)
    lease = Lease(study, now=time.time)  # held by this process: live to the CLI's own Lease
    lease.acquire()
    reporter = StopFromCli(path)
    controller = Controller(
        study, study_file.spec, backend, store, clock=clock, lease=lease, reporter=reporter
    )
    summary = controller.run()

    assert f"asked the controller (pid {lease.pid}" in reporter.output
    assert "jobs keep running" in reporter.output
    assert summary.reason == StopReason.INTERRUPTED and summary.running == 2
    assert clock.monotonic() < 5  # honoured at the next control check (every 2 s)
    assert len(backend.jobs) == 2 and all(j.terminated is None for j in backend.jobs.values())
    assert [t.state for t in study.get_trials()] == [TrialState.RUNNING] * 2
    assert study.user_attrs[attrs.STUDY_STOP] == {}  # handled: a later run is not stopped by it


def test_with_no_controller_stop_says_there_is_nothing_to_stop(tmp_path: Path) -> None:
    path = _study_file(tmp_path)
    study_file = load_study(path)
    build.create_study(study_file, open_storage(study_file.storage_url))
    assert "no controller is running study 'demo'; nothing to stop" in _stop(path)
    assert "cancelled 0 running trial(s) of study 'demo'" in _stop(path, "--cancel")
