"""The PyTorch example trainer on the CPU: a finite result, checkpoints, an exact resume."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from tests.infra.conftest import DiesAtCheckpoint, Killed, import_trainer, stage_trial

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

PARAMS = {"lr": 0.01, "hidden": 16, "layers": 1, "dropout": 0.2, "batch_size": 128, "seed": 3}
EPOCHS = 3


@pytest.fixture(scope="module")
def trainer() -> Iterator[ModuleType]:
    """train_torch.py imported as a module (it is a script in the image)."""
    deterministic = torch.are_deterministic_algorithms_enabled()
    yield import_trainer("train_torch")
    torch.use_deterministic_algorithms(deterministic)  # the trainer turns it on process-wide


def _stage(directory: Path, attempt: int = 1) -> Path:
    return stage_trial(directory, PARAMS, attempt)


def _run(trainer: ModuleType, directory: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HPO_TRIAL_URI", str(directory))
    trainer.main(["--epochs", str(EPOCHS)])


def _steps(directory: Path) -> list[list[float]]:
    return json.loads((directory / "progress.json").read_text())["steps"]


def _result(directory: Path) -> dict:
    return json.loads((directory / "result.json").read_text())


def test_trains_resumes_and_matches_an_uninterrupted_run(
    trainer: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = _stage(tmp_path / "whole")
    _run(trainer, whole, monkeypatch)
    result = _result(whole)
    assert math.isfinite(result["value"]) and 0 < result["value"] < 3
    assert 0 <= result["metrics"]["val_accuracy"] <= 1
    assert [s[0] for s in _steps(whole)] == [1, 2, 3]
    assert _steps(whole)[-1][1] == result["value"]
    assert (whole / "checkpoints" / trainer.CHECKPOINT).is_file()

    # Attempt 1 is stopped after its first epoch (as if pruned or sent SIGTERM) ...
    split = _stage(tmp_path / "split")
    (split / "control.json").write_text(json.dumps({"stop": True}))
    _run(trainer, split, monkeypatch)
    assert not (split / "result.json").exists()
    assert [s[0] for s in _steps(split)] == [1]
    # ... attempt 2 resumes from the checkpoint and ends exactly where the whole run ended.
    (split / "control.json").unlink()
    _stage(split, attempt=2)
    _run(trainer, split, monkeypatch)
    assert _steps(split) == _steps(whole)
    assert _result(split) == result


def test_a_finished_trial_rerun_reports_the_same_result(
    trainer: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trial = _stage(tmp_path / "t")
    _run(trainer, trial, monkeypatch)
    first = _result(trial)
    (trial / "result.json").unlink()
    _stage(trial, attempt=2)
    _run(trainer, trial, monkeypatch)  # every epoch is in the checkpoint: no training
    assert _result(trial) == first


def test_settings_take_params_over_defaults(trainer: ModuleType) -> None:
    cfg = trainer.settings({"lr": "0.5", "epochs": 2}, epochs=9)
    assert cfg["lr"] == 0.5 and cfg["epochs"] == 2 and cfg["hidden"] == 64
    assert trainer.settings({}, epochs=9)["epochs"] == 9


def test_killed_while_checkpointing_an_epoch_it_has_already_reported_it(
    trainer: ModuleType, tmp_path: Path
) -> None:
    trial = DiesAtCheckpoint(str(_stage(tmp_path / "t")), at=2)
    with pytest.raises(Killed):
        trainer.train(trial, EPOCHS)
    assert [step for step, _ in _steps(tmp_path / "t")] == [1, 2]
