"""``sampler: {type: auto}``: what it chooses, that the choice is recorded and kept on resume,
and that a GP study hands over to TPE once its history is long."""

from __future__ import annotations

from pathlib import Path

import optuna
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from hpo import attrs
from hpo.sampling import auto
from hpo.sampling.gp import GPSampler
from hpo.sampling.tpe import CachingTPESampler
from hpo.spec import build
from hpo.spec.loader import load_study

NUMERIC = {"lr": FloatDistribution(1e-5, 1e-1, log=True), "width": IntDistribution(16, 1024)}
COARSE = {
    "optimizer": CategoricalDistribution(["adam", "sgd"]),
    "depth": IntDistribution(1, 4),
    "lr": FloatDistribution(1e-5, 1e-1, log=True),
}


def test_numeric_spaces_get_the_gp_and_long_studies_hand_over_to_tpe() -> None:
    short = auto.choose(NUMERIC, n_objectives=1, n_trials=200)
    assert (short.sampler, short.tpe_after) == ("gp", None)
    long = auto.choose(NUMERIC, n_objectives=1, n_trials=5000)
    assert (long.sampler, long.tpe_after) == ("gp", auto.GP_MAX_TRIALS)
    assert "TPE after 1000 finished trials" in long.describe()


def test_several_objectives_and_coarse_spaces_get_tpe_with_the_reason() -> None:
    multi = auto.choose(NUMERIC, n_objectives=2, n_trials=100)
    assert multi.sampler == "tpe" and "2 objectives" in multi.reason
    coarse = auto.choose(COARSE, n_objectives=1, n_trials=100)
    assert coarse.sampler == "tpe" and "2 of 3 parameters categorical" in coarse.reason
    assert auto.levels(IntDistribution(0, 8, step=2)) == 5
    assert auto.levels(FloatDistribution(-5, 15, step=0.5)) == 41


def test_the_choice_round_trips_through_the_study_attributes() -> None:
    choice = auto.Choice("gp", "why", 1000)
    assert auto.Choice.from_attr(choice.as_attr()) == choice
    assert auto.Choice.from_attr({"sampler": "bogus"}) is None
    assert auto.Choice.from_attr(None) is None


def test_a_gp_study_switches_to_tpe_after_its_gp_budget() -> None:
    gp = GPSampler(seed=0, search_space=NUMERIC, n_startup_trials=2)
    tpe = CachingTPESampler(seed=0, n_startup_trials=2)
    sampler = auto.AutoSampler(auto.Choice("gp", "test", tpe_after=4), gp=gp, tpe=tpe)
    study = optuna.create_study(sampler=sampler)
    used = []
    for _ in range(7):
        used.append(sampler.active(study))
        trial = study.ask(NUMERIC)
        study.tell(trial, trial.params["lr"] * trial.params["width"])
    assert used == [gp] * 4 + [tpe] * 3


STUDY = """\
name: auto
objective: {metric: loss, direction: minimize}
search_space:
  x: {type: float, low: 0, high: 1}
  y: {type: float, low: 0, high: 1}
sampler: {type: auto, seed: 1}
trainer: {command: python -c pass}
"""


def test_a_resumed_study_keeps_the_choice_its_first_run_recorded(tmp_path: Path) -> None:
    path = tmp_path / "auto.yaml"
    path.write_text(STUDY)
    file = load_study(path)
    storage = optuna.storages.InMemoryStorage()
    first = build.create_study(file, storage)
    assert build.record_sampler(first, file.spec).startswith("auto -> gp")
    recorded = first.user_attrs[attrs.STUDY_SAMPLER]
    assert recorded["sampler"] == "gp" and recorded["type"] == "auto"
    # a later hpo (or a run with other defaults) would choose differently: the study keeps
    # what it started with
    first.set_user_attr(attrs.STUDY_SAMPLER, auto.Choice("tpe", "recorded earlier").as_attr())
    resumed = build.create_study(file, storage)
    assert isinstance(resumed.sampler, auto.AutoSampler)
    assert resumed.sampler.choice == auto.Choice("tpe", "recorded earlier")
    assert build.record_sampler(resumed, file.spec) == "auto -> tpe (recorded earlier)"
