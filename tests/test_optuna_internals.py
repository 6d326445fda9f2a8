"""The pieces of Optuna's private API that hpo uses (``hpo.optuna_internals``), each checked
against the Optuna installed here; ``SUPPORTED`` is the range ``pyproject.toml`` pins.

When Optuna is upgraded past that range, these tests (with ``test_tpe_cache.py``, which
compares hpo's TPE with Optuna's proposal for proposal) say which piece moved.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import optuna
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState
from packaging.requirements import Requirement
from packaging.version import Version

from hpo import optuna_internals as oi
from hpo.storage import GroupCommitJournalFile, open_storage

REPO = Path(__file__).resolve().parents[1]
SPACE = {"x": FloatDistribution(-5, 5), "y": FloatDistribution(0, 1)}


def _pinned() -> Requirement:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return next(r for r in map(Requirement, project["dependencies"]) if r.name == "optuna")


def test_the_supported_range_is_the_pinned_one_and_holds_this_optuna() -> None:
    pinned = _pinned().specifier
    assert str(pinned) == str(Requirement(f"optuna{oi.SUPPORTED}").specifier)
    assert Version(optuna.__version__) in pinned


def test_a_stored_running_trial_reopens_as_a_live_trial() -> None:
    study = optuna.create_study()
    asked = study.ask(SPACE)
    frozen = study.get_trials(states=(TrialState.RUNNING,))[0]
    assert oi.trial_id(frozen) == oi.trial_id(asked)
    again = oi.reopen_trial(study, frozen)
    again.report(1.0, 0)
    again.set_user_attr("k", "v")
    study.tell(again, 0.5)
    [done] = study.get_trials()
    assert done.state is TrialState.COMPLETE and done.params == asked.params
    assert done.intermediate_values == {0: 1.0} and done.user_attrs == {"k": "v"}


def test_a_study_is_known_by_its_storage_and_id(tmp_path: Path) -> None:
    storage = open_storage(str(tmp_path / "s.journal"))
    one = optuna.create_study(storage=storage, study_name="one")
    two = optuna.create_study(storage=storage, study_name="two")
    again = optuna.load_study(storage=storage, study_name="one")
    assert oi.storage_of(one) is storage
    assert oi.study_key(one) == oi.study_key(again) != oi.study_key(two)


def test_a_journal_storage_shows_its_file_backend(tmp_path: Path) -> None:
    backend = oi.journal_backend(open_storage(str(tmp_path / "s.journal")))
    assert isinstance(backend, GroupCommitJournalFile)
    assert oi.journal_backend(optuna.storages.InMemoryStorage()) is None
    assert oi.journal_backend(open_storage(f"sqlite:///{tmp_path / 'db.sqlite'}")) is None


def test_cached_trials_are_the_studys_trials() -> None:
    study = optuna.create_study()
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=4)
    study.ask(SPACE)
    every = oi.cached_trials(study)
    complete = oi.cached_trials(study, (TrialState.COMPLETE,), use_cache=False)
    assert [t.number for t in every] == [0, 1, 2, 3, 4]
    assert [t.number for t in complete] == [0, 1, 2, 3]


def test_tpe_ranks_infeasible_and_pruned_trials_as_optuna_does() -> None:
    study = optuna.create_study()
    feasible = optuna.trial.create_trial(
        params={}, distributions={}, value=1.0, system_attrs={"constraints": [-1.0, 0.0]}
    )
    infeasible = optuna.trial.create_trial(
        params={}, distributions={}, value=1.0, system_attrs={"constraints": [0.5, 2.0]}
    )
    assert oi.infeasible_score(feasible) == 0 and oi.infeasible_score(infeasible) == 2.5
    late, early = (
        optuna.trial.create_trial(state=TrialState.PRUNED, intermediate_values=steps)
        for steps in ({0: 3.0, 5: 2.0}, {0: 1.0})
    )
    assert oi.pruned_score(late, study) < oi.pruned_score(early, study)  # further is better


def _proposals(sampler: optuna.samplers.BaseSampler) -> list[dict[str, float]]:
    study = optuna.create_study(sampler=sampler)
    out = []
    for _ in range(25):
        trial = study.ask(SPACE)
        out.append(trial.params)
        study.tell(trial, (trial.params["x"] - 1) ** 2 + trial.params["y"])
    return out


def test_the_hooked_tpe_step_is_optunas_step() -> None:
    """Hooking the per-ask step changes nothing, and its pieces are the step's own."""
    kwargs = {"seed": 3, "n_startup_trials": 5, "multivariate": True, "constant_liar": True}
    hooked = oi.HookedTPESampler(**kwargs)
    assert _proposals(hooked) == _proposals(optuna.samplers.TPESampler(**kwargs))
    assert hooked.constant_liar and hooked.gamma()(100) == 10
    assert hooked.intersection_space(optuna.create_study())
    below = hooked.parzen_estimator({"x": [0.5, 1.0], "y": [0.1, 0.2]}, SPACE)
    above = hooked.parzen_estimator({"x": [-4.0, 4.0], "y": [0.9, 0.8]}, SPACE)
    best = hooked.pick(below, above)
    assert set(best) == set(SPACE) and abs(best["x"]) < 3
