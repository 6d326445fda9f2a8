"""Regenerate gp_reference.json: Optuna's own GP (torch) fitted to fixed data.

    python tests/data/make_gp_reference.py      # needs torch (pip install 'hpo[optuna-gp]')

tests/test_gp_model.py checks that hpo's numpy GP fits the same hyperparameters and gives the
same posterior and LogEI, so hpo's GP sampler is Optuna's model without the torch dependency.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from optuna._gp import acqf, gp, prior


def case(
    name: str, x: np.ndarray, y: np.ndarray, categorical: np.ndarray, rows: np.ndarray
) -> dict:
    fitted = gp.fit_kernel_params(
        X=x,
        Y=y,
        is_categorical=categorical,
        log_prior=prior.default_log_prior,
        minimum_noise=prior.DEFAULT_MINIMUM_NOISE_VAR,
        deterministic_objective=False,
    )
    with torch.no_grad():
        mean, var = fitted.posterior(torch.from_numpy(rows))
        log_ei = acqf.logei(mean.clone(), var.clone() + 1e-12, float(y.max()))
    return {
        "name": name,
        "x": x.tolist(),
        "y": y.tolist(),
        "categorical": categorical.tolist(),
        "rows": rows.tolist(),
        "inv_sq_lengths": fitted.inverse_squared_lengthscales.tolist(),
        "scale": float(fitted.kernel_scale),
        "noise": float(fitted.noise_var),
        "mean": mean.tolist(),
        "var": var.tolist(),
        "log_ei": log_ei.tolist(),
    }


def main() -> None:
    rng = np.random.default_rng(0)
    x = rng.random((40, 6))
    y = np.sin(6 * x[:, 0]) + (x[:, 1] - 0.3) ** 2 - x[:, 2] * x[:, 3] + 0.05 * rng.normal(size=40)
    y = (y - y.mean()) / y.std()
    cases = [case("continuous-6d", x, y, np.zeros(6, bool), rng.random((8, 6)))]
    x = rng.random((30, 3))
    x[:, 2] = rng.integers(0, 3, 30)
    y = np.cos(4 * x[:, 0]) * x[:, 1] + np.array([0.0, 0.5, -0.3])[x[:, 2].astype(int)]
    y = (y - y.mean()) / y.std()
    rows = rng.random((8, 3))
    rows[:, 2] = rng.integers(0, 3, 8)
    cases.append(case("mixed-categorical", x, y, np.array([False, False, True]), rows))
    out = Path(__file__).with_name("gp_reference.json")
    out.write_text(json.dumps({"optuna": __import__("optuna").__version__, "cases": cases}))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
