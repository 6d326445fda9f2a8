"""AWS requests per trial of a Batch study, by API, and how long a freed GPU waits: the real
controller on the fake Batch lifecycle (tests.fakes.fake_batch), trial documents in moto's
S3, job state events through moto's EventBridge and SQS, instances in moto's ECS and EC2.

    python benchmarks/batch_requests.py [--trials 128] [--parallel 64] [--pruner none]
        [--poll 15] [--events] [--sigma 0] [--steps 3] [--seed 0]

Trainers are real subprocesses (tests/fakes/quick_trainer.py, standard library only) that
read params.json and write progress.json/result.json through the moto server. Only the
controller's requests are counted: per-trial (params in, SubmitJob, result out; TerminateJob
for pruned trials), polling (DescribeJobs, ListJobs, progress listings and reads, the events
queue), pricing (the instance and price of each attempt) and once-per-run setup. Target: at
most 3 per-trial requests per trial on average at 64 parallel jobs.

Time is warped (benchmarks/warp.py): the controller's own work costs real time, its waits
(and the fake Batch's work) cost none, so *slot idle*, the time from a job's end to the
submit of the job that takes its slot, is what the controller adds. Job run times are
log-normal around ``--run`` seconds (``--sigma`` 0: all equal).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # benchmarks.* when run as a script

from benchmarks.schedule import percentile  # noqa: E402
from benchmarks.warp import WarpClock  # noqa: E402
from hpo.storage import open_storage  # noqa: E402

QUICK_TRAINER = REPO / "tests" / "fakes" / "quick_trainer.py"
BUCKET = "hpo-bench"
TARGET = 3.0
REGION = "us-east-1"

STUDY = """\
name: bench
store: s3://{bucket}/{prefix}
objective: {{metric: loss, direction: minimize}}
search_space:
  x: {{type: float, low: -3, high: 3}}
  y: {{type: float, low: -3, high: 3}}
sampler: {{type: random, seed: 0}}
pruner: {pruner}
budget: {{n_trials: {trials}, max_parallel: {parallel}}}
trainer:
  command: [python, {trainer}, --steps, "{steps}", --result-delay, "{delay}"]
backend:
  type: batch
  job_queue: bench-queue
  image: 123456789012.dkr.ecr.us-east-1.amazonaws.com/hpo-trainer:bench
  poll_interval: {poll}
  stack: bench
  events: {events}
"""


@dataclass(frozen=True)
class Run:
    """One benchmark run's settings."""

    trials: int = 128
    parallel: int = 64
    pruner: str = "none"
    steps: int = 3
    poll: float = 15.0
    run_seconds: float = 300.0
    sigma: float = 0.0  # log-normal spread of the run times
    events: bool = False
    seed: int = 0


@dataclass(frozen=True)
class Report:
    """What one benchmark run counted."""

    run: Run
    trials: int
    summary: Any
    rows: list[Any]
    wall_seconds: float
    idle: list[float] = field(default_factory=list)  # slot idle, seconds

    @property
    def parallel(self) -> int:
        return self.run.parallel

    def per_trial(self, kind: str) -> float:
        from tests.fakes.requests import per_trial

        return per_trial(self.rows, self.trials, kind)

    def count(self, api: str) -> int:
        return sum(r.count for r in self.rows if r.api == api)


class SimClock(WarpClock):
    """A warp clock whose ``paused`` stretches (the fake Batch's own work) cost nothing."""

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        start = self.real()
        try:
            yield
        finally:
            self.skipped -= self.real() - start

    def skip(self, seconds: float) -> None:
        self.skipped += seconds


class Paused:
    """Calls into the fake Batch with the clock paused: its work is not the controller's."""

    def __init__(self, inner: Any, clock: SimClock) -> None:
        self._inner, self._clock = inner, clock

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            with self._clock.paused():
                return attr(*args, **kwargs)

        return call


