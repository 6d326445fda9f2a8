"""Search quality under parallelism: best value after a fixed budget, median over seeds.

    python -m benchmarks.search_quality [--quick] [--seeds 10] [--problems ...]
                                        [--methods ...] [--out FILE]

Methods, all with the same budget per problem. ``<sampler>-<k>`` is hpo (the real Controller
on the simulated backend) with that sampler and ``k`` trials in flight: ``tpe`` (the default
before ``auto``: TPE, multivariate, constant liar), ``auto`` (hpo's default: GP-based BO on
these numeric spaces), ``gp`` (hpo's GP sampler named explicitly), ``optuna_gp`` (Optuna's
GPSampler, qLogEI over running trials; needs torch). ``random`` is random search.
``sync-<sampler>-32`` is the synchronous loop hpo replaces (ask 32, wait for all 32 jobs, tell
all, repeat). ``auto-32 @ sync time`` is hpo at 32 given the wall-clock the synchronous loop
needs for its budget. Job durations are log-normal and drawn the same way for every method;
the wall-clock per trial is the makespan divided by the budget (the synchronous loop waits for
the slowest job of a batch).
"""

from __future__ import annotations

import argparse
import bisect
import dataclasses
import json
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
from benchmarks.simstudy import (
    create_study,
    lognormal_durations,
    make_spec,
    run_controller,
    runnable_methods,
)
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


def run_hpo(problem: Problem, seed: int, n: int, parallel: int, sampler: str,
            deadline: float | None = None) -> Outcome:  # fmt: skip
    """The real controller, in-memory storage, simulated jobs on a fake clock. With a
    ``deadline``: the best value among the trials that ended by then."""
    spec = make_spec(problem.name, problem.space, n, parallel, seed, {"type": sampler})
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


def run_hpo_same_time(problem: Problem, seed: int, n: int, parallel: int,
                      sampler: str) -> Outcome:  # fmt: skip
    """hpo given the wall-clock the synchronous loop needs for ``n`` trials."""
    deadline = batch_makespan(durations(problem, seed, n), parallel)
    return run_hpo(problem, seed, math.ceil(2.5 * n), parallel, sampler, deadline)


def run_random(problem: Problem, seed: int, n: int, parallel: int) -> Outcome:
    """Random search; as it needs no feedback it keeps every slot busy (ideal schedule)."""
    spec = make_spec(problem.name, problem.space, n, parallel, seed)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    space = build.distributions(spec)
    for _ in range(n):
        trial = study.ask(space)
        study.tell(trial, problem.objective(trial.params))
    return Outcome(study.best_value, ideal_makespan(durations(problem, seed, n), parallel), 0.0)


def run_sync(problem: Problem, seed: int, n: int, batch: int, sampler: str) -> Outcome:
    """Ask a batch, wait for every job of it, tell all, repeat (the same sampler as hpo's)."""
    spec = make_spec(problem.name, problem.space, n, batch, seed, {"type": sampler})
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


def _runner(method: str) -> Callable[[Problem, int, int], Outcome]:
    """The function that runs ``method`` (see the module docstring for the names)."""
    if method == "random":
        return lambda p, s, n: run_random(p, s, n, 32)
    if method.endswith(" @ sync time"):
        sampler, k = method.split(" ")[0].rsplit("-", 1)
        return lambda p, s, n: run_hpo_same_time(p, s, n, int(k), sampler)
    if method.startswith("sync-"):
        sampler, k = method[len("sync-") :].rsplit("-", 1)
        return lambda p, s, n: run_sync(p, s, n, int(k), sampler)
    sampler, k = method.rsplit("-", 1)
    return lambda p, s, n: run_hpo(p, s, n, int(k), sampler)


METHODS = ["tpe-1", "tpe-8", "tpe-32", "auto-1", "auto-8", "auto-32", "optuna_gp-32", "random",
           "sync-tpe-32", "sync-auto-32", "auto-32 @ sync time", "gp-32"]  # fmt: skip
QUICK_METHODS = ["tpe-1", "tpe-32", "auto-32", "random", "sync-tpe-32"]  # make bench


def _one(args: tuple[str, str, int, int]) -> tuple[str, str, int, Outcome]:
    name, method, seed, n = args
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    problem = problems([name])[0]
    return name, method, seed, _runner(method)(problem, seed, n)


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b > 0 else ("1.00" if a == 0 else "inf")


def _beats(regret: float, other: float) -> str:
    """yes / no, or tie when both medians are equal (both found the optimum of a table task)."""
    return "yes" if regret < other else ("tie" if regret == other else "no")


def _not_worse(regret: float, other: float) -> str:
    return "yes" if regret <= other else "no"


# label, the two methods compared, how
CHECKS = [
    ("auto-32 beats tpe-1 (the old default, sequential)", "auto-32", "tpe-1", _beats),
    ("auto-32 not worse than tpe-32", "auto-32", "tpe-32", _not_worse),
    ("auto-32 beats sync-auto-32 (same trials)", "auto-32", "sync-auto-32", _beats),
    ("auto-32 beats sync-tpe-32 (same trials)", "auto-32", "sync-tpe-32", _beats),
    ("auto-32 beats random", "auto-32", "random", _beats),
    ("auto-8 beats tpe-8", "auto-8", "tpe-8", _beats),
    ("auto-32 beats sync-auto-32 (same wall-clock)", "auto-32 @ sync time", "sync-auto-32",
     _beats),
    ("auto-32 regret / auto-1 regret", "auto-32", "auto-1", _ratio),
    ("auto-32 regret / optuna_gp-32 regret", "auto-32", "optuna_gp-32", _ratio),
]  # fmt: skip


