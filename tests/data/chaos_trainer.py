"""A fast trainer for crash tests: records every run, then writes a deterministic value."""

import os
import time
from pathlib import Path

from hpo import worker

trial = worker.current()
x, y = trial.params["x"], trial.params["y"]
value = (x - 1.0) ** 2 + (y + 2.0) ** 2
with Path(trial.uri, "runs.log").open("a") as runs:
    runs.write(f"start {os.getpid()} attempt {trial.attempt}\n")
time.sleep(float(os.environ.get("CHAOS_BASE_SECONDS", "0.3")) + (abs(x) % 1.0) * 0.5)
for step in range(3):
    trial.report(step, value + 3 - step)
trial.finish(value)
with Path(trial.uri, "runs.log").open("a") as runs:
    runs.write(f"finish {os.getpid()} attempt {trial.attempt}\n")
