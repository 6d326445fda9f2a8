"""The search-space section of the study file: one model per parameter type, each able to
say whether a value belongs to it (enqueued sets, defaults, trials copied by warm start)."""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from hpo.spec.base import SpecModel as _Model

Choice = bool | int | float | str | None


class _Param(_Model):
    """A search-space entry. ``default`` is the value trials that lack the parameter ran with
    (a parameter added to an existing study, a trial copied by ``warm_start``). With ``when``
    the parameter exists only in trials where each named parameter (listed before it, and
    categorical or int) takes one of the given values; the trainer sees only active ones."""

    default: Any = None
    when: dict[str, list[Choice]] | None = None

    @field_validator("when", mode="before")
    @classmethod
    def _listed(cls, when: object) -> object:
        if isinstance(when, dict):
            return {k: v if isinstance(v, list) else [v] for k, v in when.items()}
        return when

    @property
    def has_default(self) -> bool:
        return "default" in self.model_fields_set

    def problem(self, value: object) -> str | None:
        """Why ``value`` is not a value of this parameter (``None`` when it is one)."""
        raise NotImplementedError

    def coerce(self, value: Any) -> Any:
        """``value`` (already checked) in the type Optuna stores for this parameter."""
        return value

    def _check_default(self) -> None:
        if self.has_default and (problem := self.problem(self.default)) is not None:
            raise ValueError(f"'default': {problem}")


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _on_step(value: float, low: float, step: float) -> bool:
    k = (value - low) / step
    return abs(k - round(k)) <= 1e-8 * max(1.0, abs(k))


class FloatParam(_Param):
    type: Literal["float"]
    low: float
    high: float
    log: bool = False
    step: float | None = None

    @model_validator(mode="after")
    def _check(self) -> FloatParam:
        if not self.low < self.high:
            raise ValueError("'low' must be smaller than 'high'")
        if self.log and self.low <= 0:
            raise ValueError("'log: true' needs 'low' > 0")
        if self.log and self.step is not None:
            raise ValueError("'log' and 'step' cannot be combined")
        if self.step is not None and self.step <= 0:
            raise ValueError("'step' must be positive")
        self._check_default()
        return self

    def problem(self, value: object) -> str | None:
        number = _number(value)
        if number is None:
            return f"{value!r} is not a finite number"
        if not self.low <= number <= self.high:
            return f"{value!r} is outside [{self.low:g}, {self.high:g}]"
        if self.step is not None and not _on_step(number, self.low, self.step):
            return f"{value!r} is not on the grid low + k * step ({self.step:g})"
        return None

    def coerce(self, value: Any) -> Any:
        return float(value)


class IntParam(_Param):
    type: Literal["int"]
    low: int
    high: int
    log: bool = False
    step: int = 1

    @model_validator(mode="after")
    def _check(self) -> IntParam:
        if not self.low < self.high:
            raise ValueError("'low' must be smaller than 'high'")
        if self.log and self.low < 1:
            raise ValueError("'log: true' needs 'low' >= 1")
        if self.log and self.step != 1:
            raise ValueError("'log' and 'step' cannot be combined")
        if self.step < 1:
            raise ValueError("'step' must be >= 1")
        self._check_default()
        return self

    def problem(self, value: object) -> str | None:
        number = _number(value)
        if number is None or number != int(number):
            return f"{value!r} is not an integer"
        if not self.low <= number <= self.high:
            return f"{value!r} is outside [{self.low}, {self.high}]"
        if (int(number) - self.low) % self.step:
            return f"{value!r} is not low + k * step ({self.step})"
        return None

    def coerce(self, value: Any) -> Any:
        return int(value)


class CategoricalParam(_Param):
    type: Literal["categorical"]
    choices: list[Choice] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> CategoricalParam:
        self._check_default()
        return self

    def problem(self, value: object) -> str | None:
        if any(type(c) is type(value) and c == value for c in self.choices):
            return None
        return f"{value!r} is not one of {self.choices}"


Param = Annotated[FloatParam | IntParam | CategoricalParam, Field(discriminator="type")]


def _same(a: object, b: object) -> bool:
    return type(a) is type(b) and a == b


def is_active(param: Param, params: dict[str, Any]) -> bool:
    """Whether ``param`` exists in a trial whose earlier parameters are ``params``."""
    if not param.when:
        return True
    return all(
        name in params and any(_same(params[name], v) for v in values)
        for name, values in param.when.items()
    )


def conditions_problem(space: dict[str, Param]) -> str | None:
    """Why the ``when`` conditions of ``space`` cannot be used (``None`` when they can).

    A condition names a parameter listed earlier (so there is no cycle, and a trial's
    parameters can be drawn in file order), categorical or int, and values it can take."""
    names = list(space)
    for i, (name, param) in enumerate(space.items()):
        for parent, values in (param.when or {}).items():
            where = f"{name}.when.{parent}"
            if parent not in space:
                return f"{where}: unknown parameter {parent!r} (the space has {', '.join(names)})"
            if names.index(parent) >= i:
                return f"{where}: {parent!r} must be listed before {name!r}"
            if isinstance(space[parent], FloatParam):
                return f"{where}: a condition needs a categorical or int parameter"
            if not values:
                return f"{where}: give at least one value"
            for value in values:
                if (problem := space[parent].problem(value)) is not None:
                    return f"{where}: {problem}"
    return None


def has_conditions(space: dict[str, Param]) -> bool:
    return any(param.when for param in space.values())


def params_problem(space: dict[str, Param], params: dict[str, Any]) -> str | None:
    """Why ``params`` is not a (partial) point of ``space``; ``None`` when it is one."""
    if not isinstance(params, dict) or not params:
        return "expected a mapping of parameter names to values"
    for name, value in params.items():
        if name not in space:
            return f"unknown parameter {name!r} (the search space has {', '.join(space)})"
        problem = space[name].problem(value)
        if problem is not None:
            return f"{name}: {problem}"
    return None


def coerce_params(space: dict[str, Param], params: dict[str, Any]) -> dict[str, Any]:
    """``params`` (checked by :func:`params_problem`) in the types Optuna stores."""
    return {name: space[name].coerce(value) for name, value in params.items()}
