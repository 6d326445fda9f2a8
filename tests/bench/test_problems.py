"""Search-quality problems: the optima are right and every point of a table task resolves."""

from __future__ import annotations

import math

import numpy as np
import optuna
import pytest

from benchmarks.problems import branin, hartmann6, problems, styblinski_tang
from benchmarks.search_quality import batch_makespan, known_share
from benchmarks.simstudy import make_spec
from hpo.spec import build


def test_the_analytic_optima() -> None:
    assert branin({"x1": math.pi, "x2": 2.275}) == pytest.approx(0.397887, abs=1e-6)
    best = [0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573]
    assert hartmann6({f"x{i}": v for i, v in enumerate(best)}) == pytest.approx(-3.32237, abs=1e-5)
    st = styblinski_tang({f"x{i}": -2.903534 for i in range(10)})
    assert st == pytest.approx(-391.6617, abs=1e-3)


@pytest.mark.parametrize("name", ["svc_digits", "hgb_breast_cancer"])
def test_every_sampled_point_of_a_table_task_has_a_value(name: str) -> None:
    problem = problems([name])[0]
    spec = make_spec(name, problem.space, 10, 1, 0)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    values = [problem.objective(study.ask(build.distributions(spec)).params) for _ in range(200)]
    assert min(values) >= problem.optimum and all(np.isfinite(values))


def test_the_synchronous_loop_waits_for_the_slowest_job_of_each_batch() -> None:
    assert batch_makespan(np.array([1.0, 5.0, 2.0, 2.0, 3.0]), 2) == 5 + 2 + 3


def test_known_share_is_what_each_ask_could_use_of_the_trials_before_it() -> None:
    sequential = known_share(asked=[0, 1, 2, 3], ended=[1, 2, 3, 4])
    assert sequential == 1.0
    all_at_once = known_share(asked=[0, 0, 0, 0], ended=[5, 6, 7, 8])
    assert all_at_once == 0.0
    # two slots: the third ask sees one of two earlier results, the fourth two of three
    assert known_share(asked=[0, 0, 1, 2], ended=[1, 2, 3, 4]) == pytest.approx(
        (0 + 1 / 2 + 2 / 3) / 3
    )
