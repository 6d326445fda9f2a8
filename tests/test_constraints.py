"""Constrained studies: the trainer reports constrained values, ``objective.constraints``
bounds them, the samplers steer towards feasible trials, and the best trial is feasible."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import optuna
import pytest
from click.testing import CliRunner
from optuna.trial import TrialState

from hpo import attrs, worker
from hpo.backends.base import JobSpec
from hpo.backends.simulated import SimPlan, SimulatedBackend
from hpo.cli import main
from hpo.controller.clock import FakeClock
from hpo.controller.documents import InvalidDocument, parse_result
from hpo.controller.loop import Controller
from hpo.spec import build
from hpo.spec.loader import parse_spec
from hpo.spec.models import parse_bound
from hpo.store.local import LocalStore

STUDY = """\
name: con
objective:
  metric: loss
  direction: minimize
  constraints: {{total: "<= 1.0"}}
search_space:
  x: {{type: float, low: 0, high: 1}}
  y: {{type: float, low: 0, high: 1}}
sampler: {{type: {sampler}, seed: 3}}
budget: {{n_trials: 40, max_parallel: 4}}
trainer: {{command: [unused]}}
"""
STARTUP = 10


def result(params: Mapping[str, Any]) -> dict[str, Any]:
    """Two basins: the better one, around (0.8, 0.8) with 0, lies in the infeasible half
    (x + y > 1); the feasible optimum is the other one's centre, (0.25, 0.25) with 0.1."""
    x, y = params["x"], params["y"]
    loss = min((x - 0.8) ** 2 + (y - 0.8) ** 2, 0.1 + 2 * ((x - 0.25) ** 2 + (y - 0.25) ** 2))
    return {"value": loss, "constraints": {"total": x + y}}


def run(tmp_path: Path, sampler: str, constrained: bool = True) -> optuna.Study:
    text = STUDY.format(sampler=sampler)
    spec = parse_spec(text if constrained else text.replace('constraints: {total: "<= 1.0"}', ""))
    store, clock = LocalStore(tmp_path / "store"), FakeClock()

    def planner(job: JobSpec, params: Mapping[str, Any]) -> SimPlan:
        return SimPlan(duration=10.0, result=result(params))

    backend = SimulatedBackend(store, planner, clock.now)
    study = optuna.create_study(storage=optuna.storages.InMemoryStorage(), study_name="con",
                                sampler=build.sampler(spec))  # fmt: skip
    Controller(study, spec, backend, store, clock=clock).run()
    return study


@pytest.mark.parametrize("sampler", ["tpe", "gp", "auto"])
def test_the_best_trial_is_feasible_and_most_proposals_are(tmp_path: Path, sampler: str) -> None:
    study = run(tmp_path, sampler)
    trials = study.get_trials()
    assert len(trials) == 40 and all(t.state is TrialState.COMPLETE for t in trials)
    best = study.best_trial
    assert best.params["x"] + best.params["y"] <= 1.0
    assert best.user_attrs[attrs.FEASIBLE] is True
    assert best.user_attrs[attrs.CONSTRAINTS] == {"total": best.params["x"] + best.params["y"]}
    assert best.value < 0.13  # the feasible optimum scores 0.1
    # after the start-up, far more feasible proposals than random search (half the square)
    # and than the same sampler that is not told about the constraint
    blind = run(tmp_path / "blind", sampler, constrained=False).get_trials()
    assert feasible_share(trials) > 0.75 and feasible_share(blind) < 0.5


def feasible_share(trials: list[optuna.trial.FrozenTrial]) -> float:
    later = [t for t in trials if t.number >= STARTUP + 4]  # asked after the start-up's results
    return sum(t.params["x"] + t.params["y"] <= 1.0 for t in later) / len(later)


def test_a_result_without_a_constrained_value_fails_its_trial() -> None:
    bounds = {"total": parse_bound("<= 1")}
    with pytest.raises(InvalidDocument, match="no value for constraint 'total'"):
        parse_result(json.dumps({"value": 1.0}).encode(), 1, None, bounds)
    with pytest.raises(InvalidDocument, match="constraint 'total' is nan"):
        parse_result(b'{"value": 1.0, "constraints": {"total": NaN}}', 1, None, bounds)
    from_metrics = parse_result(b'{"value": 1.0, "metrics": {"total": 3.0}}', 1, None, bounds)
    assert from_metrics.violations == {"total": 2.0} and not from_metrics.feasible
    at_least = parse_result(b'{"value": 1, "constraints": {"total": 3}}', 1, None,
                            {"total": parse_bound(">= 2.5")})  # fmt: skip
    assert at_least.violations == {"total": -0.5} and at_least.feasible


def test_the_worker_writes_constraints(tmp_path: Path) -> None:
    doc = {"params": {}, "trial": 0, "study": "s", "attempt": 1}
    (tmp_path / "params.json").write_text(json.dumps(doc))
    worker.Trial(str(tmp_path)).finish(0.5, constraints={"memory_gb": 14.2})
    doc = json.loads((tmp_path / "result.json").read_text())
    assert doc == {"value": 0.5, "constraints": {"memory_gb": 14.2}}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "study.yaml"
    path.write_text(text.replace("command: [unused]", "command: python -c pass"))
    return path


def test_bad_bounds_and_samplers_that_ignore_constraints_are_refused(tmp_path: Path) -> None:
    runner = CliRunner()
    bad = write(tmp_path, STUDY.format(sampler="tpe").replace('"<= 1.0"', '"under 1"'))
    out = runner.invoke(main, ["validate", str(bad)])
    assert out.exit_code == 2 and "total: 'under 1' is not a bound; write '<= 16'" in out.output
    ignoring = write(tmp_path, STUDY.format(sampler="random"))
    out = runner.invoke(main, ["validate", str(ignoring)])
    assert out.exit_code == 2 and "sampler 'random' cannot use objective.constraints" in out.output
