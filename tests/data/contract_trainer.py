"""A trainer for the backend contract tests: behaviour chosen by HPO_TEST_PROGRAM."""

import os
import sys
import time

from hpo import worker

program = os.environ["HPO_TEST_PROGRAM"]
trial = worker.current()
if program == "succeed":
    trial.finish(1.5)
elif program == "burn":  # 0.3 s of CPU, then 0.3 s asleep
    start = time.process_time()
    while time.process_time() - start < 0.3:
        pass
    time.sleep(0.3)
    trial.finish(1.0)
elif program == "fail":
    print("boom", flush=True)
    sys.exit(3)
elif program == "hang":
    trial.handle_sigterm()
    while not trial.should_stop(min_interval=0.05):
        time.sleep(0.05)
    print("terminated cleanly", flush=True)
elif program == "ignore-term":
    import signal

    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    print("ignoring SIGTERM", flush=True)
    while True:
        time.sleep(0.05)
