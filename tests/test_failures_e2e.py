"""How trials fail, with real trainer processes: reasons that carry the error, a per-trial
time limit, and a budget timeout that ends a run whose jobs hang."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from hpo import attrs
from hpo.backends.launcher import pid_alive
from hpo.storage import open_storage

pytestmark = pytest.mark.slow
TRAINER = Path(__file__).parent / "data" / "found_trainer.py"

STUDY = """\
name: found
objective: {{metric: loss, direction: minimize}}
search_space:
  x: {{type: float, low: -2, high: 2}}
sampler: {{type: random, seed: 1}}
budget: {budget}
trainer:
  command: python {trainer}
  env: {{FOUND_PLAN: "{plan}"}}
{trainer_timeout}backend: {{type: local, poll_interval: 0.05, grace_period: 0.5}}
"""


def write(tmp: Path, budget: str, plan: str, trainer_timeout: str = "") -> Path:
    path = tmp / "found.yaml"
    limit = f"  timeout: {trainer_timeout}\n" if trainer_timeout else ""
    path.write_text(STUDY.format(budget=budget, trainer=TRAINER, plan=plan, trainer_timeout=limit))
    return path


def hpo_run(path: Path) -> subprocess.CompletedProcess[str]:
    # A subprocess with a deadline: a run that waits forever fails the test instead of hanging it.
    return subprocess.run([sys.executable, "-m", "hpo", "run", str(path)], cwd=path.parent,
                          capture_output=True, text=True, timeout=180)  # fmt: skip


def trials(path: Path) -> list[optuna.trial.FrozenTrial]:
    storage = open_storage(str(path.parent / "found.journal"))
    return optuna.load_study(study_name="found", storage=storage).get_trials()


def no_trainer_left(path: Path) -> bool:
    jobs = path.parent / "runs" / "found" / "jobs"
    pids = [json.loads(p.read_text()) for p in jobs.glob("*/pid.json")]
    return not any(pid_alive(d["pid"], d.get("ticks")) for d in pids)


def test_failure_reasons_carry_the_error_and_a_hung_trial_times_out(tmp_path: Path) -> None:
    path = write(tmp_path, "{n_trials: 2, max_parallel: 4}", "0:raise,1:nan,2:exit,3:hang", "2s")
    done = hpo_run(path)
    assert done.returncode == 0, done.stdout + done.stderr  # the study completes
    by_number = {t.number: t for t in trials(path)}
    reason = {n: t.user_attrs.get(attrs.FAIL_REASON) for n, t in by_number.items()}
    logs = f"see: hpo logs {path} "
    x0 = by_number[0].params["x"]
    assert reason[0] == (f"ValueError: learning rate {x0:.3g} diverged "
                         f"(trainer exited with code 1); {logs}0")  # fmt: skip
    assert reason[1] == ("WorkerError: objective value nan is not finite "
                         f"(trainer exited with code 1); {logs}1")  # fmt: skip
    assert reason[2] == (f"trainer exited with code 3: CUDA out of memory: tried to allocate "
                         f"2.00 GiB; {logs}2")  # fmt: skip
    assert reason[3] == f"timed out after 2s (trainer.timeout); {logs}3"
    hung = by_number[3]
    assert hung.state is TrialState.FAIL and hung.user_attrs[attrs.ATTEMPT] == 1  # not retried
    assert [e["job_attempt"] for e in hung.user_attrs[attrs.ATTEMPTS_LOG]] == [1]  # one run
    assert [t.state for t in by_number.values()].count(TrialState.COMPLETE) == 2
    assert no_trainer_left(path)  # the hung one was SIGKILLed after the grace period
    assert "trial    0 fail" in done.stdout and "diverged" in done.stdout


def test_budget_timeout_ends_a_run_whose_jobs_hang(tmp_path: Path) -> None:
    path = write(tmp_path, "{n_trials: 10, max_parallel: 2, timeout: 2s}", "0:hang,1:hang")
    done = hpo_run(path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("stopped at budget.timeout (2s)") == 2
    assert "timeout: 0 finished (0 complete, 0 pruned), 0 failed, 2 stopped by hpo" in done.stdout
    stopped = trials(path)
    assert [t.state for t in stopped] == [TrialState.FAIL] * 2
    assert all(t.user_attrs[attrs.STOPPED_BY] == "budget.timeout" for t in stopped)
    assert no_trainer_left(path)


def test_max_failures_says_how_many_failed_past_the_limit(tmp_path: Path) -> None:
    plan = ",".join(f"{n}:exit" for n in range(20))
    path = write(tmp_path, "{n_trials: 10, max_parallel: 4, max_failures: 2}", plan)
    done = hpo_run(path)
    assert done.returncode == 4, done.stdout + done.stderr
    failed = len(trials(path))
    assert failed >= 2
    line = next(x for x in done.stderr.splitlines() if x.startswith("error: "))
    late = failed - 2
    tail = f"; {late} of them were already running when the limit was reached" if late else ""
    assert line == f"error: stopped at max_failures 2: {failed} trials failed{tail}"
