"""A reclaimed attempt resumes from its checkpoint: same result, no completed epoch repeated.

The real controller drives the real example trainer on the local backend; the test kills
the first attempt's whole process group with SIGKILL in the middle of training (what a spot
reclaim does), and the controller's retry must continue from the newest checkpoint.

The kill is synchronised on the checkpoint itself: the first attempt runs the trainer
through a gate that, once the trainer's own ``save_checkpoint`` of epoch ``KILL_AFTER``
returns, writes a marker file beside the gate and waits for a signal. The test waits for
that file, so the checkpoint the retry must resume from is known exactly, whatever the
machine's load (waiting on the number of reported steps raced: an epoch is reported before
it is checkpointed).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from optuna.trial import TrialState

from hpo import attrs
from hpo.backends.local import LocalBackend
from hpo.controller.loop import Controller
from hpo.spec import build
from hpo.spec.loader import load_study
from hpo.storage import open_storage
from hpo.store.local import LocalStore
from tests.conftest import SKLEARN_TRAINER

pytestmark = pytest.mark.slow

PARAMS = {"learning_rate_init": 0.01, "alpha": 0.001, "hidden_units": 64, "batch_size": 32,
          "activation": "relu"}  # fmt: skip
EPOCHS = 30
KILL_AFTER = 5  # the first attempt is killed right after checkpointing this epoch

GATE = f"""\
import runpy, signal, sys
from pathlib import Path
from hpo import worker

saved = 0
original = worker.Trial.save_checkpoint

def save_checkpoint(self):
    global saved
    original(self)
    saved += 1
    if self.attempt == 1 and saved == {KILL_AFTER}:
        Path(__file__).with_name("checkpointed").write_text(str(saved))
        while True:
            signal.pause()  # hold here until the test kills the process group

worker.Trial.save_checkpoint = save_checkpoint
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""

STUDY = f"""\
name: ckpt
objective: {{metric: val_loss, direction: minimize}}
search_space:
{chr(10).join(f"  {k}: {{type: categorical, choices: [{v}]}}" for k, v in PARAMS.items())}
budget: {{n_trials: 1, max_parallel: 1}}
retries: {{max_attempts: 2}}
trainer:
  command: python TMP/gate.py {SKLEARN_TRAINER} --epochs {EPOCHS}
backend: {{type: local, poll_interval: 0.02}}
"""


def uninterrupted_value(tmp: Path) -> float:
    trial_dir = tmp / "reference"
    trial_dir.mkdir()
    doc = {"params": PARAMS, "trial": 0, "study": "ref", "attempt": 1}
    (trial_dir / "params.json").write_text(json.dumps(doc))
    env = {**os.environ, "HPO_TRIAL_URI": str(trial_dir)}
    subprocess.run([sys.executable, str(SKLEARN_TRAINER), "--epochs", str(EPOCHS)], env=env,
                   check=True, capture_output=True)  # fmt: skip
    return json.loads((trial_dir / "result.json").read_text())["value"]


def epochs_in(log: Path) -> list[int]:
    return [int(n) for n in re.findall(r"^epoch (\d+)/", log.read_text(), flags=re.M)]


def test_a_killed_attempt_resumes_from_its_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "ckpt.yaml"
    path.write_text(STUDY.replace("TMP", str(tmp_path)))
    (tmp_path / "gate.py").write_text(GATE)
    marker = tmp_path / "checkpointed"
    study_file = load_study(path)
    study = build.create_study(study_file, open_storage(study_file.storage_url))
    store = LocalStore(tmp_path / "runs")
    backend = LocalBackend(study_file.trainer_argv, tmp_path / "runs" / "ckpt" / "jobs")
    controller = Controller(study, study_file.spec, backend, store)
    controller.budget.load(study)
    trial_dir = tmp_path / "runs" / "ckpt" / "trials" / "0"
    pid_file = tmp_path / "runs" / "ckpt" / "jobs" / "ckpt-0-1" / "pid.json"

    deadline = time.monotonic() + 120
    while not marker.exists():
        controller.tick()
        assert time.monotonic() < deadline, "the first attempt never checkpointed its gated epoch"
        time.sleep(0.01)  # pace the polling; the trainer needs the CPU
    pgid = json.loads(pid_file.read_text())["pid"]
    assert not (trial_dir / "result.json").exists()
    os.killpg(pgid, signal.SIGKILL)  # "reclaim the host"

    while controller.budget.finished < 1:
        controller.tick()
        assert time.monotonic() < deadline
        time.sleep(0.01)
    (trial,) = study.get_trials()
    assert trial.state is TrialState.COMPLETE
    assert trial.user_attrs[attrs.ATTEMPT] == 2
    assert "without recording an exit status" in trial.user_attrs[attrs.ATTEMPTS_LOG][0]["reason"]
    assert trial.value == uninterrupted_value(tmp_path)

    first, second = trial_dir / "logs" / "attempt-1.log", trial_dir / "logs" / "attempt-2.log"
    resumed_from = int(re.search(r"resuming trial 0 from epoch (\d+)", second.read_text())[1])
    assert resumed_from == KILL_AFTER
    before, after = epochs_in(first), epochs_in(second)
    assert after == list(range(KILL_AFTER + 1, EPOCHS + 1))  # starts right after the checkpoint
    assert before == list(range(1, KILL_AFTER))  # killed before it printed the gated epoch
    assert sorted(trial.intermediate_values) == list(range(1, EPOCHS + 1))
