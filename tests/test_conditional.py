"""Conditional search spaces: a parameter that exists only when another has a value.

The trainer sees only the active parameters; TPE (what ``auto`` picks for such a space) draws
them with ``group``; bad conditions are refused in one line with exit code 2.
"""

from __future__ import annotations

import json
import math
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
from hpo.controller.clock import FakeClock
from hpo.controller.loop import Controller
from hpo.sampling.auto import AutoSampler
from hpo.spec import build
from hpo.spec.loader import parse_spec
from hpo.store.local import LocalStore

SPACE = """\
search_space:
  optimizer: {type: categorical, choices: [adam, sgd, rmsprop]}
  lr: {type: float, low: 1.0e-4, high: 1.0e-1, log: true}
  momentum: {type: float, low: 0.0, high: 0.99, when: {optimizer: sgd}}
  nesterov: {type: categorical, choices: [true, false], when: {optimizer: sgd}}
  rho: {type: float, low: 0.5, high: 0.99, when: {optimizer: [rmsprop]}}
"""


STUDY = f"""\
name: cond
objective: {{metric: loss, direction: minimize}}
{SPACE}sampler: {{type: auto, seed: 0}}
budget: {{n_trials: 30, max_parallel: 3}}
trainer: {{command: [unused]}}
"""


def loss(params: Mapping[str, Any]) -> float:
    bonus = {"adam": 0.2, "sgd": abs(params.get("momentum", 0) - 0.9), "rmsprop": 0.5}
    return abs(math.log10(params["lr"]) + 2) + bonus[params["optimizer"]]


def test_a_conditional_space_runs_and_the_trainer_sees_only_active_params(
    tmp_path: Path,
) -> None:
    spec = parse_spec(STUDY)
    store, clock = LocalStore(tmp_path / "store"), FakeClock()

    def planner(job: JobSpec, params: Mapping[str, Any]) -> SimPlan:
        return SimPlan(duration=10.0, result={"value": loss(params)})

    backend = SimulatedBackend(store, planner, clock.now)
    study = optuna.create_study(storage=optuna.storages.InMemoryStorage(), study_name="cond",
                                sampler=build.sampler(spec))  # fmt: skip
    assert isinstance(study.sampler, AutoSampler) and study.sampler.choice.sampler == "tpe"
    Controller(study, spec, backend, store, clock=clock).run()
    trials = study.get_trials()
    assert len(trials) == 30 and all(t.state is TrialState.COMPLETE for t in trials)
    seen = set()
    for t in trials:
        sent = json.loads(store.get(f"cond/trials/{t.number}/params.json"))["params"]
        extra = {"sgd": {"momentum", "nesterov"}, "rmsprop": {"rho"}}.get(sent["optimizer"])
        assert set(sent) == {"optimizer", "lr"} | (extra or set()), sent
        seen.add(sent["optimizer"])
    assert seen == {"adam", "sgd", "rmsprop"}


BAD = {
    "unknown parent": ("when: {optimiser: sgd}", "momentum.when.optimiser: unknown parameter"),
    "parent after": ("when: {late: 1}", "'late' must be listed before 'momentum'"),
    "float parent": ("when: {lr: 0.01}", "a condition needs a categorical or int parameter"),
    "bad value": ("when: {optimizer: sgdd}", "'sgdd' is not one of ['adam', 'sgd']"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_conditions_are_one_line_errors(tmp_path: Path, case: str) -> None:
    when, message = BAD[case]
    path = tmp_path / "study.yaml"
    path.write_text(f"""\
name: cond
objective: {{metric: loss, direction: minimize}}
search_space:
  optimizer: {{type: categorical, choices: [adam, sgd]}}
  lr: {{type: float, low: 1.0e-4, high: 1.0e-1, log: true}}
  momentum: {{type: float, low: 0.0, high: 0.99, {when}}}
  late: {{type: int, low: 1, high: 3}}
trainer: {{command: python -c pass}}
""")
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 2, result.output
    first = result.output.strip().splitlines()[0]
    assert first.startswith(f"error: {path}:") and message in first, result.output
    assert "Traceback" not in result.output


def test_samplers_that_need_every_parameter_refuse_a_conditional_space(tmp_path: Path) -> None:
    path = tmp_path / "study.yaml"
    path.write_text(f"""\
name: cond
objective: {{metric: loss, direction: minimize}}
{SPACE}sampler: {{type: gp}}
trainer: {{command: python -c pass}}
""")
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 2
    assert "sampler 'gp' needs every parameter in every trial" in result.output
