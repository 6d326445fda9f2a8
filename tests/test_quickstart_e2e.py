"""The quickstart study end to end: real CLI, real trainer processes, real storage.

One run (~40 s on 2 cores) is shared by the checks below: completion and summary, a second
run that finishes at once, concurrency from the trials' start/end times, search quality,
and the study as optuna-dashboard's own API serves it.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.trial import TrialState

from hpo import attrs
from hpo.storage import open_storage
from tests.conftest import REPO, SKLEARN_TRAINER
from tests.dashboard import dashboard_get

pytestmark = pytest.mark.slow


def hpo_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hpo", *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The repo's quickstart study, copied to a temp dir and run once."""
    tmp = tmp_path_factory.mktemp("quickstart")
    text = (REPO / "studies" / "quickstart.yaml").read_text()
    text = text.replace("../trainer_image/train_sklearn.py", str(SKLEARN_TRAINER))
    study_file = tmp / "quickstart.yaml"
    study_file.write_text(text)
    first, dashboard_reads = run_while_dashboard_reads(study_file, tmp / "quickstart.journal")
    second = hpo_cli("run", str(study_file), cwd=tmp)
    storage = open_storage(str(tmp / "quickstart.journal"))
    study = optuna.load_study(study_name="quickstart", storage=storage)
    return {"dir": tmp, "first": first, "second": second, "study": study, "storage": storage,
            "dashboard_reads": dashboard_reads}  # fmt: skip


def run_while_dashboard_reads(
    study_file: Path, journal: Path
) -> tuple[subprocess.CompletedProcess[str], list[int]]:
    """Run the study while optuna-dashboard's API reads the same storage over and over."""
    import optuna_dashboard

    command = [sys.executable, "-m", "hpo", "run", str(study_file)]
    proc = subprocess.Popen(command, cwd=study_file.parent, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    seen: list[int] = []  # trials the dashboard saw on each read
    while proc.poll() is None:
        if journal.exists():
            app = optuna_dashboard.wsgi(str(journal))
            studies = dashboard_get(app, "/api/studies")["study_summaries"]
            if studies:
                detail = dashboard_get(app, f"/api/studies/{studies[0]['study_id']}")
                seen.append(len(detail["trials"]))
        time.sleep(0.5)  # a person refreshing the page, not synchronisation
    out, err = proc.communicate()
    return subprocess.CompletedProcess(command, proc.returncode, out, err), seen


def test_runs_to_completion_and_prints_the_best_trial(quickstart: dict[str, Any]) -> None:
    first = quickstart["first"]
    assert first.returncode == 0, first.stderr
    assert f"storage: {quickstart['dir'] / 'quickstart.journal'}" in first.stdout
    trials = quickstart["study"].get_trials()
    assert len(trials) == 24 and all(t.state is TrialState.COMPLETE for t in trials)
    best = quickstart["study"].best_trial
    assert f"best trial {best.number}: value {best.value:.6g}" in first.stdout
    assert first.stdout.count(" complete ") >= 24  # a line per finished trial


def test_the_dashboard_reads_the_study_while_the_controller_writes(
    quickstart: dict[str, Any],
) -> None:
    seen = quickstart["dashboard_reads"]
    assert len(seen) >= 10  # every read answered 200 with a study while trials ran
    assert seen == sorted(seen) and 0 < seen[-1] <= 24  # trials appear as they are asked


def test_a_second_run_finishes_at_once_without_new_trials(quickstart: dict[str, Any]) -> None:
    second = quickstart["second"]
    assert second.returncode == 0, second.stderr
    assert "complete: 24 finished" in second.stdout
    assert " complete value" not in second.stdout  # no trial ran again
    assert len(quickstart["study"].get_trials()) == 24


def test_four_trainers_run_at_once_over_the_busy_period(quickstart: dict[str, Any]) -> None:
    spans = [(t.user_attrs[attrs.STARTED_AT], t.user_attrs[attrs.ENDED_AT])
             for t in quickstart["study"].get_trials()]  # fmt: skip
    lo = min(s for s, _ in spans)
    hi = max(s for s, _ in spans)  # the last start: after it the study drains
    overlap = sum(max(0.0, min(e, hi) - max(s, lo)) for s, e in spans) / (hi - lo)
    assert overlap >= 3.5, overlap


def test_finds_a_clearly_better_configuration_than_random(quickstart: dict[str, Any]) -> None:
    values = [t.value for t in quickstart["study"].get_trials()]
    random_phase, guided = values[:10], values[10:]  # auto -> gp: 10 start-up trials
    assert min(values) < 0.5 * statistics.median(random_phase)
    assert statistics.median(guided) < statistics.median(random_phase)


def test_trials_carry_job_facts_and_logs(quickstart: dict[str, Any]) -> None:
    for t in quickstart["study"].get_trials():
        ua = t.user_attrs
        assert ua[attrs.JOB_ID] == f"quickstart-{t.number}-1" and ua[attrs.ATTEMPT] == 1
        assert ua[attrs.STAGE] == "succeeded" and ua[attrs.EXIT_CODE] == 0
        assert Path(ua[attrs.LOG]).read_text().count("val_loss=") == 20
        assert ua[attrs.STARTED_AT] <= ua[attrs.ENDED_AT]
        assert len(t.intermediate_values) == 20
        result = json.loads(Path(ua[attrs.TRIAL_URI], "result.json").read_text())
        assert result["value"] == t.value


def test_optuna_dashboard_serves_the_study_from_the_printed_storage(
    quickstart: dict[str, Any],
) -> None:
    import optuna_dashboard

    printed = next(line.split("storage: ", 1)[1] for line in quickstart["first"].stdout.splitlines()
                   if line.startswith("storage: "))  # fmt: skip
    app = optuna_dashboard.wsgi(printed)  # the same string a user passes to optuna-dashboard
    summaries = dashboard_get(app, "/api/studies")["study_summaries"]
    assert [s["study_name"] for s in summaries] == ["quickstart"]
    detail = dashboard_get(app, f"/api/studies/{summaries[0]['study_id']}")
    trials = detail["trials"]
    assert len(trials) == 24
    for trial in trials:
        assert trial["state"] == "Complete" and len(trial["values"]) == 1
        assert {p["name"] for p in trial["params"]} == {
            "learning_rate_init", "alpha", "hidden_units", "batch_size", "activation",
        }  # fmt: skip
        assert len(trial["intermediate_values"]) == 20
        keys = {a["key"] for a in trial["user_attrs"]}
        assert {attrs.JOB_ID, attrs.ATTEMPT, attrs.STAGE, attrs.LOG, attrs.STARTED_AT} <= keys
