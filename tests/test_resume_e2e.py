"""A controller killed at any moment resumes and loses nothing (real processes, local backend)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from hpo import attrs
from hpo.controller.failpoints import ENV as FAILPOINTS_ENV
from hpo.storage import open_storage

pytestmark = pytest.mark.slow
TRAINER = Path(__file__).parent / "data" / "chaos_trainer.py"

STUDY = """\
name: chaos
objective: {{metric: loss, direction: minimize}}
search_space:
  x: {{type: float, low: -5, high: 5}}
  y: {{type: float, low: -5, high: 5}}
sampler: {{type: tpe, seed: 1, n_startup_trials: 8}}
budget: {{n_trials: {n_trials}, max_parallel: 4}}
trainer:
  command: python {trainer}
  env: {{CHAOS_BASE_SECONDS: "{base}"}}
backend: {{type: local, poll_interval: 0.05}}
"""


def write_study(tmp: Path, n_trials: int, base: float = 0.3) -> Path:
    path = tmp / "chaos.yaml"
    path.write_text(STUDY.format(n_trials=n_trials, trainer=TRAINER, base=base))
    return path


def start(study: Path, failpoints: str | None = None) -> subprocess.Popen[str]:
    env = {**os.environ, FAILPOINTS_ENV: failpoints or ""}
    command = [sys.executable, "-m", "hpo", "run", str(study)]
    return subprocess.Popen(
        command, cwd=study.parent, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip


def load(study: Path) -> optuna.Study:
    storage = open_storage(str(study.parent / "chaos.journal"))
    return optuna.load_study(study_name="chaos", storage=storage)


def wait_until(predicate, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


def running_trainers(study: Path) -> int:
    def alive(pid_file: Path) -> bool:
        exit_file = pid_file.with_name("exit.json")
        return not exit_file.exists()

    return sum(alive(p) for p in (study.parent / "runs" / "chaos" / "jobs").glob("*/pid.json"))


def test_chaos_sigkill_at_any_moment_loses_nothing_and_runs_nothing_twice(tmp_path: Path) -> None:
    study = write_study(tmp_path, n_trials=40)
    rng = random.Random(7)
    failpoints = ["after_submit=2", "after_job_end=3", "after_stage=1", "after_record=2",
                  "after_tell=2", "after_ask=5", "after_submit=1", "after_job_end=1"]  # fmt: skip
    kills = 0
    for point in failpoints:  # deterministic kills at each step of the lifecycle
        proc = start(study, point)
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == -signal.SIGKILL, out
        kills += 1
    for _ in range(4):  # and at random moments
        proc = start(study)
        try:
            proc.wait(timeout=rng.uniform(1.0, 3.0))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            kills += 1
    final = start(study)
    out, _ = final.communicate(timeout=300)
    assert final.returncode == 0, out
    assert kills >= 8

    trials = load(study).get_trials()
    finished = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert len(finished) == 40
    assert not [t for t in trials if t.state is TrialState.RUNNING]
    trial_dirs = sorted((tmp_path / "runs" / "chaos" / "trials").iterdir())
    by_number = {t.number: t for t in trials}
    for trial_dir in trial_dirs:
        trial = by_number[int(trial_dir.name)]
        runs_log = trial_dir / "runs.log"
        runs = runs_log.read_text().splitlines() if runs_log.exists() else []
        assert sum(line.startswith("finish") for line in runs) <= 1, trial_dir  # never twice
        result = trial_dir / "result.json"
        if result.exists():  # every result a trainer wrote was told, with its value
            assert trial.state is TrialState.COMPLETE
            assert trial.value == json.loads(result.read_text())["value"]
    for t in trials:
        if t.state is TrialState.COMPLETE:
            assert t.value == (t.params["x"] - 1.0) ** 2 + (t.params["y"] + 2.0) ** 2
    jobs = [p.name for p in (tmp_path / "runs" / "chaos" / "jobs").iterdir()]
    assert len(jobs) == len(set(jobs)) == len(trials)  # one job per trial: none duplicated


def test_ctrl_c_leaves_jobs_running_and_a_rerun_finishes(tmp_path: Path) -> None:
    study = write_study(tmp_path, n_trials=8, base=1.5)
    proc = start(study)
    wait_until(lambda: running_trainers(study) == 4)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, out
    assert "running jobs are left running" in out and f"resume with: hpo run {study}" in out
    running = load(study).get_trials(states=(TrialState.RUNNING,))
    assert len(running) == 4 and running_trainers(study) == 4  # the jobs survived
    rerun = start(study)
    out, _ = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, out
    trials = load(study).get_trials()
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 8
    assert all(t.user_attrs[attrs.ATTEMPT] == 1 for t in trials)


def test_a_second_controller_is_refused_and_a_killed_one_is_taken_over(tmp_path: Path) -> None:
    study = write_study(tmp_path, n_trials=6, base=1.5)
    first = start(study)
    wait_until(lambda: running_trainers(study) >= 1)
    second = start(study)
    out, _ = second.communicate(timeout=60)
    assert second.returncode == 3, out
    assert "is already being run by another controller" in out and "Traceback" not in out
    first.kill()  # SIGKILL: no chance to release the lease
    first.wait()
    third = start(study)
    out, _ = third.communicate(timeout=120)
    assert third.returncode == 0, out
    assert len(load(study).get_trials(states=(TrialState.COMPLETE,))) == 6


def test_stop_cancel_terminates_jobs_and_fails_their_trials(tmp_path: Path) -> None:
    study = write_study(tmp_path, n_trials=8, base=30)
    proc = start(study)
    wait_until(lambda: running_trainers(study) == 4)
    stop = subprocess.run([sys.executable, "-m", "hpo", "stop", str(study), "--cancel"],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert stop.returncode == 0, stop.stderr
    assert "to stop and cancel its jobs" in stop.stdout
    proc.communicate(timeout=60)
    trials = load(study).get_trials()
    assert [t.state for t in trials] == [TrialState.FAIL] * 4
    assert all(t.user_attrs[attrs.FAIL_REASON] == "cancelled by hpo stop --cancel" for t in trials)
    wait_until(lambda: running_trainers(study) == 0, timeout=30)
