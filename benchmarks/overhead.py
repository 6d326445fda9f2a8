"""Controller overhead at scale, on a time-warped clock (see ``warp.py``).

    python -m benchmarks.overhead [--quick] [--storage journal sqlite] [--profile] [--out FILE]

Part 1, utilisation: N trials at P parallel (default 2,000 at 64) with log-normal job
durations: makespan / ideal list-scheduling makespan, idle time of a slot between a job
ending and the next starting, controller CPU per trial; once per storage.
Part 2, throughput: H finished trials of history (default 10,000), P parallel (default 1,000),
jobs whose durations offer a given completion rate; the rate the controller absorbs, slot idle
times once the first fill is done, and the process's peak memory. The real Controller, real
Optuna storage and the default TPE sampler; only the training is simulated.
"""

from __future__ import annotations

import argparse
import cProfile
import math
import os
import pstats
import resource
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna

from benchmarks.schedule import ideal_makespan, percentile, slot_gaps
from benchmarks.simstudy import (
    SimRun,
    add_history,
    create_study,
    lognormal_durations,
    make_spec,
    open_storage,
    run_controller,
)
from benchmarks.warp import WarpClock

SPACE: dict[str, dict[str, Any]] = {
    "lr": {"type": "float", "low": 1e-5, "high": 1e-1, "log": True},
    "layers": {"type": "int", "low": 1, "high": 8},
    "dropout": {"type": "float", "low": 0.0, "high": 0.5},
    "optimizer": {"type": "categorical", "choices": ["adam", "sgd", "rmsprop"]},
}
PROFILE_GROUPS = [  # (label, file suffix, function): cumulative time of each in a profile
    ("study.ask (sampler)", "optuna/study/study.py", "ask"),
    ("  of which TPE _sample", "samplers/_tpe/sampler.py", "_sample"),
    ("study.tell", "optuna/study/study.py", "tell"),
    ("trial attribute writes", "hpo/controller/inflight.py", "record"),
    ("fsync (group commit)", "~", "<built-in method posix.fsync>"),
    ("backend.poll", "hpo/backends/simulated.py", "poll"),
    ("progress stamps + reads", "hpo/controller/progress.py", "changed"),
    ("object store get", "hpo/store/local.py", "get"),
    ("object store put", "hpo/store/local.py", "put"),
]


def objective(p: dict[str, Any]) -> float:
    """A cheap stand-in for a validation loss (the value does not matter here)."""
    opt = {"adam": 0.0, "sgd": 0.3, "rmsprop": 0.1}[p["optimizer"]]
    return (
        (math.log10(p["lr"]) + 3) ** 2
        + 0.1 * (p["layers"] - 4) ** 2
        + (p["dropout"] - 0.2) ** 2
        + opt
    )


def _profiled(profile: bool, fn: Any) -> tuple[Any, pstats.Stats | None]:
    if not profile:
        return fn(), None
    prof = cProfile.Profile()
    result = prof.runcall(fn)
    return result, pstats.Stats(prof)


def profile_summary(stats: pstats.Stats, per: int, what: str) -> str:
    """Cumulative time of the controller's main parts, per ``what``, under cProfile."""
    total = max(
        ct
        for (_, _, name), (_, _, _, ct, _) in stats.stats.items()  # type: ignore[attr-defined]
        if name == "run"
    )
    lines = [f"| part (cProfile, cumulative) | ms per {what} | share |", "|---|---|---|"]
    for label, suffix, func in PROFILE_GROUPS:
        ct = sum(
            v[3]
            for (file, _, name), v in stats.stats.items()  # type: ignore[attr-defined]
            if name == func and file.endswith(suffix)
        )
        lines.append(f"| {label} | {1000 * ct / per:.1f} | {ct / total:.0%} |")
    return "\n".join(lines)


# ------------------------------------------------------------------ part 1: utilisation


@dataclass
class Utilisation:
    storage: str
    trials: int
    parallel: int
    ratio: float
    gap_mean: float
    gap_p99: float
    cpu_ms: float
    wall: float
    profile: str | None = None


