"""The pruning replay counts what a pruner would have stopped on recorded learning curves."""

from __future__ import annotations

from pathlib import Path

import optuna

from benchmarks.pruning_replay import load, replay
from hpo.storage import open_storage


def test_a_median_pruner_stops_the_curve_above_the_others_and_keeps_the_best() -> None:
    good = ([1.0, 0.5, 0.2, 0.1], 0.1)
    fine = ([1.0, 0.6, 0.3, 0.2], 0.2)
    bad = ([3.0, 3.0, 3.0, 3.0], 3.0)  # above the median from step 1 on: stopped there
    late = ([2.0, 2.0, 0.4, 0.05], 0.05)  # the best of all, but worse than the median early
    pruner = optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0)
    pruned, steps, best = replay([good, fine, bad, late], pruner, "bench-prune-0")
    assert pruned == 0.5  # bad and late
    assert steps == (4 + 4 + 1 + 1) / 16
    assert best == 0.1 / 0.05 - 1  # the late bloomer was lost: the kept best is 2x worse


def test_without_a_pruner_everything_is_kept() -> None:
    trials = [([1.0, 0.5], 0.5), ([2.0, 0.25], 0.25)]
    assert replay(trials, optuna.pruners.NopPruner(), "x") == (0.0, 1.0, 0.0)


def test_any_studys_storage_can_be_replayed(tmp_path: Path) -> None:
    """A user's own unpruned study: every complete trial's curve, by the study's name."""
    storage = open_storage(str(tmp_path / "mine.journal"))
    study = optuna.create_study(study_name="mine", storage=storage)
    for curve in ([0.9, 0.5], [0.8, 0.7]):
        trial = study.ask()
        for step, value in enumerate(curve, 1):
            trial.report(value, step)
        study.tell(trial, curve[-1])
    study.enqueue_trial({})
    study.ask()  # a running trial has no final value: left out
    assert load(str(tmp_path / "mine.journal")) == {"mine": [([0.9, 0.5], 0.5), ([0.8, 0.7], 0.7)]}
