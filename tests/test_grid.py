"""Grid search: every point once, failed points not re-run, and the run ends when it is covered."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import optuna
import pytest
from click.testing import CliRunner
from optuna.trial import TrialState

from hpo.backends.base import JobSpec
from hpo.backends.simulated import SimPlan, SimulatedBackend
from hpo.cli import main
from hpo.controller.budget import Budget
from hpo.controller.clock import FakeClock
from hpo.controller.loop import Controller, StopReason
from hpo.spec import build
from hpo.spec.loader import parse_spec
from hpo.store.local import LocalStore

GRID = """\
name: grid
objective: {metric: loss, direction: minimize}
search_space:
  x: {type: float, low: 0, high: 1, step: 0.25}
  n: {type: int, low: 1, high: 5, step: 2}
  act: {type: categorical, choices: [relu, tanh]}
sampler: {type: grid, seed: 0}
trainer: {command: [unused]}
"""


def _run(tmp_path: Path, budget: str, broken: tuple[float, int, str] | None = None):
    def planner(job: JobSpec, params: Mapping[str, Any]) -> SimPlan:
        if (params["x"], params["n"], params["act"]) == broken:
            return SimPlan(duration=2.0, exit_code=1)
        return SimPlan(duration=3.0, result={"value": params["x"] + params["n"]})

    spec = parse_spec(GRID + budget)
    clock = FakeClock()
    store = LocalStore(tmp_path / "store")
    backend = SimulatedBackend(store, planner, clock.now, poll_interval=1.0)
    study = optuna.create_study(
        storage=optuna.storages.InMemoryStorage(), study_name="grid", sampler=build.sampler(spec)
    )
    summary = Controller(study, spec, backend, store, clock=clock).run()
    points = [(t.params["x"], t.params["n"], t.params["act"]) for t in study.get_trials()]
    return summary, study, points


def test_the_grid_holds_every_combination_of_the_stepped_values() -> None:
    spec = parse_spec(GRID)
    assert build.grid(spec, "grid.yaml") == {
        "x": [0.0, 0.25, 0.5, 0.75, 1.0],
        "n": [1, 3, 5],
        "act": ["relu", "tanh"],
    }
    target = Budget(spec.budget, FakeClock().monotonic, build.grid_size(spec)).target
    assert build.grid_size(spec) == 30 and target == 30  # n_trials is 100


def test_a_grid_smaller_than_n_trials_runs_each_point_once_and_completes(tmp_path: Path) -> None:
    summary, _, points = _run(tmp_path, "budget: {n_trials: 100, max_parallel: 4}\n")
    assert summary.reason == StopReason.COMPLETE and summary.complete == 30
    assert len(points) == len(set(points)) == 30


def test_a_failed_point_is_not_replaced_by_a_repeat_of_another(tmp_path: Path) -> None:
    broken = (0.5, 3, "tanh")
    summary, study, points = _run(tmp_path, "budget: {n_trials: 100, max_parallel: 4}\n", broken)
    assert (summary.complete, summary.failed) == (29, 1)
    assert len(points) == len(set(points)) == 30
    (failed,) = study.get_trials(states=(TrialState.FAIL,))
    assert (failed.params["x"], failed.params["n"], failed.params["act"]) == broken


def test_n_trials_below_the_grid_size_runs_that_many_distinct_points(tmp_path: Path) -> None:
    summary, _, points = _run(tmp_path, "budget: {n_trials: 7, max_parallel: 3}\n")
    assert summary.complete == 7 and len(set(points)) == 7


@pytest.mark.parametrize(
    "param", ["{type: float, low: 0, high: 1}", "{type: int, low: 1, high: 64, log: true}"]
)
def test_a_parameter_without_a_finite_set_of_values_is_a_clear_error(
    write_study, param: str
) -> None:
    text = GRID.replace("x: {type: float, low: 0, high: 1, step: 0.25}", f"x: {param}").replace(
        "command: [unused]", 'command: python -c "pass"'
    )
    result = CliRunner().invoke(main, ["validate", str(write_study(text))])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert (
        "search_space.x" in result.output and "the grid sampler needs a finite set" in result.output
    )
