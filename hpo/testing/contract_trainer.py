"""The trainer of the backend contract's jobs: its behaviour chosen by ``HPO_TEST_PROGRAM``.

``succeed`` finishes with 1.5; ``fail`` prints ``boom`` and exits 3; ``hang`` runs until
SIGTERM, then exits cleanly; ``burn`` uses 0.3 s of CPU, sleeps 0.3 s and finishes with 1.0;
``ignore-term`` ignores SIGTERM and runs until killed.
"""

from __future__ import annotations

import os
import signal
import sys
import time

from hpo import worker

PROGRAM_ENV = "HPO_TEST_PROGRAM"


def main() -> None:
    program = os.environ[PROGRAM_ENV]
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
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("ignoring SIGTERM", flush=True)
        while True:
            time.sleep(0.05)
    else:
        sys.exit(f"unknown {PROGRAM_ENV}: {program!r}")


if __name__ == "__main__":
    main()
