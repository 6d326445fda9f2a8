"""``hpo status``: counts, running trials, failures, best, compute spent and saved."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result
from optuna.trial import TrialState
from rich.console import Console
from rich.text import Text

from hpo import attrs
from hpo.commands.inspect import watch_loop
from hpo.inspect.snapshot import compute_saved, take_snapshot
from tests.inspect.conftest import Built, storage_files, write_study_file

Cli = Callable[..., Result]


def test_finished_study_json_has_counts_best_failures_and_compute(
    finished: Built, cli: Cli
) -> None:
    result = cli("status", finished.study_file, "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["study"] == "demo" and doc["directions"] == ["minimize"]
    assert doc["counts"] == {"running": 0, "waiting": 0, "complete": 2, "pruned": 2, "fail": 1}
    assert doc["done"] == 4 and doc["n_trials"] == 10 and doc["running"] == []
    assert doc["best"] == [
        {
            "number": 1,
            "value": 0.2,
            "params": {"lr": 0.1, "units": 32, "act": "tanh"},
            "metrics": {"val_accuracy": 0.9},
        }
    ]
    assert doc["failures"] == [
        {
            "number": 4,
            "reason": "trainer exited with code 1",
            "attempt": 2,
            "exit_code": 1,
            "ended_at": pytest.approx(finished.now - 10),
            "cost_usd": None,  # a local study has no prices
        }
    ]
    assert doc["compute_seconds"] == 35.0  # 10 + 12 + 3 + 6 + 4
    # complete trials ran all 10 steps in 10 s and 12 s (median 11 s); pruned ones spent 3 s, 6 s
    assert doc["compute_seconds_saved"] == pytest.approx((11 - 3) + (11 - 6))
    assert doc["retries"] == 1


def test_finished_study_screen(finished: Built, cli: Cli) -> None:
    result = cli("status", finished.study_file)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "study demo" in out and "minimize val_loss" in out
    assert "4/10 done" in out and "complete 2" in out and "pruned 2" in out and "fail 1" in out
    assert "35.0s spent" in out and "13.0s saved by pruning" in out
    assert "best: trial 1 value 0.2" in out and "act=tanh" in out
    assert "recent failures" in out and "trainer exited with code 1" in out
    assert "job id" not in out  # no running table


def test_running_study_lists_running_trials_with_stage_job_and_age(
    running: Built, cli: Cli
) -> None:
    result = cli("status", running.study_file, "--json", obj={"clock": lambda: running.now})
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["counts"]["running"] == 3 and doc["counts"]["complete"] == 1
    rows = {r["number"]: r for r in doc["running"]}
    assert rows[1] == {
        "number": 1,
        "stage": "running",
        "attempt": 1,
        "job_id": "live-1-1",
        "age_seconds": pytest.approx(120),
        "age_since": "started",
        "last_step": 2,
        "last_value": 0.65,
        "cost_usd": None,
    }
    assert rows[2]["stage"] == "submitted" and rows[2]["job_id"] == "live-2-1"
    assert rows[2]["age_seconds"] == pytest.approx(30) and rows[2]["age_since"] == "submitted"
    assert rows[3]["stage"] == "staged" and rows[3]["job_id"] is None
    assert rows[3]["age_since"] == "asked"
    # finished trials' compute plus the running job's two minutes so far
    assert doc["compute_seconds"] == pytest.approx(8.0 + 1.5 + 120)
    assert doc["best"][0]["number"] == 0
    assert doc["failures"][0]["reason"] == "result.json is missing"


def test_running_study_screen(running: Built, cli: Cli) -> None:
    result = cli("status", running.study_file, obj={"clock": lambda: running.now})
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "running 3" in out and "1/10 done" in out
    for needle in ("job id", "live-1-1", "2m00s", "submitted", "live-2-1", "30s", "staged", "0.65"):
        assert needle in out, needle


def test_controller_liveness_from_its_lease(running: Built, cli: Cli) -> None:
    def status(at: float) -> tuple[dict, str]:
        obj = {"clock": lambda: at}
        doc = json.loads(cli("status", running.study_file, "--json", obj=obj).stdout)
        return doc["controller"], cli("status", running.study_file, obj=obj).stdout

    live, screen = status(running.now)
    assert live["state"] == "running" and (live["host"], live["pid"]) == ("ctl-host", 4242)
    assert "controller: running (pid 4242 on ctl-host, heartbeat 5s ago)" in screen
    expired, screen = status(running.now + 100)  # no heartbeat for 100 s
    assert expired["state"] == "expired"
    assert "expired 45s ago" in screen
    running.study.set_user_attr(attrs.STUDY_LEASE, {"owner": None, "released_at": running.now})
    stopped, screen = status(running.now)
    assert stopped["state"] == "stopped" and "controller: not running" in screen


def test_watch_re_reads_the_study_on_every_refresh(running: Built, cli: Cli) -> None:
    """--watch --json prints a line per refresh; a trial finishing between them shows up."""
    waits: list[float] = []

    def wait(seconds: float) -> bool:
        waits.append(seconds)
        if len(waits) == 1:  # the controller finishes trial 1 meanwhile
            running.study.tell(running.roles["running"], 0.25)
        return len(waits) >= 2

    obj = {"clock": lambda: running.now, "wait": wait}
    result = cli("status", running.study_file, "--json", "--watch", "7", obj=obj)
    assert result.exit_code == 0, result.output
    docs = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(docs) == 2 and waits == [7.0, 7.0]
    assert docs[0]["counts"]["running"] == 3 and docs[0]["best"][0]["number"] == 0
    assert docs[1]["counts"]["running"] == 2 and docs[1]["counts"]["complete"] == 2
    assert docs[1]["best"][0] == {
        "number": 1,
        "value": 0.25,
        "params": {"lr": 0.02, "units": 20, "act": "tanh"},
    }


def test_watch_default_interval_and_rich_live_refresh(running: Built, cli: Cli) -> None:
    calls: list[float] = []
    result = cli(
        "status",
        running.study_file,
        "--watch",
        obj={"clock": lambda: running.now, "wait": lambda s: calls.append(s) or len(calls) > 2},
    )
    assert result.exit_code == 0, result.output
    assert calls == [5.0, 5.0, 5.0]
    assert "live-1-1" in result.stdout


def test_watch_loop_redraws_until_the_wait_says_stop() -> None:
    frames = iter(["frame 1", "frame 2", "frame 3"])
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=60)
    stops = iter([False, False, True])
    refreshes = watch_loop(lambda: Text(next(frames)), console, 1.0, lambda _s: next(stops))
    assert refreshes == 2
    assert "frame 3" in buffer.getvalue()


def test_status_leaves_storage_untouched(running: Built, cli: Cli) -> None:
    before = storage_files(running.study_file.parent)
    assert cli("status", running.study_file).exit_code == 0
    assert cli("status", running.study_file, "--json").exit_code == 0
    assert storage_files(running.study_file.parent) == before


def test_a_study_not_started_yet_is_one_clear_error(tmp_path: Path, cli: Cli) -> None:
    study_file = write_study_file(tmp_path, "fresh")
    for args in (["status"], ["best"], ["export"], ["logs", "0"], ["dashboard", "--port", "0"]):
        result = cli(args[0], study_file, *args[1:])
        assert result.exit_code == 1, (args, result.output)
        assert "study 'fresh' does not exist yet" in result.stderr
        assert f"hint: start it with: hpo run {study_file}" in result.stderr
        assert "Traceback" not in result.output
    assert not (tmp_path / "fresh.journal").exists()  # looking did not create it


def test_compute_saved_is_none_without_a_complete_trial_with_steps(running: Built) -> None:
    trials = [t for t in running.study.get_trials() if t.state != TrialState.COMPLETE]
    assert compute_saved(trials) is None
    snap = take_snapshot(running.study, now=running.now)
    assert snap.compute_seconds_saved == 0.0  # a complete trial with steps, nothing pruned
