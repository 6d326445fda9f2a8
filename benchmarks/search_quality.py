"""Search quality under parallelism: best value after a fixed budget, median over seeds.

    python -m benchmarks.search_quality [--quick] [--seeds 10] [--problems ...] [--out FILE]

Methods, all with the same budget per problem: hpo (the real Controller on the simulated
backend, default TPE with constant liar) at 1, 8 and 32 parallel; random search; the
synchronous loop hpo replaces (ask a batch of 8 or 32, wait for all, tell all); hpo at 32 given
the synchronous loop's wall-clock; and a plain asynchronous ask/tell loop without the
controller (the same sampler, to tell the controller's effect from the sampler's). Job durations
are log-normal and drawn the same way for every method; the wall-clock per trial is the
makespan divided by the budget (the synchronous loop waits for the slowest job of a batch).
"""

from __future__ import annotations

import argparse
import bisect
import heapq
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import optuna

from benchmarks.problems import Problem, problems
from benchmarks.schedule import ideal_makespan
from benchmarks.simstudy import create_study, lognormal_durations, make_spec, run_controller
from hpo.controller.clock import FakeClock
from hpo.spec import build

MEDIAN_S, SIGMA = 60.0, 0.5  # job durations: log-normal, median one minute


@dataclass(frozen=True)
class Outcome:
    best: float
    makespan: float
    known: float = math.nan  # mean share of earlier trials whose result an ask could use


def known_share(asked: list[float], ended: list[float]) -> float:
    """Mean over asks (after the first) of: results in by this ask / trials asked before it.
    1.0 for a sequential loop; what limits a parallel sampler at a fixed trial budget."""
    ends = sorted(ended)
    order = sorted(asked)
    shares = [bisect.bisect_right(ends, t) / k for k, t in enumerate(order) if k]
    return statistics.fmean(shares) if shares else math.nan


def durations(problem: Problem, seed: int, n: int) -> np.ndarray:
    return lognormal_durations(n, MEDIAN_S, SIGMA, 10_000 + seed)


def batch_makespan(jobs: np.ndarray, batch: int) -> float:
    """Wall-clock of the synchronous loop: each batch lasts as long as its slowest job."""
    return float(sum(max(jobs[i : i + batch]) for i in range(0, len(jobs), batch)))


def run_hpo(problem: Problem, seed: int, n: int, parallel: int,
            deadline: float | None = None) -> Outcome:  # fmt: skip
    """The real controller, in-memory storage, simulated jobs on a fake clock. With a
    ``deadline``: the best value among the trials that ended by then."""
    spec = make_spec(problem.name, problem.space, n, parallel, seed)
    study = create_study(spec, optuna.storages.InMemoryStorage())
    with tempfile.TemporaryDirectory() as tmp:
        run = run_controller(spec, study, durations(problem, seed, n), problem.objective,
                             FakeClock(), store_dir=Path(tmp))  # fmt: skip
    begin = min(job.start for job in run.backend.jobs.values())
    ends = [e for _, e in run.intervals()]
    known = known_share([j.submitted for j in run.backend.jobs.values()], ends)
    if deadline is None:
        return Outcome(study.best_value, max(ends) - begin, known)
    ended = {job.spec.trial: job.done.ended_at for job in run.backend.jobs.values() if job.done}
    values = [t.value for t in study.get_trials() if (ended[t.number] or 0) <= begin + deadline]
    return Outcome(min(values), deadline, known)


def run_hpo_same_time(problem: Problem, seed: int, n: int, parallel: int) -> Outcome:
    """hpo given the wall-clock the synchronous loop needs for ``n`` trials."""
    deadline = batch_makespan(durations(problem, seed, n), parallel)
    return run_hpo(problem, seed, math.ceil(2.5 * n), parallel, deadline)


def run_random(problem: Problem, seed: int, n: int, parallel: int) -> Outcome:
    """Random search; as it needs no feedback it keeps every slot busy (ideal schedule)."""
    spec = make_spec(problem.name, problem.space, n, parallel, seed)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    space = build.distributions(spec)
    for _ in range(n):
        trial = study.ask(space)
        study.tell(trial, problem.objective(trial.params))
    return Outcome(study.best_value, ideal_makespan(durations(problem, seed, n), parallel), 0.0)


def run_async(problem: Problem, seed: int, n: int, parallel: int) -> Outcome:
    """Plain asynchronous ask/tell (no controller): tell the first job to end, ask at once."""
    spec = make_spec(problem.name, problem.space, n, parallel, seed)
    study = create_study(spec, optuna.storages.InMemoryStorage())
    space, jobs = build.distributions(spec), durations(problem, seed, n)
    running: list[tuple[float, int, optuna.trial.Trial]] = []
    now, asks, ends = 0.0, [], []
    while running or len(asks) < n:
        while len(asks) < n and len(running) < parallel:
            trial = study.ask(space)
            heapq.heappush(running, (now + jobs[trial.number], trial.number, trial))
            asks.append(now)
        now, _, trial = heapq.heappop(running)
        study.tell(trial, problem.objective(trial.params))
        ends.append(now)
    return Outcome(study.best_value, now, known_share(asks, ends))


