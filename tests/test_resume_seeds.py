"""A seeded study that is killed and resumed continues its sequence: no proposal repeats.

Every ``hpo run`` used to rebuild the sampler with the study file's seed, so each resume
replayed the first proposals (same params, same value: paid trials wasted). The kill here is
an exception raised from a failpoint in the middle of the loop; everything but the storage,
the simulated backend and the object store is then thrown away, as SIGKILL would.
"""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from hpo.backends.simulated import SimulatedBackend
from hpo.controller.clock import FakeClock
from hpo.controller.failpoints import Failpoints
from hpo.controller.loop import Controller
from hpo.spec import build
from hpo.spec.loader import load_study
from hpo.store.local import LocalStore
from tests.sim import default_planner

STUDY = """\
name: seeds
objective: {{metric: loss, direction: minimize}}
search_space:
  x: {{type: float, low: -5, high: 5{step}}}
  y: {{type: float, low: -5, high: 5{step}}}
sampler: {{type: {sampler}, seed: 7}}
budget: {{n_trials: 18, max_parallel: 2}}
trainer: {{command: python -c pass}}
"""


class Killed(Exception):
    """Stands for SIGKILL at a failpoint."""


def kill() -> None:
    raise Killed


def run_with_kills(tmp_path: Path, sampler: str, step: str = "") -> list[optuna.trial.FrozenTrial]:
    path = tmp_path / "seeds.yaml"
    path.write_text(STUDY.format(sampler=sampler, step=step))
    study_file = load_study(path)
    storage = optuna.storages.InMemoryStorage()
    store = LocalStore(tmp_path / "store")
    clock = FakeClock()
    backend = SimulatedBackend(store, default_planner, clock.now, poll_interval=1.0)
    for failpoints in ("after_tell=5", "after_ask=4", None):  # two kills, then to the end
        study = build.create_study(study_file, storage)
        fail = Failpoints(failpoints, action=kill)
        controller = Controller(study, study_file.spec, backend, store, clock=clock,
                                failpoints=fail)  # fmt: skip
        try:
            controller.run()
        except Killed:
            continue
    return build.create_study(study_file, storage).get_trials()


@pytest.mark.parametrize("sampler", ["tpe", "gp", "auto", "random", "qmc"])
def test_a_resumed_seeded_study_never_repeats_a_proposal(tmp_path: Path, sampler: str) -> None:
    trials = run_with_kills(tmp_path, sampler)
    complete = [t for t in trials if t.state is TrialState.COMPLETE]
    assert len(complete) == 18
    points = [(t.params["x"], t.params["y"]) for t in trials]
    assert len(set(points)) == len(points), "a resumed run repeated a proposal"


def test_a_resumed_grid_skips_the_points_already_run(tmp_path: Path) -> None:
    trials = run_with_kills(tmp_path, "grid", step=", step: 2.5")  # 5 x 5 points
    points = [(t.params["x"], t.params["y"]) for t in trials]
    assert len(trials) == 18 and len(set(points)) == 18


def test_the_derived_seed_changes_with_the_history_only() -> None:
    assert build.derived_seed(7, 0) == 7  # a fresh study runs the file's seed as given
    assert build.derived_seed(7, 5) == 12
    assert build.derived_seed(None, 5) is None
