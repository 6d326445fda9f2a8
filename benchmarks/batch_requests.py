"""AWS requests per trial of a Batch study, by API: the real controller on the fake Batch
lifecycle (hpo.testing.fake_batch) with trial documents in moto's S3.

    python benchmarks/batch_requests.py [--trials 128] [--parallel 64] [--pruner none]

Trainers are real subprocesses (hpo/testing/quick_trainer.py, standard library only) that
read params.json and write progress.json/result.json through the moto server. Only the
controller's requests are counted; they are split into per-trial requests (params in,
SubmitJob, result out; TerminateJob for pruned trials), progress polling
(DescribeJobs, ListJobs, progress listings and reads) and once-per-run setup (the job
definition). Target: at most 3 per-trial requests per trial on average at 64 parallel jobs.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
QUICK_TRAINER = REPO / "hpo" / "testing" / "quick_trainer.py"
BUCKET = "hpo-bench"
TARGET = 3.0

STUDY = """\
name: bench
store: s3://{bucket}/runs
objective: {{metric: loss, direction: minimize}}
search_space:
  x: {{type: float, low: -3, high: 3}}
  y: {{type: float, low: -3, high: 3}}
sampler: {{type: random, seed: 0}}
pruner: {pruner}
budget: {{n_trials: {trials}, max_parallel: {parallel}}}
trainer:
  command: [python, {trainer}, --steps, "{steps}"]
backend:
  type: batch
  job_queue: bench-queue
  image: 123456789012.dkr.ecr.us-east-1.amazonaws.com/hpo-trainer:bench
  poll_interval: {poll}
"""


@dataclass(frozen=True)
class Report:
    """What one benchmark run counted."""

    trials: int
    parallel: int
    summary: Any
    rows: list[Any]
    ticks: int
    wall_seconds: float

    def per_trial(self, kind: str) -> float:
        from hpo.testing.requests import per_trial

        return per_trial(self.rows, self.trials, kind)


def measure(
    endpoint: str,
    s3: Any,
    workdir: Path,
    *,
    trials: int = 128,
    parallel: int = 64,
    pruner: str = "none",
    steps: int = 3,
    poll: float = 15.0,
    run_seconds: float = 300.0,
) -> Report:
    """Run one study (moto must be active and ``BUCKET`` exist); count its requests."""
    from hpo.backends.batch import BatchClients, make_batch_backend
    from hpo.backends.batch.client import Timer
    from hpo.controller.clock import FakeClock
    from hpo.controller.loop import Controller
    from hpo.spec import build
    from hpo.spec.loader import load_study
    from hpo.store.s3 import S3Store
    from hpo.testing.fake_batch import FakeBatch, Timings
    from hpo.testing.moto_env import container_env
    from hpo.testing.requests import S3Tally, tally

    path = workdir / "bench.yaml"
    pruner_yaml = "{type: none}" if pruner == "none" else f"{{type: {pruner}, n_startup_trials: 8}}"
    values = {"bucket": BUCKET, "pruner": pruner_yaml, "trials": trials, "parallel": parallel}
    values.update(trainer=QUICK_TRAINER, steps=steps, poll=poll)
    path.write_text(STUDY.format(**values))
    study = load_study(path)
    clock = FakeClock()
    timings = Timings(submitted=2, runnable=20, starting=10, run=run_seconds)
    fake = FakeBatch(clock, timings=timings, container_env=container_env(endpoint),
                     workdir=workdir / "batch")  # fmt: skip
    clients = BatchClients(batch=fake, region="us-east-1",
                           timer=Timer(monotonic=clock.monotonic, sleep=clock.advance))  # fmt: skip
    counter = S3Tally(s3)
    backend = make_batch_backend(study, clients=clients)
    store = S3Store.from_uri(study.store_root, client=s3)
    optuna_study = build.create_study(study, build.storage(study.storage_url))
    started = time.perf_counter()
    try:
        summary = Controller(optuna_study, study.spec, backend, store, clock=clock).run()
    finally:
        backend.close()
        fake.close()
    wall = time.perf_counter() - started
    done = summary.complete + summary.pruned + summary.failed
    rows = tally(fake.calls, counter)
    return Report(done, parallel, summary, rows, fake.calls["DescribeJobs"], wall)


def render(report: Report) -> str:
    """The table the script prints."""
    from hpo.testing.requests import PER_TRIAL, POLLING, SETUP

    s = report.summary
    lines = [
        f"{report.trials} trials at {report.parallel} parallel: {s.complete} complete, "
        f"{s.pruned} pruned, {s.failed} failed; {report.ticks} controller polls; "
        f"{report.wall_seconds:.1f}s wall",
        "",
        f"{'API':<36} {'kind':<10} {'requests':>9} {'per trial':>10}",
    ]
    for row in report.rows:
        per = row.count / max(1, report.trials)
        lines.append(f"{row.api:<36} {row.kind:<10} {row.count:>9} {per:>10.3f}")
    beyond = report.per_trial(PER_TRIAL)
    verdict = "meets" if beyond <= TARGET else "MISSES"
    lines += [
        "",
        f"per trial, beyond progress polling: {beyond:.3f} ({verdict} the target of <= {TARGET:g})",
        f"progress polling per trial: {report.per_trial(POLLING):.3f}"
        f"  (DescribeJobs per poll: 1 per 100 running jobs)",
        f"setup per run: {sum(r.count for r in report.rows if r.kind == SETUP)} requests",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=128)
    parser.add_argument("--parallel", type=int, default=64)
    parser.add_argument("--pruner", default="none", choices=["none", "median"])
    parser.add_argument("--steps", type=int, default=3, help="progress reports per trial")
    args = parser.parse_args(argv)
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "us-east-1"}.items():  # fmt: skip
        os.environ[name] = value
    os.environ.pop("AWS_PROFILE", None)
    os.environ.pop("AWS_ENDPOINT_URL", None)

    import boto3
    import optuna
    from moto import mock_aws

    from hpo.testing.moto_env import moto_server

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with mock_aws(), moto_server() as endpoint, tempfile.TemporaryDirectory() as tmp:
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        report = measure(endpoint, s3, Path(tmp), trials=args.trials, parallel=args.parallel,
                         pruner=args.pruner, steps=args.steps)  # fmt: skip
    print(render(report))
    from hpo.testing.requests import PER_TRIAL

    return 0 if report.per_trial(PER_TRIAL) <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
