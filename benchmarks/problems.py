"""Test problems for the search-quality benchmark: three classic functions and two real
scikit-learn tuning tasks (CV error tabulated once over a grid, then looked up)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from itertools import product
from pathlib import Path
from typing import Any

import numpy as np

TABLES = Path(__file__).parent / "data"


@dataclass(frozen=True)
class Problem:
    """A minimisation problem: a search space (hpo YAML form), an objective and its optimum."""

    name: str
    space: dict[str, dict[str, Any]]
    objective: Callable[[Mapping[str, Any]], float]
    optimum: float
    n_trials: int


def _floats(names: list[str], low: float, high: float) -> dict[str, dict[str, Any]]:
    return {n: {"type": "float", "low": low, "high": high} for n in names}


def branin(p: Mapping[str, Any]) -> float:
    x1, x2 = p["x1"], p["x2"]
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


_H6_A = np.array(
    [
        [10, 3, 17, 3.5, 1.7, 8],
        [0.05, 10, 17, 0.1, 8, 14],
        [3, 3.5, 1.7, 10, 17, 8],
        [17, 8, 0.05, 10, 0.1, 14],
    ]
)
_H6_P = 1e-4 * np.array(
    [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ]
)
_H6_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])


def hartmann6(p: Mapping[str, Any]) -> float:
    x = np.array([p[f"x{i}"] for i in range(6)])
    return float(-np.sum(_H6_ALPHA * np.exp(-np.sum(_H6_A * (x - _H6_P) ** 2, axis=1))))


def styblinski_tang(p: Mapping[str, Any]) -> float:
    x = np.array([p[f"x{i}"] for i in range(10)])
    return float(0.5 * np.sum(x**4 - 16 * x**2 + 5 * x))


# ----------------------------------------------------------------- tabulated sklearn tasks


def _steps(low: float, high: float, step: float) -> list[float]:
    return [low + i * step for i in range(round((high - low) / step) + 1)]


SVC_GRID = {"log2_C": _steps(-5, 15, 0.5), "log2_gamma": _steps(-15, 3, 0.5)}
HGB_GRID = {  # max_leaf_nodes 2**k - 1, min_samples_leaf 4**k, l2_regularization L2[k]
    "log2_learning_rate": _steps(-8, 0, 1),
    "leaves_exp": _steps(2, 6, 1),
    "min_leaf_exp": _steps(0, 4, 1),
    "l2_exp": _steps(0, 4, 1),
}
L2 = [0.0, 0.01, 0.1, 1.0, 10.0]


def _svc_error(config: Mapping[str, Any]) -> float:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    x, y = load_digits(return_X_y=True)
    model = make_pipeline(
        StandardScaler(), SVC(C=2.0 ** config["log2_C"], gamma=2.0 ** config["log2_gamma"])
    )
    return 1.0 - float(np.mean(cross_val_score(model, x, y, cv=3, n_jobs=-1)))


def _hgb_logloss(config: Mapping[str, Any]) -> float:
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    x, y = load_breast_cancer(return_X_y=True)
    model = HistGradientBoostingClassifier(
        learning_rate=2.0 ** config["log2_learning_rate"],
        max_leaf_nodes=2 ** int(config["leaves_exp"]) - 1,
        min_samples_leaf=4 ** int(config["min_leaf_exp"]),
        l2_regularization=L2[int(config["l2_exp"])],
        max_iter=100,
        random_state=0,
    )
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    scores = cross_val_score(model, x, y, cv=cv, scoring="neg_log_loss", n_jobs=-1)
    return -float(np.mean(scores))


def _key(config: Mapping[str, Any], names: list[str]) -> str:
    return ",".join(f"{float(config[n]):g}" for n in names)


def tabulate(
    name: str, grid: Mapping[str, list[Any]], evaluate: Callable[[Mapping[str, Any]], float]
) -> dict[str, float]:
    """The objective over the whole grid, computed once and kept in ``data/<name>.json``."""
    path = TABLES / f"{name}.json"
    if path.exists():
        return json.loads(path.read_text())["values"]
    names = list(grid)
    values = {}
    for combo in product(*grid.values()):
        config = dict(zip(names, combo, strict=True))
        values[_key(config, names)] = evaluate(config)
    TABLES.mkdir(exist_ok=True)
    path.write_text(json.dumps({"grid": grid, "values": values}, indent=0))
    return values


def _table_problem(
    name: str, grid: Mapping[str, list[float]], evaluate: Callable[..., float], n_trials: int
) -> Problem:
    """A tabulated task; every grid axis is evenly spaced (an exponent, maybe in half steps)."""
    table = tabulate(name, grid, evaluate)
    names = list(grid)
    space = {n: {"type": "int", "low": int(v[0]), "high": int(v[-1])}
             if all(float(x).is_integer() for x in v) and v[1] - v[0] == 1
             else {"type": "float", "low": v[0], "high": v[-1], "step": v[1] - v[0]}
             for n, v in grid.items()}  # fmt: skip
    return Problem(name, space, lambda p: table[_key(p, names)], min(table.values()), n_trials)


def problems(names: list[str] | None = None) -> list[Problem]:
    """The benchmark's problems (all, or those named)."""
    build = {
        "branin": lambda: Problem(
            "branin", {**_floats(["x1"], -5, 10), **_floats(["x2"], 0, 15)}, branin, 0.397887, 100
        ),
        "hartmann6": lambda: Problem(
            "hartmann6", _floats([f"x{i}" for i in range(6)], 0, 1), hartmann6, -3.32237, 250
        ),
        "styblinski_tang10": lambda: Problem(
            "styblinski_tang10",
            _floats([f"x{i}" for i in range(10)], -5, 5),
            styblinski_tang,
            -39.16617 * 10,
            400,
        ),
        "svc_digits": lambda: _table_problem("svc_digits", SVC_GRID, _svc_error, 80),
        "hgb_breast_cancer": lambda: _table_problem(
            "hgb_breast_cancer", HGB_GRID, _hgb_logloss, 100
        ),
    }
    return [build[n]() for n in (names or list(build))]
