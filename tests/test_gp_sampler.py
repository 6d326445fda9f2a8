"""hpo's GP sampler: valid proposals in every kind of space, spread over running trials,
no repeats on a grid, a start-up sequence that a resume continues, and real search."""

from __future__ import annotations

import itertools
import math

import numpy as np
import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from hpo.sampling.gp import GPSampler
from hpo.sampling.gp_space import UnitSpace

MIXED = {
    "lr": FloatDistribution(1e-5, 1e-1, log=True),
    "dropout": FloatDistribution(0.0, 0.5, step=0.05),
    "layers": IntDistribution(1, 8),
    "width": IntDistribution(16, 1024, log=True),
    "optimizer": CategoricalDistribution(["adam", "sgd", "rmsprop"]),
}


def mixed_loss(p: dict) -> float:
    bonus = {"adam": 0.0, "sgd": 0.3, "rmsprop": 0.1}[p["optimizer"]]
    shape = (math.log10(p["lr"]) + 3) ** 2 + 0.1 * (p["layers"] - 4) ** 2
    return shape + (p["dropout"] - 0.2) ** 2 + (math.log2(p["width"]) - 7) ** 2 / 10 + bonus


def study_with(sampler: GPSampler) -> optuna.Study:
    return optuna.create_study(sampler=sampler)


def test_proposals_are_valid_in_a_mixed_space_with_running_trials() -> None:
    study = study_with(GPSampler(seed=0, search_space=MIXED, n_startup_trials=5))
    running = []
    for _ in range(40):
        trial = study.ask(MIXED)
        for name, dist in MIXED.items():
            assert dist._contains(dist.to_internal_repr(trial.params[name])), (name, trial.params)
        running.append(trial)
        if len(running) == 6:  # six in flight, the oldest finishes first
            done = running.pop(0)
            study.tell(done, mixed_loss(done.params))
    best = study.best_value
    random_best = min(mixed_loss(t.params) for t in study.trials[:5])
    assert best < random_best


def test_asks_with_trials_running_spread_out_instead_of_piling_up() -> None:
    space = {"x": FloatDistribution(-5, 5), "y": FloatDistribution(-5, 5)}
    history = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    for _ in range(15):
        t = history.ask(space)
        history.tell(t, (t.params["x"] - 1) ** 2 + (t.params["y"] + 2) ** 2)

    def batch(pending: bool) -> np.ndarray:
        study = optuna.create_study(sampler=GPSampler(seed=0, search_space=space))
        study.add_trials(history.trials)
        points = []
        for _ in range(8):
            t = study.ask(space)
            points.append((t.params["x"], t.params["y"]))
            if not pending:  # the same history each time: as if nothing were running
                study.tell(t, state=optuna.trial.TrialState.FAIL)
        return np.array(points)

    def crowded(points: np.ndarray) -> int:
        """How many of the points have another one within 0.05 (0.5% of the range)."""
        near = {k for (i, a), (j, b) in itertools.combinations(enumerate(points), 2)
                for k in (i, j) if np.linalg.norm(a - b) < 0.05}  # fmt: skip
        return len(near)

    assert crowded(batch(pending=False)) == 8  # the same optimum, eight times
    assert crowded(batch(pending=True)) <= 3  # a few refinements near it; the rest elsewhere


def test_a_small_grid_is_covered_before_any_point_repeats() -> None:
    space = {"a": IntDistribution(0, 2), "b": CategoricalDistribution(["p", "q", "r"])}
    study = study_with(GPSampler(seed=3, search_space=space, n_startup_trials=2))
    seen = []
    for _ in range(9):
        t = study.ask(space)
        seen.append((t.params["a"], t.params["b"]))
        study.tell(t, t.params["a"] + {"p": 0, "q": 1, "r": 2}[t.params["b"]])
    assert len(set(seen)) == 9


def test_start_up_points_follow_one_sobol_sequence_by_trial_number() -> None:
    space = {"x": FloatDistribution(0, 1), "y": FloatDistribution(0, 1)}
    first = study_with(GPSampler(seed=5, search_space=space))
    points = []
    for _ in range(4):
        t = first.ask(space)
        points.append((t.params["x"], t.params["y"]))
    # a new sampler (a resumed run) on the same study continues the sequence
    first.sampler = GPSampler(seed=5, search_space=space)
    for _ in range(4):
        t = first.ask(space)
        points.append((t.params["x"], t.params["y"]))
    expected = UnitSpace(space).sobol(8, seed=5)
    np.testing.assert_allclose(np.array(points), expected)


def test_the_same_seed_and_history_give_the_same_proposals() -> None:
    def proposals() -> list[dict]:
        study = study_with(GPSampler(seed=11, search_space=MIXED, n_startup_trials=4))
        out = []
        for _ in range(10):
            t = study.ask(MIXED)
            study.tell(t, mixed_loss(t.params))
            out.append(t.params)
        return out

    assert proposals() == proposals()


def test_it_finds_the_optimum_of_a_smooth_function() -> None:
    """Branin in 40 sequential trials (regret below 0.01; random search: about 0.5)."""
    space = {"x1": FloatDistribution(-5, 10), "x2": FloatDistribution(0, 15)}

    def branin(p: dict) -> float:
        x1, x2 = p["x1"], p["x2"]
        b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
        return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10

    study = study_with(GPSampler(seed=0, search_space=space))
    for _ in range(40):
        t = study.ask(space)
        study.tell(t, branin(t.params))
    assert study.best_value - 0.397887 < 0.01


def test_infinite_values_do_not_break_the_fit() -> None:
    space = {"x": FloatDistribution(0, 1)}
    study = study_with(GPSampler(seed=0, search_space=space, n_startup_trials=3))
    for i in range(8):
        t = study.ask(space)
        study.tell(t, math.inf if i == 1 else (t.params["x"] - 0.3) ** 2)
    assert 0 <= study.ask(space).params["x"] <= 1


def test_several_objectives_are_refused() -> None:
    space = {"x": FloatDistribution(0, 1)}
    study = optuna.create_study(directions=["minimize", "minimize"],
                                sampler=GPSampler(seed=0, search_space=space))  # fmt: skip
    with pytest.raises(ValueError, match="one objective"):
        study.ask(space)
