"""The inspection commands on a study a real ``hpo run`` produced (the session's one run).

``real_study``: a tiny copy of the quickstart (4 trials, 2 at a time, 3 epochs of the sklearn
trainer, which also writes ``artifacts/summary.json``). Here: ``hpo dashboard`` as a real
process read back through its HTTP API, and status / best / logs / export on the same
study (the browser check is in ``test_browser.py``).
"""

from __future__ import annotations

import csv
import io
import json
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator

import optuna
import pytest
from click.testing import Result

from hpo import attrs
from hpo.artifacts import artifact_store_for
from hpo.inspect.dashboard import DashboardServer, dashboard_app
from hpo.spec.loader import load_study
from hpo.storage import open_storage
from tests.inspect.conftest import RealStudy, storage_files
from tests.inspect.test_dashboard import get_json, request, user_attrs

pytestmark = pytest.mark.slow
Cli = Callable[..., Result]


@pytest.fixture(scope="module")
def real(real_study: RealStudy) -> RealStudy:
    assert real_study.run.returncode == 0, real_study.run.stdout + real_study.run.stderr
    return real_study


@pytest.fixture
def dashboard_process(real: RealStudy) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """``hpo dashboard --port 0`` as a real process; yields it and the URL it printed."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "hpo", "dashboard", str(real.study_file), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline() if proc.stdout else ""  # printed once it listens
        assert line.startswith("dashboard: http://127.0.0.1:"), (line, proc.poll())
        yield proc, line.split("dashboard: ", 1)[1].strip()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def test_hpo_dashboard_serves_the_finished_study_over_http(
    real: RealStudy, dashboard_process: tuple[subprocess.Popen[str], str]
) -> None:
    proc, page = dashboard_process
    base = page.split("/dashboard/", 1)[0]
    summaries = get_json(f"{base}/api/studies")["study_summaries"]
    assert [s["study_name"] for s in summaries] == ["quickstart"]
    assert page.endswith(f"/dashboard/studies/{summaries[0]['study_id']}")
    trials = get_json(f"{base}/api/studies/{summaries[0]['study_id']}")["trials"]
    assert [t["number"] for t in trials] == [0, 1, 2, 3]
    for trial in trials:
        assert trial["state"] == "Complete" and len(trial["values"]) == 1
        assert len(trial["intermediate_values"]) == 3
        ua = user_attrs(trial)
        assert ua["backend"] == "local" and ua["stage"] == "succeeded"
        assert ua["job_id"] == f"quickstart-{trial['number']}-1" and ua["exit_code"] == "0"
        assert ua["log"].endswith("attempt-1.log") and float(ua["compute_seconds"]) > 0
    status, _ = request(page)
    assert status == 200
    proc.send_signal(signal.SIGINT)  # Ctrl-C: a clean stop
    try:
        code = proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate(timeout=10)
        pytest.fail(f"no clean stop within 20 s of Ctrl-C; its stderr ended: {err[-2000:]!r}")
    assert code == 0
    assert "dashboard stopped" in (proc.stderr.read() if proc.stderr else "")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_status_watch_stops_on_a_signal_even_started_with_sigint_ignored(
    real: RealStudy, sig: signal.Signals
) -> None:
    """A script's background job starts with SIGINT ignored; ``--watch`` must stop anyway."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "hpo", "status", str(real.study_file), "--json", "--watch", "0.2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        first = json.loads(proc.stdout.readline() if proc.stdout else "")  # one refresh done
        assert first["study"] == "quickstart"
        proc.send_signal(sig)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def test_artifacts_the_trainer_wrote_are_on_the_trial_pages(real: RealStudy) -> None:
    study = load_study(real.study_file)
    app = dashboard_app(open_storage(study.storage_url, read_only=True), artifact_store_for(study))
    with DashboardServer(app, port=0) as server:
        trials = get_json(f"{server.url}/api/studies/0")["trials"]
        for trial in trials:
            [art] = trial["artifacts"]
            assert art["filename"] == "summary.json"
            url = f"{server.url}/artifacts/0/{trial['trial_id']}/{art['artifact_id']}"
            status, body = request(url)
            assert status == 200 and json.loads(body)["trial"] == trial["number"]


def test_status_best_logs_export_on_the_real_study(real: RealStudy, cli: Cli) -> None:
    before = storage_files(real.study_file.parent)
    study = optuna.load_study(
        study_name="quickstart",
        storage=open_storage(load_study(real.study_file).storage_url, read_only=True),
    )
    best = study.best_trial

    status = json.loads(cli("status", real.study_file, "--json").stdout)
    assert status["counts"]["complete"] == 4 and status["running"] == []
    assert status["best"][0]["number"] == best.number
    total = sum(t.user_attrs[attrs.COMPUTE_SECONDS] for t in study.trials)
    assert status["compute_seconds"] == pytest.approx(total, abs=0.01)

    doc = json.loads(cli("best", real.study_file, "--params").stdout)
    assert doc == best.params

    log = cli("logs", real.study_file, str(best.number))
    assert log.exit_code == 0 and log.stdout.count("val_loss=") == 3

    rows = list(csv.DictReader(io.StringIO(cli("export", real.study_file).stdout)))
    assert len(rows) == 4 and {r["state"] for r in rows} == {"COMPLETE"}
    assert set(rows[0]) >= {"value", "params_learning_rate_init", "user_attrs_job_id"}
    assert storage_files(real.study_file.parent) == before
