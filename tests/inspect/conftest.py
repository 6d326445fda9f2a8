"""Fixtures for the inspection commands: studies built directly with Optuna, fast.

Each study carries the user attributes the controller writes (see ``hpo.attrs``): a
*finished* study (COMPLETE, PRUNED with intermediate values, FAIL with a reason and an
earlier attempt, artifacts registered as the controller will), a *running* one (RUNNING
trials at the stages running / submitted / staged), a multi-objective one and a Batch one.
The one real ``hpo run`` of a tiny quickstart is the session fixture ``real_study``.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import optuna
import pytest
from click.testing import CliRunner, Result
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState

from hpo import attrs
from hpo.artifacts import artifact_store_for, register_artifacts
from hpo.cli import main
from hpo.spec import build
from hpo.spec.loader import load_study
from hpo.storage import open_storage
from hpo.store.layout import TrialLayout
from hpo.store.local import LocalStore

REPO = Path(__file__).resolve().parents[2]
SKLEARN_TRAINER = REPO / "trainer_image" / "train_sklearn.py"
ARTIFACT_TRAINER = Path(__file__).resolve().parent / "trainers" / "train_with_artifact.py"

SPACE = {
    "lr": FloatDistribution(1e-4, 1.0, log=True),
    "units": IntDistribution(8, 64),
    "act": CategoricalDistribution(["relu", "tanh"]),
}
SPACE_YAML = """\
search_space:
  lr: {type: float, low: 1.0e-4, high: 1.0, log: true}
  units: {type: int, low: 8, high: 64}
  act: {type: categorical, choices: [relu, tanh]}
"""


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "browser: needs headless Chromium (/usr/bin/chromium); skipped without it"
    )


@dataclass
class Built:
    """A study on disk: its study file, its Optuna study, and what each trial is."""

    study_file: Path
    study: optuna.Study
    now: float
    roles: dict[str, int] = field(default_factory=dict)

    @property
    def journal(self) -> Path:
        return self.study_file.parent / f"{self.study.study_name}.journal"

    @property
    def store_root(self) -> Path:
        return self.study_file.parent / "runs"

    def trial_dir(self, number: int) -> Path:
        return self.store_root / self.study.study_name / "trials" / str(number)

    def trial(self, role: str) -> optuna.trial.FrozenTrial:
        number = self.roles[role]
        return next(t for t in self.study.get_trials() if t.number == number)


def write_study_file(
    directory: Path, name: str, *, objective: str | None = None, backend: str = ""
) -> Path:
    """A study file next to its journal storage and ``runs/`` store."""
    objective = objective or "objective: {metric: val_loss, direction: minimize}"
    text = f"""\