def _study_file(workdir: Path, run: Run) -> Path:
    pruner = (
        "{type: none}" if run.pruner == "none" else f"{{type: {run.pruner}, n_startup_trials: 8}}"
    )
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "bench.yaml"
    values = {"bucket": BUCKET, "prefix": workdir.name, "pruner": pruner, "trials": run.trials,
              "parallel": run.parallel, "trainer": QUICK_TRAINER, "steps": run.steps,
              "delay": 0.5 if run.pruner != "none" else 0, "poll": run.poll,
              "events": str(run.events).lower()}  # fmt: skip
    path.write_text(STUDY.format(**values))
    return path


def _plan_runs(fake: Any, run: Run) -> None:
    """Each trial's RUNNING time: log-normal around ``run_seconds`` (seeded)."""
    from tests.fakes.fake_batch import JobPlan

    rng = random.Random(run.seed)
    for n in range(run.trials + run.parallel):
        seconds = run.run_seconds * (rng.lognormvariate(0, run.sigma) if run.sigma else 1.0)
        fake.plan(f"bench-{n}-*", JobPlan(run=round(seconds, 3)))


def _slot_idle(jobs: list[Any], slots: int) -> list[float]:
    """Per freed slot: its job's end to the next submit that took a slot (FIFO)."""
    starts = sorted(j.created for j in jobs)
    ends = sorted(j.attempts[-1].stopped for j in jobs if j.attempts and j.attempts[-1].stopped)
    return [max(0.0, start - end) for end, start in zip(ends, starts[slots:], strict=False)]


def _camel(name: str) -> str:
    """``receive_message`` -> ``ReceiveMessage``."""
    return "".join(part.title() for part in name.split("_"))


def measure(endpoint: str, s3: Any, workdir: Path, run: Run) -> Report:
    """Run one study (moto must be active and ``BUCKET`` exist); count its requests."""
    import boto3

    from hpo.backends.batch import BatchClients, make_batch_backend
    from hpo.backends.batch.client import Timer
    from hpo.controller.loop import Controller
    from hpo.spec import build
    from hpo.spec.loader import load_study
    from hpo.store.s3 import S3Store
    from tests.fakes.fake_batch import FakeBatch, Timings
    from tests.fakes.fake_events import BatchEvents, FakeTimeSqs, StackOutputs, event_outputs
    from tests.fakes.fake_prices import make_fleet
    from tests.fakes.moto_env import container_env
    from tests.fakes.requests import ApiTally, S3Tally, tally

    study = load_study(_study_file(workdir, run))
    clock = SimClock()
    timings = Timings(submitted=2, runnable=20, starting=10, run=run.run_seconds)
    fake = FakeBatch(clock, timings=timings, container_env=container_env(endpoint),
                     workdir=workdir / "batch")  # fmt: skip
    _plan_runs(fake, run)
    ecs, ec2 = boto3.client("ecs", region_name=REGION), boto3.client("ec2", region_name=REGION)
    fleet = make_fleet(ecs, ec2, spot=run.parallel, on_demand=0)
    fake.place_on(list(fleet.hosts.values()))
    sqs, events = (
        boto3.client("sqs", region_name=REGION),
        boto3.client("events", region_name=REGION),
    )
    outputs = event_outputs(sqs, "hpo-ev-bench")  # the stack's part, made before counting
    fake.emit_to(BatchEvents(boto3.client("events", region_name=REGION)))
    batch = Paused(fake, clock)
    services = ((events, "events"), (ecs, "ecs"), (ec2, "ec2"))  # SQS: the controller's calls
    tallies = [ApiTally(client, name) for client, name in services]
    queue = FakeTimeSqs(sqs, batch, clock.now, clock.skip)  # counts what the controller asks
    clients = BatchClients(
        batch=batch, cloudformation=StackOutputs(outputs),
        region=REGION, timer=Timer(monotonic=clock.monotonic, sleep=clock.skip),
        sqs=queue, events=events,
        ecs=fleet.ecs, ec2=fleet.ec2, pricing=fleet.pricing,
    )  # fmt: skip
    counter = S3Tally(s3)
    backend = make_batch_backend(study, clients=clients)
    store = S3Store.from_uri(study.store_root, client=s3)
    optuna_study = build.create_study(study, open_storage(study.storage_url))
    started = time.perf_counter()
    try:
        summary = Controller(optuna_study, study.spec, backend, store, clock=clock).run()
    finally:
        backend.close()
        fake.close()
    wall = time.perf_counter() - started
    prices = Counter({"ec2 DescribeSpotPriceHistory": len(fleet.ec2.asked),
                      "pricing GetProducts": len(fleet.pricing.asked)})  # fmt: skip
    asked = Counter({f"sqs {_camel(name)}": n for name, n in queue.calls.items()})
    rows = tally(fake.calls, counter, *(t.counts for t in tallies), prices, asked)
    done = summary.complete + summary.pruned + summary.failed
    return Report(run, done, summary, rows, wall, _slot_idle(fake.jobs(), run.parallel))


