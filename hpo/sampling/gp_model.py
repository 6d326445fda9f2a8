"""A Gaussian-process regressor in numpy and scipy, for hpo's GP sampler.

The model is the one Optuna's ``GPSampler`` fits, written without torch: a Matérn-5/2
kernel with one length scale per dimension (categorical dimensions compare by equality),
a kernel scale and a noise variance, fitted by maximising the marginal likelihood plus
Optuna's priors with L-BFGS-B on analytic gradients. Targets are standardised by the caller
and the model maximises (the sampler flips the sign of minimised objectives).

Running trials enter as *pending* points (:meth:`GP.with_pending`): they condition the
posterior variance, not the mean (the kriging believer: each pending value is believed to
be the posterior mean, which leaves the mean unchanged), so a proposal next to a running
trial has little expected improvement and parallel asks spread out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import linalg, optimize

SQRT5 = math.sqrt(5.0)
MIN_NOISE = 1e-6  # noise variance floor (standardised targets), as Optuna's GP
_JITTER = 1e-9


@dataclass(frozen=True)
class Hyper:
    """Kernel hyperparameters: inverse squared length scales, kernel scale, noise variance."""

    inv_sq_lengths: np.ndarray
    scale: float
    noise: float

    @staticmethod
    def default(dim: int) -> Hyper:
        return Hyper(np.ones(dim), 1.0, 1.0)

    def raw(self) -> np.ndarray:
        return np.concatenate([np.log(self.inv_sq_lengths), [math.log(self.scale)],
                               [math.log(max(self.noise - 0.99 * MIN_NOISE, 1e-12))]])  # fmt: skip

    @staticmethod
    def from_raw(raw: np.ndarray, deterministic: bool) -> Hyper:
        d = len(raw) - 2
        noise = MIN_NOISE if deterministic else MIN_NOISE + math.exp(raw[d + 1])
        return Hyper(np.exp(raw[:d]), math.exp(raw[d]), noise)


def _matern(sq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Matérn-5/2 of squared scaled distances, and its derivative with respect to them."""
    r = np.sqrt(np.maximum(sq, 0.0))
    e = np.exp(-SQRT5 * r)
    value = (1.0 + SQRT5 * r + (5.0 / 3.0) * sq) * e
    deriv = -(5.0 / 6.0) * (1.0 + SQRT5 * r) * e
    return value, deriv


class Distances:
    """Squared scaled distances between row sets, continuous and categorical parts apart."""

    def __init__(self, categorical: np.ndarray) -> None:
        self.cat = categorical
        self.num = ~categorical

    def sq(self, a: np.ndarray, b: np.ndarray, inv_sq: np.ndarray) -> np.ndarray:
        w = np.sqrt(inv_sq[self.num])
        xa, xb = a[:, self.num] * w, b[:, self.num] * w
        out = (xa * xa).sum(1)[:, None] + (xb * xb).sum(1)[None, :] - 2.0 * xa @ xb.T
        for k in np.flatnonzero(self.cat):
            out += inv_sq[k] * (a[:, k, None] != b[None, :, k])
        return np.maximum(out, 0.0)