def table(results: dict[tuple[str, str], list[Outcome]], chosen: list[Problem],
          n_by: dict[str, int]) -> str:  # fmt: skip
    """Markdown: median regret per method and problem, then the checks per problem."""
    methods = [m for m in METHODS if all((p.name, m) in results for p in chosen)]
    methods += sorted({m for _, m in results} - set(methods) - set(METHODS))
    methods = [m for m in methods if all((p.name, m) in results for p in chosen)]
    regret = {(p.name, m): statistics.median(o.best - p.optimum for o in results[p.name, m])
              for p in chosen for m in methods}  # fmt: skip
    seeds = {len(results[p.name, m]) for p in chosen for m in methods}
    names = " | ".join(f"{p.name} ({n_by[p.name]})" for p in chosen)
    lines = [f"| method | wall-clock per trial s | results known per ask | {names} |",
             "|---" * (len(chosen) + 3) + "|"]  # fmt: skip
    for m in methods:
        outcomes = [o for p in chosen for o in results[p.name, m]]
        wall = statistics.median(o.makespan / n_by[p.name] for p in chosen
                                 for o in results[p.name, m])  # fmt: skip
        known = statistics.median(o.known for o in outcomes)
        cells = " | ".join(f"{regret[p.name, m]:.4g}" for p in chosen)
        lines.append(f"| {m} | {wall:.1f} | {known:.0%} | {cells} |")
    lines += ["", f"| check | {' | '.join(p.name for p in chosen)} | count |",
              "|---" * (len(chosen) + 2) + "|"]  # fmt: skip
    for label, a, b, check in CHECKS:
        if a not in methods or b not in methods:
            continue
        cells = [check(regret[p.name, a], regret[p.name, b]) for p in chosen]
        count = sum(c == "yes" or (c[0].isdigit() and float(c) < 1.0) for c in cells)
        ties = f" ({cells.count('tie')} tied)" if "tie" in cells else ""
        unit = "below 1" if check is _ratio else "yes"
        lines.append(f"| {label} | {' | '.join(cells)} | {count}/{len(chosen)} {unit}{ties} |")
    lines.append(f"\nSeeds per cell: {', '.join(str(k) for k in sorted(seeds))}.")
    return "\n".join(lines)


def _load(raw: Path | None) -> dict[tuple[str, str, int], Outcome]:
    """Runs already recorded in ``raw`` (a JSON-lines file), by problem, method and seed."""
    done: dict[tuple[str, str, int], Outcome] = {}
    if raw is not None and raw.exists():
        for line in raw.read_text().splitlines():
            if line.strip():
                r = json.loads(line)
                done[r["problem"], r["method"], r["seed"]] = Outcome(r["best"], r["makespan"],
                                                                     r["known"])  # fmt: skip
    return done


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"3 seeds of {QUICK_METHODS} (make bench)")  # fmt: skip
    parser.add_argument("--seeds", type=int, default=None, help="default 10")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--problems", nargs="+", default=None)
    parser.add_argument("--methods", nargs="+", default=None, help=f"default: {METHODS}")
    parser.add_argument("--trials-scale", type=float, default=1.0, help="scale every budget")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes")
    parser.add_argument("--raw", type=Path, default=None,
                        help="JSON lines of every run: appended as runs end, reused when "
                             "present (a long run can be stopped and resumed)")  # fmt: skip
    parser.add_argument("--report", action="store_true", help="only the table, from --raw")
    parser.add_argument("--out", type=Path, default=None, help="also write the table here")
    args = parser.parse_args(argv)
    args.seeds = args.seeds or (3 if args.quick else 10)
    chosen = problems(args.problems)  # builds the sklearn tables once, if missing
    n_by = {p.name: max(8, round(p.n_trials * args.trials_scale)) for p in chosen}
    methods = args.methods or (QUICK_METHODS if args.quick else METHODS)
    if not args.report:
        methods = runnable_methods(methods, named=args.methods is not None)
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    done = _load(args.raw)
    work = [(p.name, m, s, n_by[p.name]) for p in chosen for m in methods for s in seeds
            if (p.name, m, s) not in done]  # fmt: skip
    start = time.perf_counter()
    if work and not args.report:
        with ProcessPoolExecutor(args.jobs) as pool:
            for name, method, seed, outcome in pool.map(_one, work, chunksize=1):
                done[name, method, seed] = outcome
                if args.raw is not None:
                    with args.raw.open("a") as f:
                        f.write(json.dumps({"problem": name, "method": method, "seed": seed,
                                            **dataclasses.asdict(outcome)}) + "\n")  # fmt: skip
    results: dict[tuple[str, str], list[Outcome]] = {}
    for (name, method, seed), outcome in sorted(done.items()):
        if name in n_by and method in methods and seed in seeds:
            results.setdefault((name, method), []).append(outcome)
    text = (
        f"Median regret (best value - optimum) over seeds {seeds.start}-{seeds.stop - 1}; "
        f"lower is better. Job durations log-normal, median {MEDIAN_S:.0f} s, sigma {SIGMA}."
        "\n\n"
        + table(results, chosen, n_by)
        + f"\n\n({len(work)} runs in {time.perf_counter() - start:.0f} s)\n"
    )
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)


if __name__ == "__main__":
    sys.exit(main())
