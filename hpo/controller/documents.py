"""Validation of what trainers write (untrusted input): result.json and progress.json."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hpo.attrs import RESERVED
from hpo.spec.models import Bound, ObjectiveSpec
from hpo.store.base import ObjectStore
from hpo.store.layout import TrialLayout

MAX_DOCUMENT_BYTES = 1_000_000
MAX_USER_ATTRS = 64


class InvalidDocument(ValueError):
    """A trainer document that cannot be used; the message is the trial's failure reason."""


@dataclass(frozen=True)
class Outcome:
    """A validated result: the objective values plus extra metrics and attributes."""

    values: list[float]
    metrics: dict[str, float] = field(default_factory=dict)
    user_attrs: dict[str, Any] = field(default_factory=dict)
    constraints: dict[str, float] = field(default_factory=dict)  # the values, as reported
    violations: dict[str, float] = field(default_factory=dict)  # Optuna's form: <= 0 is feasible

    @property
    def feasible(self) -> bool:
        return all(v <= 0 for v in self.violations.values())


def _load(raw: bytes, name: str) -> Any:
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise InvalidDocument(f"{name} is larger than {MAX_DOCUMENT_BYTES} bytes")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidDocument(f"{name} is not valid JSON: {exc}") from None


def _finite(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidDocument(f"{what} is not a number: {str(value)[:80]!r}")
    value = float(value)
    if not math.isfinite(value):
        raise InvalidDocument(f"{what} is {value}, not a finite number")
    return value


@dataclass(frozen=True)
class Results:
    """Reads a study's result.json documents, validated against its ``objective``."""

    store: ObjectStore
    layout: TrialLayout
    objective: ObjectiveSpec

    def read(self, number: int) -> Outcome:
        """Trial ``number``'s result, or :class:`InvalidDocument` (missing or not valid)."""
        objective = self.objective
        return parse_result(self.store.get(self.layout.result(number)),
                            len(objective.study_directions), objective.metric_names,
                            objective.bounds)  # fmt: skip


def parse_result(
    raw: bytes | None,
    n_objectives: int,
    metric_names: list[str] | None,
    bounds: Mapping[str, Bound] | None = None,
) -> Outcome:
    """The objective values from result.json, or :class:`InvalidDocument` saying what is wrong.

    Each constrained value (``bounds``) is read from the document's ``constraints`` object,
    else from its ``metrics``; a result without one of them cannot be judged and fails."""
    if raw is None:
        raise InvalidDocument("the trainer exited without writing result.json")
    doc = _load(raw, "result.json")
    if not isinstance(doc, dict):
        raise InvalidDocument("result.json must be a JSON object")
    metrics_raw = doc.get("metrics", {})
    if not isinstance(metrics_raw, dict):
        raise InvalidDocument("result.json 'metrics' must be an object")
    metrics = {str(k)[:128]: _finite(v, f"metric {k!r}") for k, v in metrics_raw.items()}
    values = _values(doc, metrics, n_objectives, metric_names)
    attrs = doc.get("user_attrs", {})
    if not isinstance(attrs, dict) or len(attrs) > MAX_USER_ATTRS:
        raise InvalidDocument(f"result.json 'user_attrs' must be an object of <= {MAX_USER_ATTRS}")
    clean = {(f"user.{k}" if k in RESERVED else str(k)[:128]): v for k, v in attrs.items()}
    bounds = bounds or {}
    constraints = _constraints(doc, metrics, list(bounds))
    violations = {name: bound.violation(constraints[name]) for name, bound in bounds.items()}
    return Outcome(values=values, metrics=metrics, user_attrs=clean, constraints=constraints,
                   violations=violations)  # fmt: skip


def _constraints(doc: dict[str, Any], metrics: dict[str, float], names: list[str]) -> dict:
    given = doc.get("constraints", {})
    if not isinstance(given, dict):
        raise InvalidDocument("result.json 'constraints' must be an object")
    out = {}
    for name in names:
        if name in given:
            out[name] = _finite(given[name], f"constraint {name!r}")
        elif name in metrics:
            out[name] = metrics[name]
        else:
            raise InvalidDocument(f"result.json has no value for constraint {name!r} "
                                  "(in 'constraints' or 'metrics')")  # fmt: skip
    return out


def _values(
    doc: dict[str, Any], metrics: dict[str, float], n: int, names: list[str] | None
) -> list[float]:
    if "values" in doc:
        values = doc["values"]
        if not isinstance(values, list):
            raise InvalidDocument("result.json 'values' must be a list")
        out = [_finite(v, "objective value") for v in values]
    elif "value" in doc:
        out = [_finite(doc["value"], "objective value")]
    elif names and all(name in metrics for name in names):
        out = [metrics[name] for name in names]
    else:
        want = f"'value' or metrics {names}" if names else "'value'"
        raise InvalidDocument(f"result.json has no objective: expected {want}")
    if len(out) != n:
        raise InvalidDocument(f"result.json has {len(out)} objective values, the study has {n}")
    return out


def parse_progress(raw: bytes | None) -> list[tuple[int, float]]:
    """Valid (step, value) pairs from progress.json; malformed entries are dropped."""
    if raw is None:
        return []
    try:
        doc = _load(raw, "progress.json")
    except InvalidDocument:
        return []
    steps = doc.get("steps") if isinstance(doc, dict) else None
    out: list[tuple[int, float]] = []
    for item in steps if isinstance(steps, list) else []:
        if not (isinstance(item, list) and len(item) == 2):
            continue
        step, value = item
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if math.isfinite(value):
            out.append((step, float(value)))
    return out
