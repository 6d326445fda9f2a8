"""The scikit-learn example trainer: a checkpointed epoch always has its reported value."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.infra.conftest import DiesAtCheckpoint, Killed, import_trainer, stage_trial

pytest.importorskip("sklearn")

PARAMS = {"learning_rate_init": 0.01, "hidden_units": 8, "batch_size": 64}


def test_killed_while_checkpointing_an_epoch_it_has_already_reported_it(tmp_path: Path) -> None:
    trainer = import_trainer("train_sklearn")
    trial = DiesAtCheckpoint(str(stage_trial(tmp_path / "t", PARAMS)), at=3)
    with pytest.raises(Killed):
        trainer.train(trial, epochs=5)
    state = trainer.load_checkpoint(trial.checkpoint_dir)
    steps = json.loads((tmp_path / "t" / "progress.json").read_text())["steps"]
    assert state["epoch"] == 3  # the next attempt resumes after epoch 3 ...
    assert [step for step, _ in steps] == [1, 2, 3]  # ... so epoch 3's value must be in already
    assert steps[-1][1] == state["loss"]
