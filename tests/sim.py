"""A controller on the simulated backend with a fake clock: the real loop, no processes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna

from hpo.backends.base import JobSpec
from hpo.backends.simulated import SimPlan, SimulatedBackend
from hpo.controller.clock import FakeClock
from hpo.controller.loop import Controller
from hpo.spec.loader import parse_spec
from hpo.spec.models import StudySpec
from hpo.store.local import LocalStore

SIM_STUDY = """\
name: sim
objective: {metric: loss, direction: minimize}
search_space:
  x: {type: float, low: -5, high: 5}
  y: {type: float, low: -5, high: 5}
sampler: {type: tpe, seed: 0, n_startup_trials: 5}
trainer: {command: [unused]}
"""


def quadratic(params: Mapping[str, Any]) -> float:
    return (params["x"] - 1.0) ** 2 + (params["y"] + 2.0) ** 2


def default_planner(job: JobSpec, params: Mapping[str, Any]) -> SimPlan:
    return SimPlan(duration=10.0, result={"value": quadratic(params)})


@dataclass
class SimRig:
    """Everything a controller test needs; ``controller()`` builds a fresh controller."""

    spec: StudySpec
    storage: optuna.storages.BaseStorage
    store: LocalStore
    clock: FakeClock
    backend: SimulatedBackend

    def study(self) -> optuna.Study:
        return optuna.create_study(
            storage=self.storage,
            study_name=self.spec.name,
            sampler=optuna.samplers.TPESampler(seed=0, n_startup_trials=5),
            pruner=_pruner(self.spec),
            load_if_exists=True,
            direction="minimize",
        )

    def controller(self, **kwargs: Any) -> Controller:
        return Controller(
            self.study(), self.spec, self.backend, self.store, clock=self.clock, **kwargs
        )


def _pruner(spec: StudySpec) -> optuna.pruners.BasePruner:
    from hpo.spec.build import pruner

    return pruner(spec.pruner)


def make_rig(
    tmp_path: Path,
    extra: str = "",
    planner: Callable[[JobSpec, Mapping[str, Any]], SimPlan] = default_planner,
    poll_interval: float = 1.0,
) -> SimRig:
    spec = parse_spec(SIM_STUDY + extra)
    store = LocalStore(tmp_path / "store")
    clock = FakeClock()
    backend = SimulatedBackend(store, planner, clock.now, poll_interval=poll_interval)
    return SimRig(spec, optuna.storages.InMemoryStorage(), store, clock, backend)