def utilisation(
    storage: str,
    n: int,
    parallel: int,
    median: float,
    sigma: float,
    poll: float,
    seed: int,
    profile: bool,
) -> Utilisation:
    """Run ``n`` trials at ``parallel``; compare the makespan with list scheduling."""
    workdir = Path(tempfile.mkdtemp(prefix="hpo-overhead-"))
    spec = make_spec("overhead", SPACE, n, parallel, seed)
    study = create_study(spec, open_storage(storage, workdir))
    durations = lognormal_durations(n, median, sigma, seed)
    clock = WarpClock()
    run, stats = _profiled(
        profile,
        lambda: run_controller(
            spec,
            study,
            durations,
            objective,
            clock,
            poll_interval=poll,
            store_dir=workdir / "store",
        ),
    )
    intervals = run.intervals()
    makespan = max(e for _, e in intervals) - min(s for s, _ in intervals)
    gaps = slot_gaps(intervals, parallel)
    return Utilisation(
        storage,
        n,
        parallel,
        makespan / ideal_makespan(durations, parallel),
        sum(gaps) / len(gaps),
        percentile(gaps, 99),
        1000 * run.cpu_seconds / n,
        run.wall_seconds,
        stats and profile_summary(stats, n, "trial"),
    )


# ------------------------------------------------------------------ part 2: throughput


@dataclass
class Throughput:
    history: int
    parallel: int
    offered: float
    absorbed: float
    cost_ms: float  # controller work per completion
    gap_p50: float
    gap_p99: float
    fill_s: float
    peak_mb: float
    wall: float
    profile: str | None = None


def throughput(
    history: int,
    parallel: int,
    extra: int,
    offered: float,
    sigma: float,
    poll: float,
    seed: int,
    profile: bool,
) -> Throughput:
    """Offer ``offered`` completions/s at ``parallel`` on top of ``history`` finished trials."""
    workdir = Path(tempfile.mkdtemp(prefix="hpo-throughput-"))
    total = history + extra
    spec = make_spec("throughput", SPACE, total, parallel, seed)
    study = create_study(spec, open_storage("journal", workdir))
    add_history(study, spec, objective, history, seed)
    median = parallel / offered / math.exp(sigma**2 / 2)  # mean duration = parallel / rate
    durations = lognormal_durations(total, median, sigma, seed)
    clock = WarpClock()
    run, stats = _profiled(
        profile,
        lambda: run_controller(
            spec,
            study,
            durations,
            objective,
            clock,
            poll_interval=poll,
            store_dir=workdir / "store",
        ),
    )
    return _rates(run, clock, history, parallel, offered, stats)


def _rates(
    run: SimRun,
    clock: WarpClock,
    history: int,
    parallel: int,
    offered: float,
    stats: pstats.Stats | None,
) -> Throughput:
    """Absorbed rate and gaps between the end of the first fill and the last start."""
    origin = clock.now() - clock.monotonic()
    fill_end = origin + clock.waits[0]
    intervals = run.intervals()
    starts = sorted(s for s, _ in intervals)
    refills = [s for s in starts[parallel:] if s >= fill_end]
    window = refills[-1] - fill_end if refills else math.nan
    last = refills[-1] if refills else fill_end
    ticks = zip(clock.work[1:], clock.waits[1:], clock.waits, strict=False)  # work, end, prior wait
    busy = sum(w for w, end, prior in ticks if origin + end > fill_end and origin + prior < last)
    gaps = slot_gaps(intervals, parallel, after=fill_end)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return Throughput(
        history,
        parallel,
        offered,
        len(refills) / window,
        1000 * busy / max(1, len(refills)),
        percentile(gaps, 50),
        percentile(gaps, 99),
        clock.waits[0],
        peak,
        run.wall_seconds,
        stats and profile_summary(stats, max(1, len(intervals)), "trial"),
    )


# ------------------------------------------------------------------ report


def _machine() -> str:
    load = os.getloadavg()
    return (
        f"{os.cpu_count()} CPUs (shared; load average {load[0]:.1f} at the end), "
        f"Python {sys.version.split()[0]}, Optuna {optuna.__version__}"
    )