class GP:
    """A fitted GP over rows ``x`` (unit cube) with standardised targets ``y``."""

    def __init__(self, x: np.ndarray, y: np.ndarray, hyper: Hyper, categorical: np.ndarray):
        self.x, self.y, self.hyper = x, y, hyper
        self.dist = Distances(categorical)
        k = hyper.scale * _matern(self.dist.sq(x, x, hyper.inv_sq_lengths))[0]
        k[np.diag_indices_from(k)] += hyper.noise + _JITTER
        self._chol = linalg.cholesky(k, lower=True)
        self.alpha = linalg.cho_solve((self._chol, True), y)
        self.var_x, self.var_chol = x, self._chol  # the points the variance is conditioned on
        self.var_inv: np.ndarray | None = None

    def kernel(self, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        value, deriv = _matern(self.dist.sq(a, b, self.hyper.inv_sq_lengths))
        return self.hyper.scale * value, self.hyper.scale * deriv

    def with_pending(self, pending: np.ndarray) -> GP:
        """The same GP with its variance also conditioned on ``pending`` rows (see module)."""
        if len(pending) == 0:
            return self
        out = object.__new__(GP)
        out.__dict__.update(self.__dict__)
        k21 = self.kernel(pending, self.x)[0]
        k22 = self.kernel(pending, pending)[0]
        k22[np.diag_indices_from(k22)] += self.hyper.noise + _JITTER
        l21 = linalg.solve_triangular(self._chol, k21.T, lower=True).T
        schur = k22 - l21 @ l21.T
        schur[np.diag_indices_from(schur)] += 1e-8
        l22 = linalg.cholesky(schur, lower=True)
        n, p = len(self.x), len(pending)
        chol = np.zeros((n + p, n + p))
        chol[:n, :n], chol[n:, :n], chol[n:, n:] = self._chol, l21, l22
        out.var_x, out.var_chol, out.var_inv = np.vstack([self.x, pending]), chol, None
        return out

    def _inverse(self) -> np.ndarray:
        """The inverse covariance of the variance's points (matrix products beat triangular
        solves when many candidates are scored at once)."""
        if self.var_inv is None:
            self.var_inv = linalg.cho_solve((self.var_chol, True), np.eye(len(self.var_x)))
        return self.var_inv

    def posterior(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean and variance at ``rows``."""
        mean = self.kernel(rows, self.x)[0] @ self.alpha
        kv = self.kernel(rows, self.var_x)[0]
        var = np.maximum(self.hyper.scale - ((kv @ self._inverse()) * kv).sum(1), 1e-12)
        return mean, var

    def posterior_grad(self, rows: np.ndarray, dims: np.ndarray) -> tuple[np.ndarray, ...]:
        """Mean, variance and their gradients along ``dims`` (a mask of numeric dimensions)."""
        num, inv = dims, self.hyper.inv_sq_lengths
        k, dk = self.kernel(rows, self.x)
        diff = rows[:, None, num] - self.x[None, :, num]  # (m, n, c)
        dk_dx = 2.0 * dk[:, :, None] * diff * inv[num]
        mean = k @ self.alpha
        dmean = np.einsum("mnc,n->mc", dk_dx, self.alpha)
        kv, dkv = self.kernel(rows, self.var_x)
        w = kv @ self._inverse()  # (m, N)
        var = np.maximum(self.hyper.scale - (kv * w).sum(1), 1e-12)
        diff_v = rows[:, None, num] - self.var_x[None, :, num]
        dvar = -2.0 * np.einsum("mN,mNc->mc", w * dkv, 2.0 * diff_v * inv[num])
        return mean, var, dmean, dvar


def _neg_log_posterior(
    raw: np.ndarray, x: np.ndarray, y: np.ndarray, dist: Distances, deterministic: bool
) -> tuple[float, np.ndarray]:
    """Minus (log marginal likelihood + log prior) and its gradient in the raw parameters."""
    h = Hyper.from_raw(raw, deterministic)
    d = x.shape[1]
    sq = dist.sq(x, x, h.inv_sq_lengths)
    m, dm = _matern(sq)
    c = h.scale * m
    c[np.diag_indices_from(c)] += h.noise + _JITTER
    try:
        chol = linalg.cholesky(c, lower=True)
    except linalg.LinAlgError:
        return 1e10, np.zeros_like(raw)
    alpha = linalg.cho_solve((chol, True), y)
    mll = -0.5 * y @ alpha - np.log(np.diag(chol)).sum()
    inv = linalg.cho_solve((chol, True), np.eye(len(y)))
    w = np.outer(alpha, alpha) - inv  # d mll = 0.5 tr(W dC)
    grad = np.empty_like(raw)
    mw = w * (h.scale * dm)  # dC/d(inv_sq_k) = scale * m'(sq) * D_k
    for k in range(d):
        col = x[:, k]
        if dist.cat[k]:
            same = col[:, None] == col[None, :]
            dk = mw.sum() - mw[same].sum()
        else:
            dk = 2.0 * (col * col) @ mw.sum(1) - 2.0 * col @ mw @ col
        grad[k] = 0.5 * dk * h.inv_sq_lengths[k]
    grad[d] = 0.5 * (w * (h.scale * m)).sum()
    grad[d + 1] = 0.0 if deterministic else 0.5 * np.trace(w) * (h.noise - MIN_NOISE)
    # Optuna's priors: on the inverse squared length scales, Gamma(2, 1) on the kernel scale
    # and Gamma(1.1, 30) on the noise variance.
    lam = h.inv_sq_lengths
    prior = -(0.1 / lam + 0.1 * lam).sum() + math.log(h.scale) - h.scale
    grad[:d] += 0.1 / lam - 0.1 * lam
    grad[d] += 1.0 - h.scale
    if not deterministic:
        prior += 0.1 * math.log(h.noise) - 30.0 * h.noise
        grad[d + 1] += (0.1 / h.noise - 30.0) * (h.noise - MIN_NOISE)
    return -(mll + prior), -grad


def fit(
    x: np.ndarray,
    y: np.ndarray,
    categorical: np.ndarray,
    *,
    start: Hyper | None = None,
    deterministic: bool = False,
) -> GP:
    """Fit the hyperparameters (from ``start``, else the defaults) and return the GP."""
    dist = Distances(categorical)
    best: Hyper | None = None
    for initial in (start, Hyper.default(x.shape[1])):
        if initial is None or len(initial.inv_sq_lengths) != x.shape[1]:
            continue
        res = optimize.minimize(
            _neg_log_posterior, initial.raw(), args=(x, y, dist, deterministic),
            jac=True, method="L-BFGS-B", options={"gtol": 1e-2, "maxiter": 200},
        )  # fmt: skip
        if np.all(np.isfinite(res.x)) and res.fun < 1e9:
            best = Hyper.from_raw(res.x, deterministic)
            break
    return GP(x, y, best or Hyper.default(x.shape[1]), categorical)