name: {name}
storage: {name}.journal
store: runs
{objective}
{SPACE_YAML}budget: {{n_trials: 10, max_parallel: 2}}
trainer:
  command: python -c pass
{backend}"""
    path = directory / f"{name}.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def new_study(study_file: Path) -> optuna.Study:
    """Create the study in the storage the study file names (as ``hpo run`` would)."""
    study = load_study(study_file)
    return build.create_study(study, open_storage(study.storage_url))


def start_trial(
    study: optuna.Study, params: dict[str, Any], **user_attrs: Any
) -> optuna.trial.Trial:
    """Ask for a trial with fixed params and record user attributes, like the controller."""
    study.enqueue_trial(params)
    trial = study.ask(SPACE)
    for key, value in user_attrs.items():
        trial.set_user_attr(key, value)
    return trial


def job_attrs(built_dir: Path, name: str, number: int, attempt: int = 1) -> dict[str, Any]:
    """The attributes every staged local trial has."""
    trial_uri = built_dir / "runs" / name / "trials" / str(number)
    return {
        attrs.BACKEND: "local",
        attrs.ATTEMPT: attempt,
        attrs.TRIAL_URI: str(trial_uri),
        attrs.JOB_NAME: f"{name}-{number}-{attempt}",
    }


def write_log(built_dir: Path, name: str, number: int, attempt: int, text: str) -> str:
    path = built_dir / "runs" / name / "trials" / str(number) / "logs" / f"attempt-{attempt}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


def finish_trial(
    study: optuna.Study,
    trial: optuna.trial.Trial,
    state: TrialState,
    *,
    steps: Sequence[float] = (),
    value: float | Sequence[float] | None = None,
    compute: float,
    ended_at: float,
    **extra: Any,
) -> None:
    """Report steps 1..n, record the final attributes, then tell (the controller's order)."""
    for i, v in enumerate(steps, start=1):
        trial.report(v, i)
    stage = {TrialState.COMPLETE: "succeeded", TrialState.PRUNED: "pruned"}.get(state, "failed")
    final = {attrs.STAGE: stage, attrs.COMPUTE_SECONDS: compute, attrs.ENDED_AT: ended_at, **extra}
    for key, v in final.items():
        trial.set_user_attr(key, v)
    study.tell(trial, value if state == TrialState.COMPLETE else None, state=state)


def build_finished(directory: Path, name: str = "demo") -> Built:
    """COMPLETE x2 (one with artifacts), PRUNED x2, FAIL x1 (second attempt); nothing running."""
    now = time.time()
    study = new_study(write_study_file(directory, name))
    built = Built(directory / f"{name}.yaml", study, now)
    curve = [1.0 - 0.05 * i for i in range(10)]

    t = start_trial(
        study, {"lr": 0.01, "units": 16, "act": "relu"}, **job_attrs(directory, name, 0)
    )
    log = write_log(directory, name, 0, 1, "".join(f"t0 epoch {i}\n" for i in range(1, 11)))
    finish_trial(
        study,
        t,
        TrialState.COMPLETE,
        steps=curve,
        value=0.30,
        compute=10.0,
        ended_at=now - 50,
        **{attrs.LOG: log, attrs.EXIT_CODE: 0},
    )

    t = start_trial(study, {"lr": 0.1, "units": 32, "act": "tanh"}, **job_attrs(directory, name, 1))
    log = write_log(directory, name, 1, 1, "t1 start\nt1 done\n")
    _write_artifacts(built, 1)
    store = LocalStore(built.store_root)
    artifact_store = artifact_store_for(load_study(built.study_file))
    registered = register_artifacts(t, store, TrialLayout(name), 1, artifact_store)
    assert len(registered) == 2
    finish_trial(
        study,
        t,
        TrialState.COMPLETE,
        steps=curve,
        value=0.20,
        compute=12.0,
        ended_at=now - 40,
        **{attrs.LOG: log, attrs.METRICS: {"val_accuracy": 0.9}},
    )

    t = start_trial(study, {"lr": 0.5, "units": 8, "act": "relu"}, **job_attrs(directory, name, 2))
    finish_trial(study, t, TrialState.PRUNED, steps=[2.0, 1.9, 1.8], compute=3.0, ended_at=now - 30)
    t = start_trial(study, {"lr": 0.4, "units": 9, "act": "relu"}, **job_attrs(directory, name, 3))
    finish_trial(study, t, TrialState.PRUNED, steps=[2.0] * 5, compute=6.0, ended_at=now - 20)

    first = write_log(directory, name, 4, 1, "attempt one\nhost went away\n")
    second = write_log(directory, name, 4, 2, "attempt two\nTraceback: boom\n")
    history = [{"attempt": 1, "job_id": f"{name}-4-1", "reason": "host lost", "log": first}]
    t = start_trial(
        study, {"lr": 0.2, "units": 10, "act": "tanh"}, **job_attrs(directory, name, 4, 2)
    )
    finish_trial(
        study,
        t,
        TrialState.FAIL,
        compute=4.0,
        ended_at=now - 10,
        **{
            attrs.LOG: second,
            attrs.ATTEMPTS_LOG: history,
            attrs.EXIT_CODE: 1,
            attrs.FAIL_REASON: "trainer exited with code 1",
        },
    )
    built.roles = {"complete": 0, "best": 1, "pruned_a": 2, "pruned_b": 3, "failed": 4}
    return built


def _write_artifacts(built: Built, number: int) -> None:
    """What a trainer writes into its trial's ``artifacts/``."""
    artifacts = built.trial_dir(number) / "artifacts"
    (artifacts / "plots").mkdir(parents=True)
    (artifacts / "summary.txt").write_text("best epoch 10\n")
    (artifacts / "plots" / "curve.csv").write_text("step,loss\n1,1.0\n")


def build_running(directory: Path, name: str = "live") -> Built:
    """One COMPLETE, one FAIL, and RUNNING trials at the stages running, submitted and staged."""
    now = time.time()
    study = new_study(write_study_file(directory, name))
    built = Built(directory / f"{name}.yaml", study, now)

    t = start_trial(
        study, {"lr": 0.01, "units": 16, "act": "relu"}, **job_attrs(directory, name, 0)
    )
    log = write_log(directory, name, 0, 1, "t0 line\n")
    finish_trial(
        study,
        t,
        TrialState.COMPLETE,
        steps=[0.9, 0.7, 0.6, 0.5],
        value=0.5,
        compute=8.0,
        ended_at=now - 200,
        **{attrs.LOG: log},
    )

    log = write_log(directory, name, 1, 1, "epoch 1\nepoch 2\nepoch 3 (in progr")
    t = start_trial(
        study,
        {"lr": 0.02, "units": 20, "act": "tanh"},
        **job_attrs(directory, name, 1),
        **{
            attrs.JOB_ID: f"{name}-1-1",
            attrs.STAGE: "running",
            attrs.SUBMITTED_AT: now - 130,
            attrs.STARTED_AT: now - 120,
            attrs.LOG: log,
        },
    )
    t.report(0.8, 1)
    t.report(0.65, 2)

    start_trial(
        study,
        {"lr": 0.03, "units": 24, "act": "relu"},
        **job_attrs(directory, name, 2),
        **{attrs.JOB_ID: f"{name}-2-1", attrs.STAGE: "submitted", attrs.SUBMITTED_AT: now - 30},
    )
    start_trial(
        study,
        {"lr": 0.04, "units": 28, "act": "relu"},
        **job_attrs(directory, name, 3),
        **{attrs.STAGE: "staged"},
    )

    t = start_trial(study, {"lr": 0.9, "units": 60, "act": "tanh"}, **job_attrs(directory, name, 4))
    finish_trial(
        study,
        t,
        TrialState.FAIL,
        compute=1.5,
        ended_at=now - 5,
        **{attrs.FAIL_REASON: "result.json is missing", attrs.EXIT_CODE: 0},
    )
    lease = {
        "owner": "abc",
        "host": "ctl-host",
        "pid": 4242,
        "ticks": None,
        "since": now - 5,
        "expires_at": now + 55,
    }
    study.set_user_attr(attrs.STUDY_LEASE, lease)  # a live controller's heartbeat
    built.roles = {"complete": 0, "running": 1, "submitted": 2, "staged": 3, "failed": 4}
    return built


@contextlib.contextmanager
def no_fsync() -> Iterator[None]:
    """Building a fixture study: skip the journal's fsync per write (~7 ms each, ~100 writes)."""
    with mock.patch.object(os, "fsync", lambda fd: None):
        yield


@pytest.fixture
def finished(tmp_path: Path) -> Built:
    with no_fsync():
        return build_finished(tmp_path)


@pytest.fixture
def running(tmp_path: Path) -> Built:
    with no_fsync():
        return build_running(tmp_path)


@pytest.fixture
def multi(tmp_path: Path) -> Built:
    """A two-objective study whose Pareto front is trials 0 and 1 (trial 2 is dominated)."""
    objective = "objective: {metrics: [loss, latency], directions: [minimize, minimize]}"
    study = new_study(write_study_file(tmp_path, "pareto", objective=objective))
    with no_fsync():
        for i, values in enumerate([(0.1, 9.0), (0.5, 1.0), (0.6, 9.5)]):
            t = start_trial(study, {"lr": 0.1 * (i + 1), "units": 8 + i, "act": "relu"})
            study.tell(t, values)
    return Built(tmp_path / "pareto.yaml", study, time.time(), {"a": 0, "b": 1, "dominated": 2})


@pytest.fixture
def cli() -> Callable[..., Result]:
    """Invoke ``hpo`` in-process; ``obj`` injects the clock and the wait between refreshes."""

    def invoke(*args: str, obj: dict[str, Any] | None = None) -> Result:
        return CliRunner().invoke(main, [str(a) for a in args], obj=obj or {})

    return invoke


def storage_files(directory: Path) -> dict[str, tuple[int, int]]:
    """Size and mtime of every file beside a study file (to prove nothing was written)."""
    return {
        str(p.relative_to(directory)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in directory.rglob("*")
        if p.is_file()
    }


# --------------------------------------------------------------------------- one real run


@dataclass
class RealStudy:
    study_file: Path
    run: subprocess.CompletedProcess[str]
    seconds: float


@pytest.fixture(scope="session")
def real_study(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealStudy]:
    """A tiny quickstart (4 trials, 2 at a time, 3 epochs) run once with the real ``hpo run``."""
    directory = tmp_path_factory.mktemp("real")
    text = (REPO / "studies" / "quickstart.yaml").read_text()
    text = text.replace("n_trials: 24", "n_trials: 4").replace("max_parallel: 4", "max_parallel: 2")
    command = "../trainer_image/train_sklearn.py --epochs 20"
    text = text.replace(command, f"{ARTIFACT_TRAINER} --epochs 3")
    assert str(ARTIFACT_TRAINER) in text and "n_trials: 4" in text
    study_file = directory / "quickstart.yaml"
    study_file.write_text(text)
    started = time.monotonic()
    run = subprocess.run(
        [sys.executable, "-m", "hpo", "run", str(study_file)],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=300,
    )
    yield RealStudy(study_file, run, time.monotonic() - started)
