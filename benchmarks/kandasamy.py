"""Parallel BO under a time budget, in the setting of Kandasamy et al. (AISTATS 2018).

    python -m benchmarks.kandasamy [--seeds 10] [--settings ...] [--methods ...] [--raw FILE]

``hpo-optuna_gp`` (Optuna's GPSampler; torch) runs only when named in ``--methods``.

"Parallelised Bayesian Optimisation via Thompson Sampling" compares parallel optimisers on
functions over [0, 1]^d observed with Gaussian noise, evaluations whose durations are random
with mean 1 (exponential, half-normal or Pareto), M workers and a budget of T time units. The
score is the simple regret at T: the best *noiseless* value among the trials that ended by T,
minus the optimum. Asynchronous methods keep all M workers busy; the synchronous loop waits
for the slowest evaluation of each batch, so it runs fewer trials in the same time.

Methods: ``hpo-auto`` and ``hpo-tpe`` are the real Controller (simulated backend, fake clock)
with that sampler and M trials in flight; ``sync-auto`` asks M, waits for all M, tells all;
``random`` is random search with M workers (it needs no results, so it is asynchronous too);
``sequential`` is hpo with one worker and the same T. Durations are scaled to a mean of 60 s
and the controller polls every second (1/60 of a mean evaluation).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import optuna

from benchmarks.problems import hartmann6
from benchmarks.simstudy import create_study, make_spec, runnable_methods
from hpo.backends.base import JobSpec
from hpo.backends.simulated import SimPlan, SimulatedBackend
from hpo.controller.clock import FakeClock
from hpo.controller.loop import Controller
from hpo.spec import build
from hpo.store.local import LocalStore

UNIT = 60.0  # seconds per time unit (the mean evaluation)
H6_OPTIMUM = -3.32237
SPACE = {f"x{i}": {"type": "float", "low": 0.0, "high": 1.0} for i in range(6)}


@dataclass(frozen=True)
class Setting:
    """One row of the benchmark: workers, time budget, noise and duration distribution."""

    name: str
    workers: int
    budget: float  # in time units
    noise: float
    durations: str  # exponential | halfnormal | pareto

    def draw(self, n: int, seed: int) -> np.ndarray:
        """``n`` evaluation durations with mean 1, in seconds (times :data:`UNIT`)."""
        rng = np.random.default_rng(20_000 + seed)
        if self.durations == "exponential":
            out = rng.exponential(1.0, n)
        elif self.durations == "halfnormal":
            out = np.abs(rng.normal(0.0, math.sqrt(math.pi / 2), n))
        else:  # Pareto with shape 3 (finite mean and variance, a heavy tail), mean 1
            shape = 3.0
            out = (rng.pareto(shape, n) + 1.0) * (shape - 1) / shape
        return np.maximum(out, 1e-3) * UNIT


SETTINGS = {
    "h6-exp-12": Setting("h6-exp-12", 12, 30.0, 0.05, "exponential"),
    "h6-halfnormal-12": Setting("h6-halfnormal-12", 12, 30.0, 0.05, "halfnormal"),
    "h6-pareto-16": Setting("h6-pareto-16", 16, 30.0, 0.05, "pareto"),
}
METHODS = ["hpo-auto", "hpo-tpe", "sync-auto", "random", "sequential", "hpo-optuna_gp"]
DEFAULT_METHODS = METHODS[:-1]  # Optuna's GPSampler needs torch and minutes a run: on request


def _noisy(setting: Setting, seed: int) -> Callable[[Mapping[str, Any], int], float]:
    def observe(params: Mapping[str, Any], number: int) -> float:
        noise = np.random.default_rng([30_000 + seed, number]).normal(0.0, setting.noise)
        return hartmann6(params) + float(noise)

    return observe


def run_async(setting: Setting, seed: int, sampler: str, workers: int) -> float:
    """The controller with ``workers`` in flight until the budget's time; regret at T."""
    deadline = setting.budget * UNIT
    n = int(3 * workers * setting.budget) + 10
    spec = make_spec("kandasamy", SPACE, n, workers, seed, {"type": sampler})
    spec = spec.model_copy(update={"budget": spec.budget.model_copy(update={"timeout": deadline})})
    study = create_study(spec, optuna.storages.InMemoryStorage())
    jobs, observe = setting.draw(n, seed), _noisy(setting, seed)

    def planner(job: JobSpec, params: Mapping[str, Any]) -> SimPlan:
        return SimPlan(duration=float(jobs[job.trial]),
                       result={"value": observe(params, job.trial)})  # fmt: skip

    clock = FakeClock()
    with tempfile.TemporaryDirectory() as tmp:
        store = LocalStore(Path(tmp))
        backend = SimulatedBackend(store, planner, clock.now, poll_interval=1.0)
        Controller(study, spec, backend, store, clock=clock).run()
        begin = min(j.start for j in backend.jobs.values())
        ended = {j.spec.trial for j in backend.jobs.values()
                 if j.done and j.done.ended_at is not None
                 and j.done.ended_at <= begin + deadline}  # fmt: skip
    return _regret([t.params for t in study.get_trials() if t.number in ended])


