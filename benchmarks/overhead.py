"""Controller overhead at scale, on a time-warped clock (see ``warp.py``).

    python -m benchmarks.overhead [--quick] [--parts 1 2] [--profile] [--out FILE]

Part 1, utilisation: N trials at P parallel (default 2,000 at 64) with log-normal job
durations, once per storage: makespan / ideal list-scheduling makespan, idle time of a slot
between a job ending and the next starting, controller CPU per trial.
Part 2, throughput: H finished trials of history (default 1,000 and 10,000), 1,000 parallel,
job durations whose mean offers a given completion rate: the rate the controller absorbs, its
work per completion, slot idle times after the first fill, peak memory.
The real Controller, Optuna storage and default TPE sampler; only the training is simulated.
Each row runs in a fresh process (as each `hpo run` does), so rows do not share a heap.
"""

from __future__ import annotations

import argparse
import cProfile
import math
import multiprocessing
import os
import pstats
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
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
    storage_for,
)
from benchmarks.warp import WarpClock

SPACE: dict[str, dict[str, Any]] = {
    "lr": {"type": "float", "low": 1e-5, "high": 1e-1, "log": True},
    "layers": {"type": "int", "low": 1, "high": 8},
    "dropout": {"type": "float", "low": 0.0, "high": 0.5},
    "optimizer": {"type": "categorical", "choices": ["adam", "sgd", "rmsprop"]},
}
T = TypeVar("T")
_TPE = "samplers/_tpe/sampler.py"
_CACHED = "hpo/sampling/tpe.py"  # hpo's TPE (same proposals, per-trial work cached)
_INFER = "infer_relative_search_space"
PROFILE_GROUPS = [  # label, "file suffix:function" alternatives: cumulative time in a profile
    ("study.ask (sampler)", "optuna/study/study.py:ask"),
    ("  TPE: trials' params to arrays", f"{_TPE}:_get_internal_repr|{_CACHED}:rows"),
    ("  TPE: split trials below/above", f"{_TPE}:_split_trials|{_CACHED}:_split|{_CACHED}:slots"),
    ("  TPE: Parzen estimators built", "_tpe/parzen_estimator.py:__init__"),
    ("  TPE: acquisition (Parzen log-pdf)", f"{_TPE}:_compute_acquisition_func"),
    ("  TPE: search space inference", f"{_TPE}:{_INFER}|{_CACHED}:{_INFER}"),
    ("  trial param writes", "journal/_storage.py:set_trial_param|_rdb/storage.py:set_trial_param"),
    ("study.tell", "optuna/study/study.py:tell"),
    ("journal: read all trials (in ask and elsewhere)", "journal/_storage.py:get_all_trials"),
    ("trial attribute writes", "hpo/controller/inflight.py:record"),
    ("fsync (journal)", "~:<built-in method posix.fsync>"),
    ("SQLite commits", "~:<method 'commit' of 'sqlite3.Connection' objects>"),
    ("PostgreSQL round trips (psycopg execute)", "psycopg/cursor.py:execute"),
    ("RDB re-reads of unfinished trials", "_cached_storage.py:_read_trials_from_remote_storage"),
    ("backend.poll", "hpo/backends/simulated.py:poll"),
    ("progress stamps + reads", "hpo/controller/progress.py:changed"),
    ("object store get + put", "hpo/store/local.py:get|hpo/store/local.py:put"),
]


def objective(p: dict[str, Any]) -> float:
    """A cheap stand-in for a validation loss (its value does not matter here)."""
    opt = {"adam": 0.0, "sgd": 0.3, "rmsprop": 0.1}[p["optimizer"]]
    lr = (math.log10(p["lr"]) + 3) ** 2
    return lr + 0.1 * (p["layers"] - 4) ** 2 + (p["dropout"] - 0.2) ** 2 + opt