def render(report: Report) -> str:
    """The table the script prints."""
    from tests.fakes.requests import PER_TRIAL, POLLING, PRICING, SETUP

    s, run = report.summary, report.run
    mode = "events" if run.events else "polling"
    lines = [
        f"{report.trials} trials at {run.parallel} parallel, {mode}, poll_interval {run.poll:g}: "
        f"{s.complete} complete, {s.pruned} pruned, {s.failed} failed; "
        f"{report.wall_seconds:.1f}s wall",
        "",
        f"{'API':<36} {'kind':<10} {'requests':>9} {'per trial':>10}",
    ]
    for row in report.rows:
        per = row.count / max(1, report.trials)
        lines.append(f"{row.api:<36} {row.kind:<10} {row.count:>9} {per:>10.3f}")
    beyond = report.per_trial(PER_TRIAL)
    verdict = "meets" if beyond <= TARGET else "MISSES"
    idle = report.idle
    lines += [
        "",
        f"per trial, beyond polling: {beyond:.3f} ({verdict} the target of <= {TARGET:g})",
        f"polling per trial: {report.per_trial(POLLING):.3f}; DescribeJobs per trial "
        f"{report.count('batch DescribeJobs') / max(1, report.trials):.3f}",
        f"pricing per trial: {report.per_trial(PRICING):.3f}",
        f"setup per run: {sum(r.count for r in report.rows if r.kind == SETUP)} requests",
        f"slot idle s: mean {sum(idle) / max(1, len(idle)):.2f}, p50 {percentile(idle, 50):.2f}, "
        f"p99 {percentile(idle, 99):.2f}, max {max(idle, default=0):.2f} ({len(idle)} slots)",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=128)
    parser.add_argument("--parallel", type=int, default=64)
    parser.add_argument("--pruner", default="none", choices=["none", "median"])
    parser.add_argument("--steps", type=int, default=3, help="progress reports per trial")
    parser.add_argument("--poll", type=float, default=15.0, help="backend.poll_interval")
    parser.add_argument("--run", type=float, default=300.0, help="median RUNNING seconds")
    parser.add_argument("--sigma", type=float, default=0.0, help="log-normal spread of runs")
    parser.add_argument("--events", action="store_true", help="job state events (else poll)")
    parser.add_argument("--seed", type=int, default=0, help="seeds the run times")
    args = parser.parse_args(argv)
    run = Run(args.trials, args.parallel, args.pruner, args.steps, args.poll, args.run,
              args.sigma, args.events, args.seed)  # fmt: skip
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": REGION}.items():  # fmt: skip
        os.environ[name] = value
    os.environ.pop("AWS_PROFILE", None)
    os.environ.pop("AWS_ENDPOINT_URL", None)

    import boto3
    import optuna
    from moto import mock_aws

    from tests.fakes.moto_env import moto_server

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with mock_aws(), moto_server() as endpoint, tempfile.TemporaryDirectory() as tmp:
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        report = measure(endpoint, s3, Path(tmp), run)
    print(render(report))
    from tests.fakes.requests import PER_TRIAL

    return 0 if report.per_trial(PER_TRIAL) <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
