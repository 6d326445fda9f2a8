"""CachingTPESampler proposes exactly what Optuna's TPESampler proposes, ask for ask."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import Trial

from hpo.sampling.tpe import CachingTPESampler

SPACE = {
    "lr": FloatDistribution(1e-5, 1e-1, log=True),
    "layers": IntDistribution(1, 8),
    "dropout": FloatDistribution(0.0, 0.5, step=0.05),
    "optimizer": CategoricalDistribution(["adam", "sgd", "rmsprop"]),
}


def loss(p: dict[str, Any]) -> float:
    bonus = {"adam": 0.0, "sgd": 0.3, "rmsprop": 0.1}[p["optimizer"]]
    return (math.log10(p["lr"]) + 3) ** 2 + 0.1 * (p["layers"] - 4) ** 2 + p["dropout"] + bonus


def suggest(trial: Trial, dynamic: bool) -> dict[str, Any]:
    """The fixed space; when ``dynamic``, a parameter only some trials have, and other ranges
    in trials that will fail (ignored by the search space) or be pruned (which narrow it)."""
    space = dict(SPACE)
    if dynamic and trial.number % 11 == 10:
        space["layers"] = IntDistribution(1, 4)
    elif dynamic and trial.number in (14, 29):
        space["dropout"] = FloatDistribution(0.0, 0.3)
    params = {name: trial._suggest(name, dist) for name, dist in space.items()}
    if dynamic and params["optimizer"] == "sgd":
        params["momentum"] = trial.suggest_float("momentum", 0.0, 0.99)
    return params


def finish(study: optuna.Study, trial: Trial, params: dict[str, Any], step: int) -> None:
    """Complete most trials; prune every fifth after a few reports; fail every eleventh."""
    value = loss(params)
    if trial.number % 11 == 10:
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
    elif trial.number % 5 == 4:
        for s in range(1 + step % 4):
            trial.report(value + 1.0 / (s + 1), s)
            trial.should_prune()  # asks the study's pruner (Hyperband sets up its brackets)
        study.tell(trial, state=optuna.trial.TrialState.PRUNED)
    else:
        study.tell(trial, value)


Proposals = list[dict[str, Any]]
MakeSampler = Callable[[type[optuna.samplers.TPESampler]], optuna.samplers.BaseSampler]


def twin_runs(make: MakeSampler, n_trials: int, parallel: int, direction: str = "minimize",
              dynamic: bool = False, pruner: Callable[[], optuna.pruners.BasePruner] | None = None,
              ) -> tuple[Proposals, Proposals]:  # fmt: skip
    """The same ask/tell sequence (``parallel`` trials in flight) with each sampler."""
    out = []
    for cls in (optuna.samplers.TPESampler, CachingTPESampler):
        study = optuna.create_study(  # one name: Hyperband's brackets hash it
            study_name="twin", sampler=make(cls), direction=direction,
            pruner=pruner() if pruner else None,
        )  # fmt: skip
        running: list[tuple[Trial, dict[str, Any]]] = []
        proposed = []
        for i in range(n_trials):
            trial = study.ask()
            params = suggest(trial, dynamic)
            proposed.append(params)
            running.append((trial, params))
            if len(running) == parallel:
                done = running.pop(i % parallel)  # not always the oldest
                finish(study, *done, step=i)
        out.append(proposed)
    return out[0], out[1]


@pytest.fixture(autouse=True)
def _quiet() -> None:
    optuna.logging.set_verbosity(optuna.logging.ERROR)


@pytest.mark.parametrize("direction", ["minimize", "maximize"])
@pytest.mark.parametrize("parallel", [1, 8])
def test_hpo_defaults_propose_the_same_params(direction: str, parallel: int) -> None:
    kwargs = {"seed": 3, "n_startup_trials": 5, "multivariate": True, "constant_liar": True}
    upstream, cached = twin_runs(lambda cls: cls(**kwargs), 70, parallel, direction)
    assert cached == upstream


@pytest.mark.parametrize(
    "kwargs",
    [
        {"multivariate": False, "constant_liar": False},
        {"multivariate": False, "constant_liar": True},
        {"multivariate": True, "constant_liar": False},
        {"multivariate": True, "constant_liar": True, "group": True},
    ],
    ids=["independent", "independent-liar", "multivariate", "group"],
)
def test_other_tpe_modes_and_a_dynamic_space_propose_the_same_params(
    kwargs: dict[str, Any],
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # group is experimental
        upstream, cached = twin_runs(
            lambda cls: cls(seed=5, n_startup_trials=4, **kwargs), 60, 4, dynamic=True
        )
    assert any("momentum" in p for p in cached[4:])
    assert cached == upstream


def test_infeasible_trials_are_split_like_optuna() -> None:
    def constraints(trial: optuna.trial.FrozenTrial) -> list[float]:
        return [trial.params["layers"] - 2.0]  # most trials infeasible

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # constraints_func is deprecated in Optuna 5
        upstream, cached = twin_runs(
            lambda cls: cls(seed=7, n_startup_trials=5, constraints_func=constraints), 60, 4
        )
    assert cached == upstream


def test_hyperband_bracket_studies_propose_the_same_params() -> None:
    """With Hyperband, Optuna hands the sampler a restricted bracket-study wrapper (once the
    pruner has set up its brackets); the cache must work through it."""
    kwargs = {"seed": 3, "n_startup_trials": 4, "multivariate": True, "constant_liar": True}
    upstream, cached = twin_runs(
        lambda cls: cls(**kwargs), 80, 4, dynamic=True,
        pruner=lambda: optuna.pruners.HyperbandPruner(1, 9, 3),
    )  # fmt: skip
    assert cached == upstream


def test_one_sampler_moving_to_another_study_starts_a_fresh_cache() -> None:
    """Trial ids restart in a new in-memory storage; stale cache rows would change proposals."""
    proposals = []
    for cls in (optuna.samplers.TPESampler, CachingTPESampler):
        sampler = cls(seed=11, n_startup_trials=3, multivariate=True, constant_liar=True)
        seen = []
        for shift in (0.0, 5.0):
            study = optuna.create_study(sampler=sampler)
            for _ in range(25):
                trial = study.ask()
                params = suggest(trial, dynamic=False)
                study.tell(trial, loss(params) + shift * params["layers"])
                seen.append(params)
        proposals.append(seen)
    assert proposals[1] == proposals[0]


@pytest.mark.parametrize("direction", ["minimize", "maximize"])
@pytest.mark.parametrize("n_complete", [0, 3, 40])
def test_split_matches_optuna_on_every_kind_of_trial(direction: str, n_complete: int) -> None:
    """Ties, pruned trials at different steps, infeasible and running trials, in any order."""
    from optuna.samplers._tpe.sampler import _split_trials
    from optuna.trial import TrialState, create_trial

    study = optuna.create_study(direction=direction)
    params, dists = {"layers": 3}, {"layers": SPACE["layers"]}
    kinds = ["complete"] * n_complete + ["pruned"] * 12 + ["infeasible"] * 10 + ["running"] * 5
    for i, kind in enumerate(sorted(kinds, key=lambda k: hash((k, 17)) % 7)):
        value = float(i % 4)  # many ties
        attrs = {"constraints": [1.0 + i % 3]} if kind == "infeasible" else {"constraints": [0.0]}
        state = {"complete": TrialState.COMPLETE, "infeasible": TrialState.COMPLETE,
                 "pruned": TrialState.PRUNED, "running": TrialState.RUNNING}[kind]  # fmt: skip
        steps = {s: value + s for s in range(i % 5)} if kind == "pruned" else {}
        study.add_trial(create_trial(state=state, value=value if state == TrialState.COMPLETE
                                     else None, params=params, distributions=dists,
                                     intermediate_values=steps, system_attrs=attrs))  # fmt: skip
    trials = study.get_trials(deepcopy=False)
    sampler = CachingTPESampler(seed=0)
    sampler._gamma = optuna.samplers._tpe.sampler.default_gamma
    for n_below_of in (lambda n: 0, lambda n: min(n, 25), lambda n: n + 3, lambda n: 8):
        sampler._gamma = n_below_of
        finished = sum(t.state != TrialState.RUNNING for t in trials)
        expected = _split_trials(study, trials, n_below_of(finished))
        for _ in range(2):  # the second split reads the cache
            below, above = sampler._split(sampler._ledger.slots(trials, study))
            assert [trials[i].number for i in below] == [t.number for t in expected[0]]
            assert [trials[i].number for i in above] == [t.number for t in expected[1]]


def test_multi_objective_studies_take_optunas_path_unchanged() -> None:
    def objective(trial: Trial) -> tuple[float, float]:
        p = suggest(trial, dynamic=False)
        return loss(p), float(p["layers"])

    proposals = []
    for cls in (optuna.samplers.TPESampler, CachingTPESampler):
        study = optuna.create_study(directions=["minimize", "minimize"], sampler=cls(seed=2))
        study.optimize(objective, n_trials=30)
        proposals.append([t.params for t in study.trials])
    assert proposals[1] == proposals[0]
