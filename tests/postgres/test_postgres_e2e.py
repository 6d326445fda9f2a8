"""PostgreSQL as the study storage, with real ``hpo run`` processes: two controllers on two
studies in one database at once, a dashboard reading it meanwhile, the lease refusing a
second controller on a study, and a kill-and-resume."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from hpo.controller.failpoints import ENV as FAILPOINTS_ENV
from tests.dashboard import dashboard_get

pytestmark = pytest.mark.slow
TRAINER = Path(__file__).parents[1] / "data" / "chaos_trainer.py"


def study_file(tmp: Path, name: str, url: str, n_trials: int = 8, base: float = 0.3) -> Path:
    path = tmp / f"{name}.yaml"
    path.write_text(f"""\
name: {name}
storage: {url}
objective: {{metric: loss, direction: minimize}}
search_space:
  x: {{type: float, low: -5, high: 5}}
  y: {{type: float, low: -5, high: 5}}
sampler: {{type: tpe, seed: 1, n_startup_trials: 4}}
budget: {{n_trials: {n_trials}, max_parallel: 2}}
trainer:
  command: python {TRAINER}
  env: {{CHAOS_BASE_SECONDS: "{base}"}}
backend: {{type: local, poll_interval: 0.05}}
""")
    return path


def start(path: Path, failpoints: str = "") -> subprocess.Popen[str]:
    env = {**os.environ, FAILPOINTS_ENV: failpoints}
    command = [sys.executable, "-m", "hpo", "run", str(path)]
    return subprocess.Popen(command, cwd=path.parent, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)  # fmt: skip


def trials(url: str, name: str) -> list[optuna.trial.FrozenTrial]:
    return optuna.load_study(study_name=name, storage=url).get_trials()


def test_two_controllers_share_a_database_while_a_dashboard_reads_it(
    tmp_path: Path, database: str
) -> None:
    import optuna_dashboard

    a = study_file(tmp_path, "alpha", database, n_trials=10, base=1.2)  # outlives the refusal
    b = study_file(tmp_path, "beta", database, n_trials=10, base=0.6)
    first, second = start(a), start(b)
    for proc, name in ((first, "alpha"), (second, "beta")):  # printed once its study exists
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith(f"study {name} on local backend")
    seen: dict[str, list[int]] = {"alpha": [], "beta": []}
    refused = None
    while first.poll() is None or second.poll() is None:
        app = optuna_dashboard.wsgi(database)  # a fresh page load (the app caches trials)
        for summary in dashboard_get(app, "/api/studies")["study_summaries"]:
            detail = dashboard_get(app, f"/api/studies/{summary['study_id']}")
            seen[summary["study_name"]].append(len(detail["trials"]))
        if refused is None and first.poll() is None:  # alpha's controller holds the lease
            refused = start(a)
        time.sleep(0.2)  # a person refreshing the page, not synchronisation
    assert first.wait() == 0, first.stdout.read() if first.stdout else ""
    assert second.wait() == 0, second.stdout.read() if second.stdout else ""
    assert refused is not None
    out, _ = refused.communicate(timeout=120)
    assert refused.returncode == 3 and "is already being run by another controller" in out, out
    for name in ("alpha", "beta"):
        done = trials(database, name)
        assert [t.state for t in done] == [TrialState.COMPLETE] * 10
        assert seen[name] == sorted(seen[name]) and min(seen[name]) < 10  # read while it ran
    spans = {name: (min(t.datetime_start for t in trials(database, name)),
                    max(t.datetime_complete for t in trials(database, name)))
             for name in ("alpha", "beta")}  # fmt: skip
    assert spans["alpha"][0] < spans["beta"][1] and spans["beta"][0] < spans["alpha"][1]


def test_a_killed_controller_resumes_and_runs_nothing_twice(tmp_path: Path, database: str) -> None:
    path = study_file(tmp_path, "chaos", database, n_trials=10)
    for point in ("after_submit=3", "after_job_end=2", "after_record=4"):
        proc = start(path, point)
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == -9, out  # SIGKILLed at that point of the loop
    final = start(path)
    out, _ = final.communicate(timeout=300)
    assert final.returncode == 0, out
    done = trials(database, "chaos")
    assert [t.state for t in done if t.state is not TrialState.COMPLETE] == []
    assert len(done) == 10
    for t in done:
        assert t.value == (t.params["x"] - 1.0) ** 2 + (t.params["y"] + 2.0) ** 2
        runs = (tmp_path / "runs" / "chaos" / "trials" / str(t.number) / "runs.log").read_text()
        assert sum(line.startswith("finish") for line in runs.splitlines()) == 1
    jobs = [p.name for p in (tmp_path / "runs" / "chaos" / "jobs").iterdir()]
    assert len(jobs) == len(set(jobs)) == 10
