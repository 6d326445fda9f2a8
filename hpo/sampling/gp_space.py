"""A search space as the unit cube: how hpo's GP sampler sees parameters.

Floats and ints map linearly (or in log space, for ``log: true``) onto [0, 1]; a parameter
with a ``step`` (every int, and stepped floats) keeps its finite grid, so proposals land on
points the trainer can run and duplicates can be recognised. A categorical is one dimension
holding the choice's index; the kernel compares it by equality (Hamming distance).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from scipy.stats import qmc


@dataclass(frozen=True)
class _Axis:
    name: str
    dist: BaseDistribution
    low: float  # in the (log-)transformed scale
    high: float
    log: bool
    step: float | None  # in the original scale; None for continuous floats
    n_choices: int  # categorical only

    @property
    def categorical(self) -> bool:
        return self.n_choices > 0


def _axis(name: str, dist: BaseDistribution) -> _Axis:
    if isinstance(dist, CategoricalDistribution):
        return _Axis(name, dist, 0.0, 1.0, False, None, len(dist.choices))
    if not isinstance(dist, FloatDistribution | IntDistribution):
        raise TypeError(f"unsupported distribution for {name!r}: {dist!r}")
    step = None if dist.step is None else float(dist.step)  # every int has one (1 by default)
    if dist.log:
        return _Axis(name, dist, np.log(dist.low), np.log(dist.high), True, step, 0)
    return _Axis(name, dist, float(dist.low), float(dist.high), False, step, 0)


class UnitSpace:
    """Encode params to rows of the unit cube and decode rows back to valid params."""

    def __init__(self, space: Mapping[str, BaseDistribution]) -> None:
        self.axes = [_axis(name, dist) for name, dist in space.items()]
        self.dim = len(self.axes)
        self.categorical = np.array([a.categorical for a in self.axes], dtype=bool)
        self.continuous = np.array(
            [not a.categorical and a.step is None for a in self.axes], dtype=bool
        )
        self.discrete = ~self.continuous

    def encode(self, params: Mapping[str, Any]) -> np.ndarray:
        """One row for one trial's params."""
        row = np.empty(self.dim)
        for i, axis in enumerate(self.axes):
            value = params[axis.name]
            if axis.categorical:
                row[i] = axis.dist.to_internal_repr(value)  # type: ignore[attr-defined]
            else:
                row[i] = _scale(axis, np.array([float(value)]))[0]
        return row

    def encode_many(self, params: list[Mapping[str, Any]]) -> np.ndarray:
        if not params:
            return np.empty((0, self.dim))
        return np.stack([self.encode(p) for p in params])

    def snap(self, rows: np.ndarray) -> np.ndarray:
        """Move every discrete coordinate to its nearest valid value (a grid point of an int
        or stepped float, a choice's index of a categorical); the rest is clipped to [0, 1]."""
        out = rows.copy()
        for i, axis in enumerate(self.axes):
            if axis.categorical:
                out[:, i] = np.clip(np.rint(out[:, i]), 0, axis.n_choices - 1)
            elif axis.step is None:
                out[:, i] = np.clip(out[:, i], 0.0, 1.0)
            else:
                out[:, i] = _scale(axis, self._steps(axis, out[:, i], 0))
        return out

    def neighbours(self, row: np.ndarray) -> np.ndarray:
        """Rows that differ from ``row`` in one discrete coordinate: every other choice of a
        categorical, the adjacent grid values of an int or stepped float."""
        out = []
        for i, axis in enumerate(self.axes):
            if axis.categorical:
                options = [float(c) for c in range(axis.n_choices) if c != row[i]]
            elif axis.step is None:
                continue
            else:
                moves = [float(_scale(axis, self._steps(axis, row[i : i + 1], k))[0])
                         for k in (-1, 1)]  # fmt: skip
                options = [value for value in moves if value != row[i]]
            for value in options:
                moved = row.copy()
                moved[i] = value
                out.append(moved)
        return np.array(out).reshape(-1, self.dim)

    @staticmethod
    def _steps(axis: _Axis, unit: np.ndarray, shift: int) -> np.ndarray:
        """Original-scale values of the grid point nearest to ``unit``, moved ``shift`` steps
        along the grid and kept inside the range."""
        dist, step = axis.dist, float(axis.step)  # type: ignore[arg-type]
        value = axis.low + np.clip(unit, 0.0, 1.0) * (axis.high - axis.low)
        value = np.exp(value) if axis.log else value
        k = np.rint((value - dist.low) / step) + shift  # type: ignore[attr-defined]
        k = np.clip(k, 0, np.floor((dist.high - dist.low) / step + 1e-9))  # type: ignore[attr-defined]
        return dist.low + k * step  # type: ignore[attr-defined]

    def decode(self, row: np.ndarray) -> dict[str, Any]:
        """Valid params for one (snapped) row."""
        out: dict[str, Any] = {}
        for i, axis in enumerate(self.axes):
            dist = axis.dist
            if axis.categorical:
                out[axis.name] = dist.to_external_repr(round(float(row[i])))
                continue
            value = axis.low + float(np.clip(row[i], 0.0, 1.0)) * (axis.high - axis.low)
            value = float(np.exp(value)) if axis.log else value
            if axis.step is not None:
                k = round((value - dist.low) / axis.step)  # type: ignore[attr-defined]
                value = dist.low + k * axis.step  # type: ignore[attr-defined]
            value = min(max(value, dist.low), dist.high)  # type: ignore[attr-defined]
            out[axis.name] = round(value) if isinstance(dist, IntDistribution) else value
        return out

    def sobol(self, n: int, seed: int, skip: int = 0) -> np.ndarray:
        """Rows ``skip .. skip + n - 1`` of a scrambled Sobol sequence, as valid rows."""
        engine = qmc.Sobol(self.dim, scramble=True, seed=seed)
        if skip:
            engine.fast_forward(skip)
        return self.from_uniform(engine.random(n))

    def from_uniform(self, u: np.ndarray) -> np.ndarray:
        """Valid rows from points of [0, 1)^d: a categorical takes choice floor(c u)."""
        raw = u.copy()
        for i, axis in enumerate(self.axes):
            if axis.categorical:
                raw[:, i] = np.minimum(np.floor(raw[:, i] * axis.n_choices), axis.n_choices - 1)
        return self.snap(raw)


def _scale(axis: _Axis, values: np.ndarray) -> np.ndarray:
    span = axis.high - axis.low
    transformed = np.log(values) if axis.log else values
    return (transformed - axis.low) / span if span > 0 else np.zeros_like(values, dtype=float)