def run_sync(setting: Setting, seed: int) -> float:
    """Ask M, wait for the slowest of them, tell all; regret among the batches done by T."""
    m, deadline = setting.workers, setting.budget * UNIT
    n = int(3 * m * setting.budget) + 10
    spec = make_spec("kandasamy", SPACE, n, m, seed, {"type": "auto"})
    study = create_study(spec, optuna.storages.InMemoryStorage())
    space, jobs, observe = build.distributions(spec), setting.draw(n, seed), _noisy(setting, seed)
    now, done = 0.0, []
    while True:
        trials = [study.ask(space) for _ in range(m)]
        now += max(jobs[t.number] for t in trials)
        if now > deadline:
            break
        for t in trials:
            study.tell(t, observe(t.params, t.number))
            done.append(t.params)
    return _regret(done)


def run_random(setting: Setting, seed: int) -> float:
    """Random search on M workers: trials end as list scheduling says."""
    m, deadline = setting.workers, setting.budget * UNIT
    n = int(3 * m * setting.budget) + 10
    jobs = setting.draw(n, seed)
    free, ended = [0.0] * m, []
    rng = np.random.default_rng(seed)
    for k in range(n):
        slot = int(np.argmin(free))
        free[slot] += jobs[k]
        if free[slot] <= deadline:
            ended.append({name: float(v) for name, v in zip(SPACE, rng.random(6), strict=True)})
    return _regret(ended)


def _regret(params: list[Mapping[str, Any]]) -> float:
    return min((hartmann6(p) for p in params), default=0.0) - H6_OPTIMUM


def _one(args: tuple[str, str, int]) -> tuple[str, str, int, float]:
    name, method, seed = args
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    s = SETTINGS[name]
    run: dict[str, Callable[[], float]] = {
        "hpo-auto": lambda: run_async(s, seed, "auto", s.workers),
        "hpo-tpe": lambda: run_async(s, seed, "tpe", s.workers),
        "hpo-optuna_gp": lambda: run_async(s, seed, "optuna_gp", s.workers),
        "sync-auto": lambda: run_sync(s, seed),
        "random": lambda: run_random(s, seed),
        "sequential": lambda: run_async(s, seed, "auto", 1),
    }
    return name, method, seed, run[method]()


def table(results: dict[tuple[str, str], list[float]], names: list[str], methods: list[str]) -> str:
    lines = ["| setting | " + " | ".join(methods) + " |", "|---" * (len(methods) + 1) + "|"]
    for name in names:
        s = SETTINGS[name]
        label = f"{name} (M={s.workers}, T={s.budget:g}, sigma={s.noise:g}, {s.durations})"
        cells = [f"{statistics.median(results[name, m]):.3g}" if (name, m) in results else "-"
                 for m in methods]  # fmt: skip
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--methods", nargs="+", default=None, choices=METHODS,
                        help=f"default: {DEFAULT_METHODS}")  # fmt: skip
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--raw", type=Path, help="JSON lines of every run; reused when present")
    parser.add_argument("--out", type=Path, help="also write the table here")
    args = parser.parse_args(argv)
    args.methods = runnable_methods(args.methods or DEFAULT_METHODS, named=args.methods is not None)
    done: dict[tuple[str, str, int], float] = {}
    if args.raw and args.raw.exists():
        for line in args.raw.read_text().splitlines():
            r = json.loads(line)
            done[r["setting"], r["method"], r["seed"]] = r["regret"]
    work = [(n, m, s) for n in args.settings for m in args.methods for s in range(args.seeds)
            if (n, m, s) not in done]  # fmt: skip
    start = time.perf_counter()
    with ProcessPoolExecutor(args.jobs) as pool:
        for name, method, seed, regret in pool.map(_one, work, chunksize=1):
            done[name, method, seed] = regret
            if args.raw:
                with args.raw.open("a") as f:
                    row = {"setting": name, "method": method, "seed": seed, "regret": regret}
                    f.write(json.dumps(row) + "\n")
    results: dict[tuple[str, str], list[float]] = {}
    for (name, method, seed), regret in sorted(done.items()):
        if name in args.settings and method in args.methods and seed < args.seeds:
            results.setdefault((name, method), []).append(regret)
    text = (f"Median simple regret at T over {args.seeds} seeds (Hartmann-6, noiseless value "
            "of the best trial ended by T; lower is better).\n\n"
            + table(results, args.settings, args.methods)
            + f"\n\n({len(work)} runs in {time.perf_counter() - start:.0f} s)\n")  # fmt: skip
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    sys.exit(main())
