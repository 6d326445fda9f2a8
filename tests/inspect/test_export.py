"""``hpo export``: every trial as CSV, JSON or Parquet."""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from tests.inspect.conftest import Built, storage_files

Cli = Callable[..., Result]


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_finished_study_csv_to_stdout(finished: Built, cli: Cli) -> None:
    result = cli("export", finished.study_file, "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = _csv(result.stdout)
    assert [r["number"] for r in rows] == ["0", "1", "2", "3", "4"]
    assert [r["state"] for r in rows] == ["COMPLETE", "COMPLETE", "PRUNED", "PRUNED", "FAIL"]
    best = rows[1]
    assert float(best["value"]) == 0.2
    assert (best["params_lr"], best["params_units"], best["params_act"]) == ("0.1", "32", "tanh")
    assert best["user_attrs_stage"] == "succeeded" and best["user_attrs_compute_seconds"] == "12.0"
    assert json.loads(best["user_attrs_metrics"]) == {"val_accuracy": 0.9}
    assert best["datetime_start"] and best["datetime_complete"] and float(best["duration"]) >= 0
    failed = rows[4]
    assert failed["value"] == ""
    assert failed["user_attrs_fail_reason"] == "trainer exited with code 1"
    assert json.loads(failed["user_attrs_attempts"])[0]["reason"] == "host lost"


def test_finished_study_json_file(finished: Built, cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "trials.json"
    result = cli("export", finished.study_file, "--format", "json", "-o", out)
    assert result.exit_code == 0, result.output
    assert f"wrote 5 trials to {out}" in result.stderr
    doc = json.loads(out.read_text())
    assert doc["study"] == "demo" and doc["directions"] == ["minimize"]
    trials = doc["trials"]
    assert trials[1]["values"] == [0.2] and trials[1]["params"]["act"] == "tanh"
    assert trials[2]["state"] == "PRUNED"
    assert trials[2]["intermediate_values"] == {"1": 2.0, "2": 1.9, "3": 1.8}
    assert trials[4]["values"] is None
    assert trials[4]["user_attrs"]["fail_reason"] == "trainer exited with code 1"


def test_running_study_exports_running_trials_too(running: Built, cli: Cli) -> None:
    before = storage_files(running.study_file.parent)
    rows = _csv(cli("export", running.study_file).stdout)
    assert [r["state"] for r in rows] == ["COMPLETE", "RUNNING", "RUNNING", "RUNNING", "FAIL"]
    assert rows[1]["value"] == "" and rows[1]["datetime_complete"] == ""
    assert rows[1]["user_attrs_stage"] == "running" and rows[1]["user_attrs_job_id"] == "live-1-1"
    assert rows[3]["user_attrs_job_id"] == ""  # staged: no job yet
    doc = json.loads(cli("export", running.study_file, "--format", "json").stdout)
    assert doc["trials"][1]["intermediate_values"] == {"1": 0.8, "2": 0.65}
    assert storage_files(running.study_file.parent) == before


def test_parquet_without_pyarrow_is_a_clear_error(
    finished: Built, cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # import pyarrow -> ImportError
    result = cli("export", finished.study_file, "--format", "parquet", "-o", tmp_path / "t.pq")
    assert result.exit_code == 1
    assert "parquet export needs pyarrow, which is not installed" in result.stderr
    assert "hint: pip install pyarrow" in result.stderr
    assert not (tmp_path / "t.pq").exists()


def test_parquet_needs_an_output_file(finished: Built, cli: Cli) -> None:
    result = cli("export", finished.study_file, "--format", "parquet")
    assert result.exit_code == 1 and "give a file with -o" in result.stderr


@pytest.mark.parametrize("which", ["finished", "running"])
def test_parquet_round_trip(which: str, request: pytest.FixtureRequest, cli: Cli) -> None:
    pq = pytest.importorskip("pyarrow.parquet", reason="pyarrow is not installed")
    built: Built = request.getfixturevalue(which)
    out = built.study_file.parent / "trials.parquet"
    result = cli("export", built.study_file, "--format", "parquet", "-o", out)
    assert result.exit_code == 0, result.output
    table = pq.read_table(out).to_pylist()
    assert [r["number"] for r in table] == list(range(5))
    assert {"params_lr", "params_act", "user_attrs_stage", "datetime_start"} <= set(table[0])
    assert table[0]["state"] == "COMPLETE" and table[0]["params_act"] == "relu"
