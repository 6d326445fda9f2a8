"""``hpo best``: the best trial's params (table, JSON, params only) or the Pareto front."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from click.testing import Result

from tests.inspect.conftest import Built, new_study, start_trial, write_study_file

Cli = Callable[..., Result]


def test_finished_study_table(finished: Built, cli: Cli) -> None:
    result = cli("best", finished.study_file)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "best trial 1: val_loss (minimize) 0.2" in out
    for row in (("lr", "0.1"), ("units", "32"), ("act", "tanh")):
        line = next(line for line in out.splitlines() if f" {row[0]} " in line)
        assert row[1] in line, line
    assert "val_accuracy=0.9" in out


def test_finished_study_json_and_params_ready_to_paste(finished: Built, cli: Cli) -> None:
    doc = json.loads(cli("best", finished.study_file, "--json").stdout)
    assert doc == {
        "number": 1,
        "value": 0.2,
        "params": {"lr": 0.1, "units": 32, "act": "tanh"},
        "metrics": {"val_accuracy": 0.9},
    }
    params = json.loads(cli("best", finished.study_file, "--params").stdout)
    assert params == finished.trial("best").params


def test_running_study_best_among_complete_trials_only(running: Built, cli: Cli) -> None:
    result = cli("best", running.study_file, "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["number"] == running.roles["complete"] and doc["value"] == 0.5
    assert "best trial 0" in cli("best", running.study_file).stdout


def test_multi_objective_prints_the_pareto_front(multi: Built, cli: Cli) -> None:
    doc = json.loads(cli("best", multi.study_file, "--json").stdout)
    assert doc["directions"] == ["minimize", "minimize"]
    front = doc["pareto_front"]
    assert [t["number"] for t in front] == [0, 1]
    assert front[0]["values"] == [0.1, 9.0] and front[1]["values"] == [0.5, 1.0]
    params = json.loads(cli("best", multi.study_file, "--params").stdout)
    assert params == [front[0]["params"], front[1]["params"]]
    table = cli("best", multi.study_file).stdout
    assert "Pareto front (2 trials)" in table and "loss (minimize)" in table
    assert "latency" in table


def test_no_complete_trial_yet_is_a_clear_error(tmp_path: Path, cli: Cli) -> None:
    study = new_study(write_study_file(tmp_path, "early"))
    start_trial(study, {"lr": 0.1, "units": 8, "act": "relu"})
    result = cli("best", tmp_path / "early.yaml")
    assert result.exit_code == 1
    assert "study 'early' has no complete trial yet" in result.stderr
    assert "hint: see its progress with: hpo status" in result.stderr