def report_utilisation(rows: list[Utilisation], a: argparse.Namespace) -> str:
    lines = [
        f"Utilisation: {rows[0].trials} trials at {rows[0].parallel} parallel, durations "
        f"log-normal (median {a.median:g} s, sigma {a.sigma:g}), poll interval {a.poll:g} s, "
        "default TPE.",
        "",
        "| storage | makespan / ideal | slot idle mean s | slot idle p99 s | "
        "controller CPU per trial ms | real s |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.storage} | {r.ratio:.3f} | {r.gap_mean:.2f} | {r.gap_p99:.2f} | "
            f"{r.cpu_ms:.1f} | {r.wall:.0f} |"
        )
    for r in rows:
        if r.profile:
            lines += ["", f"Profile, {r.storage}:", "", r.profile]
    return "\n".join(lines)


def report_throughput(rows: list[Throughput], a: argparse.Namespace) -> str:
    r0 = rows[0]
    lines = [
        f"Throughput: {r0.history} finished trials of history, {r0.parallel} parallel, "
        f"journal storage, durations log-normal (sigma {a.sigma:g}) with mean "
        f"parallel / offered rate, poll interval {a.poll:g} s.",
        "",
        "| offered /s | absorbed /s | controller ms per completion | slot idle p50 s | "
        "slot idle p99 s | first fill s | peak RSS MB | real s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.offered:g} | {r.absorbed:.1f} | {r.cost_ms:.0f} | {r.gap_p50:.2f} | "
            f"{r.gap_p99:.2f} | {r.fill_s:.0f} | {r.peak_mb:.0f} | {r.wall:.0f} |"
        )
    for r in rows:
        if r.profile:
            lines += ["", f"Profile, offered {r.offered:g}/s:", "", r.profile]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="reduced sizes (make bench)")
    parser.add_argument("--storage", nargs="+", default=["journal", "sqlite"])
    parser.add_argument("--trials", type=int, default=None, help="part 1 (default 2000)")
    parser.add_argument("--parallel", type=int, default=64, help="part 1")
    parser.add_argument("--median", type=float, default=30.0, help="part 1 median duration, s")
    parser.add_argument("--sigma", type=float, default=1.0)
    parser.add_argument("--poll", type=float, default=1.0, help="backend poll interval, s")
    parser.add_argument("--history", type=int, default=None, help="part 2 (default 10000)")
    parser.add_argument("--wide", type=int, default=None, help="part 2 parallel (default 1000)")
    parser.add_argument("--extra", type=int, default=None, help="part 2 trials after history")
    parser.add_argument("--rates", type=float, nargs="+", default=[10.0, 20.0, 80.0])
    parser.add_argument("--parts", nargs="+", default=["1", "2"])
    parser.add_argument("--profile", action="store_true", help="add a cProfile summary")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="also write the tables here")
    a = parser.parse_args(argv)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    quick = a.quick
    n = a.trials or (400 if quick else 2000)
    history = a.history if a.history is not None else (2000 if quick else 10_000)
    wide = a.wide or (250 if quick else 1000)
    extra = a.extra or (2 * wide if quick else 3 * wide)
    start = time.perf_counter()
    out = []
    if "1" in a.parts:
        rows = [
            utilisation(
                s,
                n if s != "sqlite" or not quick else n // 4,
                a.parallel,
                a.median,
                a.sigma,
                a.poll,
                a.seed,
                a.profile,
            )
            for s in a.storage
        ]
        out.append(report_utilisation(rows, a))
        print(out[-1] + "\n", flush=True)
    if "2" in a.parts:
        rows2 = [
            throughput(history, wide, extra, rate, a.sigma, a.poll, a.seed, a.profile)
            for rate in a.rates
        ]
        out.append(report_throughput(rows2, a))
        print(out[-1] + "\n", flush=True)
    footer = f"Machine: {_machine()}. Took {time.perf_counter() - start:.0f} s."
    print(footer)
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text("\n\n".join([*out, footer]) + "\n")


if __name__ == "__main__":
    main()
