"""hpo.worker on a local trial directory: the trainer's side of the contract."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hpo import worker


@pytest.fixture
def trial_dir(tmp_path: Path) -> Path:
    path = tmp_path / "s" / "trials" / "3"
    path.mkdir(parents=True)
    doc = {"params": {"lr": 0.1, "act": "relu"}, "trial": 3, "study": "s", "attempt": 2}
    (path / "params.json").write_text(json.dumps(doc))
    return path


def test_reads_params_reports_and_finishes(trial_dir: Path) -> None:
    trial = worker.Trial(str(trial_dir))
    assert (trial.params, trial.number, trial.study, trial.attempt) == (
        {"lr": 0.1, "act": "relu"},
        3,
        "s",
        2,
    )
    trial.report(1, 0.5)
    trial.report(2, 0.4)
    trial.report(1, 0.45)  # a repeated step replaces the earlier value
    assert json.loads((trial_dir / "progress.json").read_text()) == {"steps": [[1, 0.45], [2, 0.4]]}
    trial.finish(0.4, metrics={"acc": 0.9}, user_attrs={"note": "x"})
    assert json.loads((trial_dir / "result.json").read_text()) == {
        "value": 0.4,
        "metrics": {"acc": 0.9},
        "user_attrs": {"note": "x"},
    }


def test_a_new_attempt_sees_earlier_progress(trial_dir: Path) -> None:
    worker.Trial(str(trial_dir)).report(4, 1.0)
    assert worker.Trial(str(trial_dir)).reported_steps == [(4, 1.0)]


def test_refuses_non_finite_objective(trial_dir: Path) -> None:
    with pytest.raises(worker.WorkerError, match="not finite"):
        worker.Trial(str(trial_dir)).finish(float("nan"))
    assert not (trial_dir / "result.json").exists()


def test_should_stop_follows_the_control_document(trial_dir: Path) -> None:
    trial = worker.Trial(str(trial_dir))
    assert not trial.should_stop(min_interval=0)
    (trial_dir / "control.json").write_text('{"stop": true, "reason": "pruned"}')
    assert trial.should_stop(min_interval=0)


def test_current_needs_the_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(worker.ENV_TRIAL_URI, raising=False)
    with pytest.raises(worker.WorkerError, match="HPO_TRIAL_URI is not set"):
        worker.current()


def test_importable_with_the_standard_library_only(tmp_path: Path) -> None:
    """hpo.worker must not pull in optuna, pydantic, numpy or boto3 for a local trial."""
    code = (
        "import sys, hpo.worker; "
        "heavy = {'optuna', 'pydantic', 'numpy', 'boto3', 'click', 'rich', 'yaml'}; "
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
