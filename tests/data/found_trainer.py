"""A trainer that fails in a chosen way per trial: ``FOUND_PLAN="0:raise,1:nan,2:exit,3:hang"``.

raise: an uncaught exception; nan: ``finish(nan)``; exit: prints to stderr and exits 3
without touching hpo.worker's error record; hang: ignores SIGTERM and sleeps (only SIGKILL
ends it); anything else: finishes with x^2.
"""

import os
import signal
import sys
import time

from hpo import worker

trial = worker.current()
plan = dict(item.split(":") for item in os.environ.get("FOUND_PLAN", "").split(",") if item)
mode = plan.get(str(trial.number), "ok")
if mode == "raise":
    raise ValueError(f"learning rate {trial.params['x']:.3g} diverged")
if mode == "nan":
    trial.finish(float("nan"))
if mode == "exit":
    print("CUDA out of memory: tried to allocate 2.00 GiB", file=sys.stderr, flush=True)
    os._exit(3)
if mode == "hang":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    print("hanging", flush=True)
    while True:
        time.sleep(60)
trial.finish(trial.params["x"] ** 2)
