"""Where to evaluate next: log expected improvement under a GP, maximised over the cube.

With constraints, each one has a GP of its own and the acquisition adds the log probability
that the point meets it (Optuna's LogCEI); before any trial is feasible only that
probability counts. The search follows Optuna's GP sampler: score many quasi-random
candidates, refine the best few with L-BFGS-B along the continuous dimensions (analytic
gradients), snap discrete dimensions to their grids and improve them one coordinate at a
time. A point that is already a trial (finished or running) is never proposed again while
another candidate is left: on a finite grid the model's favourite is often one it has seen.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize, special

from hpo.sampling.gp_model import GP
from hpo.sampling.gp_space import UnitSpace

_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


def log_h(z: np.ndarray) -> np.ndarray:
    """log(z Φ(z) + φ(z)), the log of EI for unit variance, accurate far into the tail."""
    z = np.asarray(z, dtype=float)
    out = np.empty_like(z)
    mid = z > -5.0
    zm = z[mid]
    out[mid] = np.log(np.maximum(zm * special.ndtr(zm) + np.exp(-0.5 * zm * zm - _LOG_SQRT_2PI),
                                 1e-300))  # fmt: skip
    zt = z[~mid]  # z Φ(z) + φ(z) = φ(z) (1 + z Φ(z)/φ(z)), with Φ/φ from erfcx
    ratio = zt * math.sqrt(math.pi / 2) * special.erfcx(-zt / math.sqrt(2))
    out[~mid] = -0.5 * zt * zt - _LOG_SQRT_2PI + np.log(np.maximum(1.0 + ratio, 1e-300))
    return out


def log_ei(gp: GP, rows: np.ndarray, best: float) -> np.ndarray:
    mean, var = gp.posterior(rows)
    sd = np.sqrt(var)
    return log_h((mean - best) / sd) + np.log(sd)


@dataclass(frozen=True)
class Constraint:
    """A constraint's GP (standardised violations) and where zero violation lies on it."""

    gp: GP
    threshold: float


@dataclass(frozen=True)
class Acquisition:
    """LogEI over ``best`` (``None``: nothing feasible yet), plus log P(feasible)."""

    gp: GP
    best: float | None
    constraints: Sequence[Constraint] = ()

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        out = log_ei(self.gp, rows, self.best) if self.best is not None else np.zeros(len(rows))
        for c in self.constraints:
            mean, var = c.gp.posterior(rows)
            out = out + special.log_ndtr((c.threshold - mean) / np.sqrt(var))
        return out

    def with_grad(self, rows: np.ndarray, dims: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The acquisition at ``rows`` and its gradient along ``dims``."""
        value, grad = np.zeros(len(rows)), np.zeros((len(rows), int(dims.sum())))
        if self.best is not None:
            mean, var, dmean, dvar = self.gp.posterior_grad(rows, dims)
            sd = np.sqrt(var)
            z = (mean - self.best) / sd
            lh = log_h(z)
            dlh = np.exp(special.log_ndtr(z) - lh)  # d/dz log h(z) = Φ(z) / h(z)
            dsd = dvar / (2.0 * sd[:, None])
            dz = dmean / sd[:, None] - (z / sd)[:, None] * dsd
            value, grad = lh + np.log(sd), dlh[:, None] * dz + dsd / sd[:, None]
        for c in self.constraints:
            mean, var, dmean, dvar = c.gp.posterior_grad(rows, dims)
            sd = np.sqrt(var)
            z = (c.threshold - mean) / sd
            lp = special.log_ndtr(z)
            ratio = np.exp(-0.5 * z * z - _LOG_SQRT_2PI - lp)  # φ(z) / Φ(z)
            dsd = dvar / (2.0 * sd[:, None])
            dz = -dmean / sd[:, None] - (z / sd)[:, None] * dsd
            value, grad = value + lp, grad + ratio[:, None] * dz
        return value, grad


def _refine(acq: Acquisition, space: UnitSpace, starts: np.ndarray) -> np.ndarray:
    """L-BFGS-B from each start along the continuous dimensions, in coordinates scaled by
    the kernel's length scales (well conditioned, as in Optuna). The starts are solved as one
    problem: the objective is a sum of independent terms, so one vectorised evaluation
    serves them all."""
    cont = space.continuous
    if not cont.any():
        return starts
    lengths = 1.0 / np.sqrt(acq.gp.hyper.inv_sq_lengths[cont])
    k, c = len(starts), int(cont.sum())

    def objective(z: np.ndarray) -> tuple[float, np.ndarray]:
        rows = starts.copy()
        rows[:, cont] = z.reshape(k, c) * lengths
        value, grad = acq.with_grad(rows, cont)
        return -float(value.sum()), -(grad * lengths).ravel()

    bounds = [(0.0, 1.0 / s) for s in lengths] * k
    res = optimize.minimize(objective, (starts[:, cont] / lengths).ravel(), jac=True,
                            method="L-BFGS-B", bounds=bounds,
                            options={"maxiter": 200, "gtol": 1e-3})  # fmt: skip
    out = starts.copy()
    out[:, cont] = np.clip(res.x.reshape(k, c) * lengths, 0.0, 1.0)
    return out


def _improve_discrete(acq: Acquisition, space: UnitSpace, row: np.ndarray) -> np.ndarray:
    """Greedy moves to a neighbouring grid value or another choice while the score improves."""
    if space.continuous.all():
        return row
    score = float(acq(row[None])[0])
    for _ in range(2 * space.dim):
        near = space.neighbours(row)
        if not len(near):
            break
        values = acq(near)
        j = int(values.argmax())
        if values[j] <= score:
            break
        row, score = near[j], float(values[j])
    return row


def propose(
    acq: Acquisition,
    space: UnitSpace,
    incumbent: np.ndarray | None,
    seen: np.ndarray,
    rng: np.random.Generator,
    *,
    n_candidates: int = 2048,
    n_starts: int = 10,
) -> np.ndarray:
    """The row with the highest acquisition found, avoiding rows in ``seen`` when it can.

    Local searches start from the best candidate, the ``incumbent`` (the best trial so far)
    and candidates drawn with probability proportional to their score (Optuna's roulette),
    which keeps some searches away from the incumbent's basin."""
    candidates = space.sobol(n_candidates, seed=int(rng.integers(2**31)))
    scores = acq(candidates)
    top = int(np.argmax(scores))
    weights = np.exp(scores - scores[top])
    weights[top] = 0.0
    chosen = [top]
    if weights.sum() > 0:
        k = min(n_starts - 2, int(np.count_nonzero(weights)))
        chosen += list(rng.choice(len(candidates), size=k, replace=False,
                                  p=weights / weights.sum()))  # fmt: skip
    starts = candidates[chosen]
    if incumbent is not None:
        starts = np.vstack([starts, incumbent[None]])
    refined = space.snap(_refine(acq, space, starts))
    refined = np.stack([_improve_discrete(acq, space, row) for row in refined])
    pool = np.vstack([refined, candidates])
    pool_scores = np.concatenate([acq(refined), scores])
    for j in np.argsort(pool_scores, kind="stable")[::-1]:
        if not is_seen(pool[j], seen):
            return pool[j]
    return pool[int(np.argmax(pool_scores))]


def is_seen(row: np.ndarray, seen: np.ndarray) -> bool:
    return bool(len(seen)) and bool(np.any(np.all(np.abs(seen - row) < 1e-9, axis=1)))
