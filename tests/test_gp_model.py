"""hpo's numpy GP is Optuna's GP model: same fit, same posterior, same LogEI.

``tests/data/gp_reference.json`` holds what Optuna's own (torch) GP computed on fixed data
(regenerate with ``tests/data/make_gp_reference.py``); torch is not needed here.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import optimize

from hpo.sampling import gp_acquisition, gp_model

REFERENCE = json.loads((Path(__file__).parent / "data" / "gp_reference.json").read_text())
CASES = {case["name"]: case for case in REFERENCE["cases"]}


@pytest.mark.parametrize("name", list(CASES))
def test_the_fit_matches_optunas_gp(name: str) -> None:
    case = CASES[name]
    x, y = np.array(case["x"]), np.array(case["y"])
    gp = gp_model.fit(x, y, np.array(case["categorical"]))
    np.testing.assert_allclose(gp.hyper.inv_sq_lengths, case["inv_sq_lengths"], rtol=2e-3)
    assert gp.hyper.scale == pytest.approx(case["scale"], rel=2e-3)
    assert gp.hyper.noise == pytest.approx(case["noise"], rel=2e-2, abs=1e-6)
    rows = np.array(case["rows"])
    mean, var = gp.posterior(rows)
    np.testing.assert_allclose(mean, case["mean"], rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(var, case["var"], rtol=1e-3, atol=1e-6)
    log_ei = gp_acquisition.log_ei(gp, rows, float(y.max()))
    np.testing.assert_allclose(log_ei, case["log_ei"], rtol=1e-3, atol=1e-3)


def test_the_likelihood_gradient_is_exact() -> None:
    case = CASES["mixed-categorical"]
    x, y, cat = np.array(case["x"]), np.array(case["y"]), np.array(case["categorical"])
    dist = gp_model.Distances(cat)
    raw = np.array([0.3, -0.2, 0.5, 0.1, -1.0])
    _, grad = gp_model._neg_log_posterior(raw, x, y, dist, False)
    numeric = optimize.approx_fprime(
        raw, lambda r: gp_model._neg_log_posterior(r, x, y, dist, False)[0], 1e-6
    )
    np.testing.assert_allclose(grad, numeric, rtol=1e-4, atol=1e-4)


def test_the_posterior_gradient_is_exact_with_pending_points() -> None:
    case = CASES["continuous-6d"]
    x, y = np.array(case["x"]), np.array(case["y"])
    gp = gp_model.fit(x, y, np.zeros(6, bool)).with_pending(np.array(case["rows"][:3]))
    rows, dims = np.array(case["rows"][3:]), np.ones(6, bool)
    mean, var, dmean, dvar = gp.posterior_grad(rows, dims)
    for k in range(6):
        moved = rows.copy()
        moved[:, k] += 1e-6
        m2, v2 = gp.posterior(moved)
        np.testing.assert_allclose((m2 - mean) / 1e-6, dmean[:, k], rtol=1e-3, atol=1e-4)
        np.testing.assert_allclose((v2 - var) / 1e-6, dvar[:, k], rtol=1e-3, atol=1e-4)


def test_pending_points_take_the_variance_away_but_leave_the_mean() -> None:
    case = CASES["continuous-6d"]
    x, y = np.array(case["x"]), np.array(case["y"])
    gp = gp_model.fit(x, y, np.zeros(6, bool))
    pending = np.array(case["rows"][:2])
    believer = gp.with_pending(pending)
    m0, v0 = gp.posterior(pending)
    m1, v1 = believer.posterior(pending)
    np.testing.assert_allclose(m1, m0)
    assert np.all(v1 < 0.05 * v0)  # a running trial's point is as good as known


def test_log_ei_is_finite_and_monotone_far_into_the_tail() -> None:
    z = np.linspace(-40, 5, 500)
    values = gp_acquisition.log_h(z)
    assert np.all(np.isfinite(values)) and np.all(np.diff(values) > 0)
    mid = z > -5
    exact = np.log(z[mid] * 0.5 * (1 + np.vectorize(__import__("math").erf)(z[mid] / 2**0.5))
                   + np.exp(-z[mid] ** 2 / 2) / (2 * np.pi) ** 0.5)  # fmt: skip
    np.testing.assert_allclose(values[mid], exact, rtol=1e-9)