def run_sync(problem: Problem, seed: int, n: int, batch: int) -> Outcome:
    """Ask a batch, wait for every job of it, tell all, repeat (same TPE settings as hpo)."""
    spec = make_spec(problem.name, problem.space, n, batch, seed)
    study = create_study(spec, optuna.storages.InMemoryStorage())
    space, jobs = build.distributions(spec), durations(problem, seed, n)
    now, asks, ends = 0.0, [], []
    for done in range(0, n, batch):
        trials = [study.ask(space) for _ in range(min(batch, n - done))]
        for trial in trials:
            study.tell(trial, problem.objective(trial.params))
        asks += [now] * len(trials)
        ends += [now + jobs[t.number] for t in trials]
        now = max(ends[-len(trials) :])
    return Outcome(study.best_value, batch_makespan(jobs, batch), known_share(asks, ends))


RUNNERS: dict[str, Callable[[Problem, int, int], Outcome]] = {
    "hpo-1": lambda p, s, n: run_hpo(p, s, n, 1),
    "hpo-8": lambda p, s, n: run_hpo(p, s, n, 8),
    "hpo-32": lambda p, s, n: run_hpo(p, s, n, 32),
    "random": lambda p, s, n: run_random(p, s, n, 32),
    "sync-8": lambda p, s, n: run_sync(p, s, n, 8),
    "sync-32": lambda p, s, n: run_sync(p, s, n, 32),
    "hpo-32 @ sync-32 time": lambda p, s, n: run_hpo_same_time(p, s, n, 32),
    "async-32, no controller": lambda p, s, n: run_async(p, s, n, 32),
}
METHODS = list(RUNNERS)


def _one(args: tuple[str, str, int, int]) -> tuple[str, str, int, Outcome]:
    name, method, seed, n = args
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    problem = problems([name])[0]
    return name, method, seed, RUNNERS[method](problem, seed, n)


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b > 0 else ("1.00" if a == 0 else "inf")


def table(results: dict[tuple[str, str], list[Outcome]], chosen: list[Problem],
          n_by: dict[str, int]) -> str:  # fmt: skip
    """Markdown: median regret per method and problem, then the targets per problem."""
    regret = {(p.name, m): statistics.median(o.best - p.optimum for o in results[p.name, m])
              for p in chosen for m in METHODS}  # fmt: skip
    names = " | ".join(f"{p.name} ({n_by[p.name]})" for p in chosen)
    lines = [f"| method | wall-clock per trial s | results known per ask | {names} |",
             "|---" * (len(chosen) + 3) + "|"]  # fmt: skip
    for m in METHODS:
        outcomes = [o for p in chosen for o in results[p.name, m]]
        wall = statistics.median(o.makespan / n_by[p.name] for p in chosen
                                 for o in results[p.name, m])  # fmt: skip
        known = statistics.median(o.known for o in outcomes)
        cells = " | ".join(f"{regret[p.name, m]:.4g}" for p in chosen)
        lines.append(f"| {m} | {wall:.1f} | {known:.0%} | {cells} |")
    checks = {
        "hpo-32 regret / hpo-1 regret (target <= 1.10)": lambda r: _ratio(r("hpo-32"), r("hpo-1")),
        "hpo-32 beats random": lambda r: _beats(r("hpo-32"), r("random")),
        "hpo-32 beats sync-32 (same trials)": lambda r: _beats(r("hpo-32"), r("sync-32")),
        "hpo-8 beats sync-8 (same trials)": lambda r: _beats(r("hpo-8"), r("sync-8")),
        "hpo-32 beats sync-32 (same wall-clock)":
            lambda r: _beats(r("hpo-32 @ sync-32 time"), r("sync-32")),
    }  # fmt: skip
    lines += ["", f"| check | {' | '.join(p.name for p in chosen)} | count |",
              "|---" * (len(chosen) + 2) + "|"]  # fmt: skip
    for label, check in checks.items():
        cells = [check(lambda m, p=p: regret[p.name, m]) for p in chosen]
        count = sum(c == "yes" or (c[0].isdigit() and float(c) <= 1.10) for c in cells)
        ties = f" ({cells.count('tie')} tied)" if "tie" in cells else ""
        lines.append(f"| {label} | {' | '.join(cells)} | {count}/{len(chosen)}{ties} |")
    return "\n".join(lines)


def _beats(regret: float, other: float) -> str:
    """yes / no, or tie when both medians are equal (both found the optimum of a table task)."""
    return "yes" if regret < other else ("tie" if regret == other else "no")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 seeds (make bench)")
    parser.add_argument("--seeds", type=int, default=None, help="default 10")
    parser.add_argument("--problems", nargs="+", default=None)
    parser.add_argument("--trials-scale", type=float, default=1.0, help="scale every budget")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes")
    parser.add_argument("--out", type=Path, default=None, help="also write the table here")
    args = parser.parse_args(argv)
    args.seeds = args.seeds or (3 if args.quick else 10)
    chosen = problems(args.problems)  # builds the sklearn tables once, if missing
    n_by = {p.name: max(8, round(p.n_trials * args.trials_scale)) for p in chosen}
    work = [
        (p.name, m, s, n_by[p.name]) for p in chosen for m in METHODS for s in range(args.seeds)
    ]
    start = time.perf_counter()
    results: dict[tuple[str, str], list[Outcome]] = {}
    with ProcessPoolExecutor(args.jobs) as pool:
        for name, method, _seed, outcome in pool.map(_one, work, chunksize=4):
            results.setdefault((name, method), []).append(outcome)
    text = (
        f"Median regret (best value - optimum) over {args.seeds} seeds; lower is better. "
        f"Job durations log-normal, median {MEDIAN_S:.0f} s, sigma {SIGMA}.\n\n"
        + table(results, chosen, n_by)
        + f"\n\n({len(work)} runs in {time.perf_counter() - start:.0f} s)\n"
    )
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)


if __name__ == "__main__":
    sys.exit(main())
