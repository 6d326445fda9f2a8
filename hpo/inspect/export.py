"""All trials as rows: CSV, JSON or Parquet (Parquet when pyarrow is importable).

Flat rows follow Optuna's ``trials_dataframe`` naming: ``number``, ``state``, ``value`` (or
``values_0``...), ``datetime_start``, ``datetime_complete``, ``duration``, ``params_<name>``,
``user_attrs_<key>``. JSON keeps each trial as one nested object instead.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from optuna.trial import FrozenTrial

from hpo.errors import HpoError

FORMATS = ("csv", "json", "parquet")


def trial_record(trial: FrozenTrial) -> dict[str, Any]:
    """One trial as a nested, JSON-ready object."""
    return {
        "number": trial.number,
        "state": trial.state.name,
        "values": _finite_list(trial.values),
        "params": dict(trial.params),
        "user_attrs": dict(trial.user_attrs),
        "intermediate_values": {str(k): _finite(v) for k, v in trial.intermediate_values.items()},
        "datetime_start": _iso(trial.datetime_start),
        "datetime_complete": _iso(trial.datetime_complete),
        "duration": _duration(trial),
    }


def flat_row(trial: FrozenTrial, n_objectives: int) -> dict[str, Any]:
    """One trial as a flat row (datetimes stay datetimes; nested attributes stay nested)."""
    row: dict[str, Any] = {"number": trial.number, "state": trial.state.name}
    values = list(trial.values) if trial.values else [None] * n_objectives
    if n_objectives == 1:
        row["value"] = _finite(values[0])
    else:
        row.update({f"values_{i}": _finite(v) for i, v in enumerate(values)})
    row["datetime_start"] = trial.datetime_start
    row["datetime_complete"] = trial.datetime_complete
    row["duration"] = _duration(trial)
    row.update({f"params_{k}": v for k, v in trial.params.items()})
    row.update({f"user_attrs_{k}": v for k, v in sorted(trial.user_attrs.items())})
    return row


def _finite(value: float | None) -> float | None:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return None
    return value


def _finite_list(values: Sequence[float] | None) -> list[float | None] | None:
    return None if values is None else [_finite(v) for v in values]


def _iso(when: dt.datetime | None) -> str | None:
    return when.isoformat() if when else None


def _duration(trial: FrozenTrial) -> float | None:
    if trial.datetime_start and trial.datetime_complete:
        return (trial.datetime_complete - trial.datetime_start).total_seconds()
    return None


def columns(rows: Sequence[dict[str, Any]]) -> list[str]:
    """Every column of ``rows`` in first-seen order."""
    seen: dict[str, None] = {}
    for row in rows:
        seen.update(dict.fromkeys(row))
    return list(seen)


def _cell(value: Any) -> Any:
    """A scalar for a flat file: datetimes as ISO text, lists and dicts as JSON."""
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, sort_keys=True)
    return value


def to_csv(trials: Sequence[FrozenTrial], n_objectives: int) -> str:
    """CSV text with a header row."""
    rows = [flat_row(t, n_objectives) for t in trials]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns(rows), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(v) for k, v in row.items()})
    return out.getvalue()


def to_json(trials: Sequence[FrozenTrial], study: str, directions: Sequence[str]) -> str:
    """A JSON document: the study name, its directions and every trial as a nested object."""
    doc = {
        "study": study,
        "directions": list(directions),
        "trials": [trial_record(t) for t in trials],
    }
    return json.dumps(doc, indent=2, default=str) + "\n"


def write_parquet(trials: Sequence[FrozenTrial], n_objectives: int, path: Path) -> None:
    """A Parquet file; columns get one type each (mixed or nested values become JSON text)."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise HpoError(
            "parquet export needs pyarrow, which is not installed",
            hint="pip install pyarrow, or use --format csv or --format json",
        ) from None
    rows = [flat_row(t, n_objectives) for t in trials]
    data = {name: _arrow_column([r.get(name) for r in rows]) for name in columns(rows)}
    pq.write_table(pa.table(data), path)


def _arrow_column(values: list[Any]) -> list[Any]:
    """Values of one column made uniform: numbers as floats when mixed, others as text."""
    present = [v for v in values if v is not None]
    kinds = {type(v) for v in present}
    if not kinds or (len(kinds) == 1 and kinds <= {bool, int, float, str, dt.datetime}):
        return values
    if kinds <= {int, float}:
        return [None if v is None else float(v) for v in values]
    return [None if v is None else _text(v) for v in values]


def _text(value: Any) -> str:
    cell = _cell(value)
    return cell if isinstance(cell, str) else json.dumps(cell)