class AskTimer:
    """Times every ``study.ask`` of one study (the sampler's share of the controller's work)."""

    def __init__(self, study: optuna.Study) -> None:
        self.seconds, self.calls, self._ask = 0.0, 0, study.ask
        study.ask = self  # type: ignore[method-assign]

    def __call__(self, *args: Any, **kwargs: Any) -> optuna.trial.Trial:
        start = time.perf_counter()
        try:
            return self._ask(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - start
            self.calls += 1


class FsyncMeter:
    """Counts ``os.fsync`` calls while active; ``delay_ms`` adds latency to each one (a slower
    disk than this machine's, e.g. a network volume)."""

    delay_ms = 0.0

    def __init__(self) -> None:
        self.calls = 0

    def __enter__(self) -> FsyncMeter:
        self._real = os.fsync
        os.fsync = self._fsync
        return self

    def __exit__(self, *exc: object) -> None:
        os.fsync = self._real

    def _fsync(self, fd: int) -> None:
        self._real(fd)
        self.calls += 1
        if self.delay_ms:
            time.sleep(self.delay_ms / 1000)


def _run(
    spec: Any, study: optuna.Study, durations: np.ndarray, poll: float, workdir: Path, profile: bool
) -> tuple[SimRun, WarpClock, AskTimer, pstats.Stats | None, int]:
    clock, asks = WarpClock(), AskTimer(study)
    prof = cProfile.Profile() if profile else None
    with FsyncMeter() as fsyncs:
        if prof:
            prof.enable()
        run = run_controller(spec, study, durations, objective, clock, poll_interval=poll,
                             store_dir=workdir / "store")  # fmt: skip
        if prof:
            prof.disable()
    return run, clock, asks, pstats.Stats(prof) if prof else None, fsyncs.calls


def profile_summary(stats: pstats.Stats | None, per: int) -> str | None:
    """Cumulative time of the controller's main parts per trial, under cProfile."""
    if stats is None:
        return None
    entries = stats.stats.items()  # type: ignore[attr-defined]
    total = max(v[3] for (_, _, name), v in entries if name == "run")
    lines = ["| part (cProfile, cumulative) | ms per trial | share |", "|---|---|---|"]
    for label, where in PROFILE_GROUPS:
        places = [tuple(w.rsplit(":", 1)) for w in where.split("|")]
        ct = sum(v[3] for (file, _, name), v in entries
                 if any(name == f and file.endswith(sfx) for sfx, f in places))  # fmt: skip
        if ct:
            lines.append(f"| {label} | {1000 * ct / per:.1f} | {ct / total:.0%} |")
    return "\n".join(lines)


# ------------------------------------------------------------------ part 1: utilisation


@dataclass
class Utilisation:
    storage: str
    ratio: float  # makespan / ideal
    gap_mean: float
    gap_p99: float
    cpu_ms: float
    ask_ms: float
    fsyncs: float  # per trial (journal; SQLite syncs inside its C library, not counted)
    wall: float
    profile: str | None


def utilisation(storage: str, n: int, parallel: int, median: float, sigma: float, poll: float,
                seed: int, profile: bool, sampler: str = "tpe") -> Utilisation:  # fmt: skip
    """Run ``n`` trials at ``parallel``; compare the makespan with list scheduling."""
    with (
        tempfile.TemporaryDirectory(prefix="hpo-overhead-") as tmp,
        storage_for(storage, Path(tmp)) as opened,
    ):
        spec = make_spec("overhead", SPACE, n, parallel, seed, sampler={"type": sampler})
        study = create_study(spec, opened)
        durations = lognormal_durations(n, median, sigma, seed)
        run, _, asks, stats, fsyncs = _run(spec, study, durations, poll, Path(tmp), profile)
    intervals = run.intervals()
    makespan = max(e for _, e in intervals) - min(s for s, _ in intervals)
    gaps = slot_gaps(intervals, parallel)
    return Utilisation(storage, makespan / ideal_makespan(durations, parallel),
                       sum(gaps) / len(gaps), percentile(gaps, 99), 1000 * run.cpu_seconds / n,
                       1000 * asks.seconds / asks.calls, fsyncs / n, run.wall_seconds,
                       profile_summary(stats, n))  # fmt: skip


# ------------------------------------------------------------------ part 2: throughput


@dataclass
class Throughput:
    history: int
    offered: float
    absorbed: float  # refills per second between the end of the first fill and the last one
    cost_ms: float  # controller work per refill in that window
    ask_ms: float
    gap_p50: float
    gap_p99: float
    fill_s: float
    peak_mb: float
    wall: float
    profile: str | None


def throughput(history: int, parallel: int, extra: int, offered: float, sigma: float,
               poll: float, seed: int, profile: bool) -> Throughput:  # fmt: skip
    """Offer ``offered`` completions/s at ``parallel`` on top of ``history`` finished trials."""
    with tempfile.TemporaryDirectory(prefix="hpo-throughput-") as tmp:
        total = history + extra
        spec = make_spec("throughput", SPACE, total, parallel, seed)
        study = create_study(spec, open_storage("journal", Path(tmp)))
        add_history(study, spec, objective, history, seed)
        median = parallel / offered / math.exp(sigma**2 / 2)  # mean duration = parallel / rate
        durations = lognormal_durations(total, median, sigma, seed)
        run, clock, asks, stats, _ = _run(spec, study, durations, poll, Path(tmp), profile)
    origin = clock.now() - clock.monotonic()
    fill_end = origin + clock.waits[0]
    intervals = run.intervals()
    refills = [s for s in sorted(s for s, _ in intervals)[parallel:] if s >= fill_end]
    last = refills[-1] if refills else fill_end
    ticks = zip(clock.work[1:], clock.waits[1:], clock.waits, strict=False)  # work, end, prior
    busy = sum(w for w, end, prior in ticks if origin + end > fill_end and origin + prior < last)
    gaps = slot_gaps(intervals, parallel, after=fill_end)
    return Throughput(history, offered, len(refills) / (last - fill_end) if refills else math.nan,
                      1000 * busy / max(1, len(refills)), 1000 * asks.seconds / asks.calls,
                      percentile(gaps, 50), percentile(gaps, 99), clock.waits[0],
                      resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      run.wall_seconds, profile_summary(stats, len(intervals)))  # fmt: skip


# ------------------------------------------------------------------ report


def fsync_ms(samples: int = 50) -> float:
    """Median latency of a small append + fsync in the temp directory (disk load varies)."""
    with tempfile.NamedTemporaryFile() as f:
        times = []
        for _ in range(samples):
            start = time.perf_counter()
            f.write(b"x" * 200 + b"\n")
            f.flush()
            os.fsync(f.fileno())
            times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def _machine(fsync_before: float) -> str:
    load = os.getloadavg()[0]
    return (f"{os.cpu_count()} CPUs shared with other work (load average {load:.1f} at the end), "
            f"fsync {fsync_before:.2f} ms before / {fsync_ms():.2f} ms after"
            + (f" (+{FsyncMeter.delay_ms:g} ms added)" if FsyncMeter.delay_ms else "") + ", "
            f"Python {sys.version.split()[0]}, Optuna {optuna.__version__}")  # fmt: skip


UTILISATION_HEAD = (
    "| storage | makespan / ideal | slot idle mean s | slot idle p99 s | "
    "controller CPU ms per trial | ask ms | fsyncs per trial | real s |"
)
THROUGHPUT_HEAD = (
    "| history | offered /s | absorbed /s | controller ms per completion | "
    "of which ask ms | slot idle p50 s | slot idle p99 s | first fill s | "
    "peak RSS MB | real s |"
)


def report_utilisation(rows: list[Utilisation], n: int, a: argparse.Namespace) -> str:
    lines = [f"Utilisation: {n} trials at {a.parallel} parallel, durations log-normal (median "
             f"{a.median:g} s, sigma {a.sigma:g}), poll interval {a.poll:g} s, "
             f"sampler {a.sampler}.", "",
             UTILISATION_HEAD, "|---" * UTILISATION_HEAD.count(" | ") + "|---|"]  # fmt: skip
    for r in rows:
        fsyncs = f"{r.fsyncs:.2f}" if r.fsyncs else "-"
        lines.append(f"| {r.storage} | {r.ratio:.3f} | {r.gap_mean:.2f} | {r.gap_p99:.2f} | "
                     f"{r.cpu_ms:.1f} | {r.ask_ms:.1f} | {fsyncs} | {r.wall:.0f} |")  # fmt: skip
    lines += [x for r in rows if r.profile for x in ("", f"Profile, {r.storage}:", "", r.profile)]
    return "\n".join(lines)


def report_throughput(rows: list[Throughput], wide: int, a: argparse.Namespace) -> str:
    lines = [f"Throughput: {wide} parallel, journal storage, default TPE, durations log-normal "
             f"(sigma {a.sigma:g}) with mean {wide} / offered rate, poll interval {a.poll:g} s.",
             "", THROUGHPUT_HEAD, "|---" * THROUGHPUT_HEAD.count(" | ") + "|---|"]  # fmt: skip
    for r in rows:
        lines.append(f"| {r.history} | {r.offered:g} | {r.absorbed:.1f} | {r.cost_ms:.0f} | "
                     f"{r.ask_ms:.0f} | {r.gap_p50:.2f} | {r.gap_p99:.2f} | {r.fill_s:.0f} | "
                     f"{r.peak_mb:.0f} | {r.wall:.0f} |")  # fmt: skip
    lines += [x for r in rows if r.profile
              for x in ("", f"Profile, history {r.history}, offered {r.offered:g}/s:", "",
                        r.profile)]  # fmt: skip
    return "\n".join(lines)


def _fresh(measure: Callable[..., T], *args: Any) -> T:
    """One measurement in a new (forked) process, as each ``hpo run`` is: no heap left over
    from the previous measurement, and the peak memory reported is this one's own."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as pool:
        return pool.submit(measure, *args).result()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="reduced sizes (make bench)")
    parser.add_argument("--parts", nargs="+", default=["1", "2"])
    parser.add_argument("--storage", nargs="+", default=["journal", "sqlite"],
                        help="part 1: journal, sqlite, postgresql ($HPO_BENCH_POSTGRESQL_URL, "
                        "else a throwaway local server)")  # fmt: skip
    parser.add_argument("--trials", type=int, help="part 1 (default 2000; --quick 300)")
    parser.add_argument("--parallel", type=int, default=64, help="part 1")
    parser.add_argument("--median", type=float, default=30.0, help="part 1 median duration, s")
    parser.add_argument("--sigma", type=float, default=1.0, help="log-normal shape")
    parser.add_argument("--poll", type=float, default=1.0, help="backend poll interval, s")
    parser.add_argument(
        "--sampler", default="auto", choices=["auto", "tpe", "gp", "random"], help="part 1"
    )
    parser.add_argument("--history", type=int, nargs="+", help="part 2 (default 1000 10000)")
    parser.add_argument("--wide", type=int, help="part 2 parallel (default 1000; --quick 200)")
    parser.add_argument("--extra", type=int, help="part 2 trials after the history (3x wide)")
    parser.add_argument("--rates", type=float, nargs="+", help="part 2 offered completions/s")
    parser.add_argument("--profile", action="store_true", help="add a cProfile summary")
    parser.add_argument(
        "--fsync-delay-ms",
        type=float,
        default=0.0,
        help="add this latency to every fsync (emulate a slower disk)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="also write the tables here")
    a = parser.parse_args(argv)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    FsyncMeter.delay_ms = a.fsync_delay_ms
    n = a.trials or (300 if a.quick else 2000)
    histories = a.history or ([500, 2000] if a.quick else [1000, 10_000])
    wide = a.wide or (200 if a.quick else 1000)
    rates = a.rates or ([4.0, 40.0] if a.quick else [10.0, 20.0, 80.0])
    if a.extra is not None and a.extra <= wide:
        parser.error("--extra must exceed the parallelism: refills are what part 2 measures")
    start, before, out = time.perf_counter(), fsync_ms(), []
    if "1" in a.parts:
        rows = [_fresh(utilisation, s, n, a.parallel, a.median, a.sigma, a.poll, a.seed,
                       a.profile, a.sampler) for s in a.storage]  # fmt: skip
        out.append(report_utilisation(rows, n, a))
        print(out[-1] + "\n", flush=True)
    if "2" in a.parts:
        rows2 = [_fresh(throughput, h, wide, a.extra or 3 * wide, rate, a.sigma, a.poll, a.seed,
                        a.profile) for h in histories for rate in rates]  # fmt: skip
        out.append(report_throughput(rows2, wide, a))
        print(out[-1] + "\n", flush=True)
    out.append(f"Machine: {_machine(before)}. Took {time.perf_counter() - start:.0f} s.")
    print(out[-1])
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text("\n\n".join(out) + "\n")


if __name__ == "__main__":
    main()
