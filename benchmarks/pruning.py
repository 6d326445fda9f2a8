"""Pruning benchmark: the example trainer with and without Hyperband.

    python benchmarks/pruning.py [--seeds 0 1] [--n-trials 48] [--out DIR]

For each seed it runs ``studies/quickstart-pruning.yaml`` (Hyperband) as is and with
``pruner: none`` (same sampler seed, same budget), through the real CLI on the local backend,
and prints a markdown table: pruned fraction, compute seconds (sum of the trials'
``compute_seconds``), best value, and the longest time from a prune decision to the trainer's
exit (or to its SIGKILL, when it outlived the grace period).
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import yaml
from optuna.trial import TrialState

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from hpo import attrs  # noqa: E402
from hpo.storage import open_storage  # noqa: E402


def run_study(workdir: Path, study_file: Path, seed: int, n_trials: int, pruner: dict) -> None:
    """One study through ``hpo run`` (a finished one is left as it is: hpo resumes it)."""
    spec = yaml.safe_load(study_file.read_text())
    name = f"bench-{'none' if pruner['type'] == 'none' else 'prune'}-{seed}"
    spec.update(name=name, pruner=pruner)
    spec["sampler"]["seed"] = seed
    spec["budget"]["n_trials"] = n_trials
    spec["trainer"]["command"] = spec["trainer"]["command"].replace(
        "../trainer_image/", str(REPO / "trainer_image") + "/"
    )
    path = workdir / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec))
    subprocess.run([sys.executable, "-m", "hpo", "run", str(path)], check=True,
                   capture_output=True, cwd=REPO)  # fmt: skip


def summarize(study: optuna.Study, jobs: Path) -> dict[str, Any]:
    trials = study.get_trials(deepcopy=False)
    pruned = [t for t in trials if t.state is TrialState.PRUNED]
    lags = [stop_lag(jobs / t.user_attrs[attrs.JOB_ID], t.user_attrs[attrs.ENDED_AT])
            for t in pruned]  # fmt: skip
    return {
        "trials": len(trials),
        "pruned_fraction": len(pruned) / len(trials),
        "compute_seconds": sum(t.user_attrs.get(attrs.COMPUTE_SECONDS, 0.0) for t in trials),
        "cpu_seconds": cpu_seconds(jobs),
        "best": study.best_value,
        "max_stop_lag": max(lags, default=0.0),
    }


def job_record(job: Path) -> tuple[float, float | None, float | None]:
    """``(started, ended, cpu_seconds)`` of one local job: from ``exit.json`` when the trainer
    exited, else ended is when the backend SIGKILLed it after its grace period (the process
    group dies with it) and the CPU is unknown; ended is None without either record."""
    exit_doc = job / "exit.json"
    if exit_doc.exists():
        doc = json.loads(exit_doc.read_text())  # cpu nan: run before the launcher kept it
        return doc["started_at"], doc["ended_at"], doc.get("cpu_seconds", math.nan)
    started = json.loads((job / "pid.json").read_text())["started_at"]
    return started, json.loads((job / "terminate.json").read_text()).get("killed_at"), None


def cpu_seconds(jobs: Path) -> float:
    """The trainers' CPU seconds (the launcher records them in ``exit.json``), which unlike
    wall time do not grow when the machine is busy. A job SIGKILLed after its grace period
    has no record: its wall time counts, scaled by the other jobs' CPU/wall ratio."""
    known, walls, unknown = 0.0, 0.0, 0.0
    for started, ended, cpu in map(job_record, jobs.iterdir()):
        if cpu is None:
            unknown += (ended or started) - started
        else:
            known += cpu
            walls += (ended or started) - started
    return known + unknown * (known / walls if walls else 1.0)


def stop_lag(job: Path, decided_at: float) -> float:
    """Seconds from the prune decision to the trainer's exit or its SIGKILL (inf: no record)."""
    _, ended, _ = job_record(job)
    return float("inf") if ended is None else ended - decided_at


Pairs = dict[str, dict[bool, dict[str, Any]]]  # seed label -> {pruned?: summary}


def collect(roots: list[Path]) -> Pairs:
    """Every pair of finished studies (``bench-none-S``, ``bench-prune-S``) under ``roots``; a
    seed run in several directories is labelled ``S (DIR)`` after its first run."""
    runs: dict[tuple[int, Path], dict[bool, dict[str, Any]]] = {}
    for root in roots:
        for journal in sorted(root.rglob("bench-*-*.journal")):
            _, kind, seed = journal.stem.split("-")
            spec = yaml.safe_load(journal.with_suffix(".yaml").read_text())
            study = optuna.load_study(study_name=journal.stem, storage=open_storage(str(journal)))
            done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))
            if len(done) < spec["budget"]["n_trials"]:
                continue  # still running (or interrupted): not a result yet
            row = summarize(study, journal.parent / "runs" / journal.stem / "jobs")
            row["pruner"] = spec["pruner"]
            runs.setdefault((int(seed), journal.parent), {})[kind == "prune"] = row
    pairs: Pairs = {}
    for (seed, where), rows in sorted(runs.items()):
        if len(rows) == 2:
            pairs[f"{seed} ({where.name})" if str(seed) in pairs else str(seed)] = rows
    return pairs


def report(pairs: Pairs) -> str:
    """The per-study table, the per-seed ratios and their medians (with a bootstrap CI)."""
    lines = ["| seed | pruner | trials | pruned | compute s | CPU s | best val_loss | "
             "max stop lag s |", "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for seed, rows in pairs.items():
        for r in (rows[False], rows[True]):
            lines.append(f"| {seed} | {r['pruner']['type']} | {r['trials']} | "
                         f"{r['pruned_fraction']:.0%} | {r['compute_seconds']:.0f} | "
                         f"{r['cpu_seconds']:.0f} | "
                         f"{r['best']:.4f} | {r['max_stop_lag']:.2f} |")  # fmt: skip
    compute, cpu = (np.array([r[True][k] / r[False][k] for r in pairs.values()])
                    for k in ("compute_seconds", "cpu_seconds"))  # fmt: skip
    best = np.array([r[True]["best"] / r[False]["best"] - 1 for r in pairs.values()])
    lines += ["", "| seed | compute with pruning / without | CPU | best with pruning vs without |",
              "|---|---|---|---|"]  # fmt: skip
    for seed, c, u, b in zip(pairs, compute, cpu, best, strict=True):
        lines.append(f"| {seed} | {c:.0%} | {u:.0%} | {b:+.1%} |")
    lines.append(f"| **median** | **{np.median(compute):.0%}** | **{np.nanmedian(cpu):.0%}** | "
                 f"**{np.median(best):+.1%}** |")  # fmt: skip
    without, with_ = (np.array([r[p]["best"] for r in pairs.values()]) for p in (False, True))
    low, high = bootstrap_ratio(with_, without)
    lines += ["", f"{len(pairs)} seed pairs: compute at most 60% in {np.sum(compute <= 0.6)}; "
              f"best value at most 2% worse in {np.sum(best <= 0.02)}. Median best value "
              f"{np.median(without):.4f} without, {np.median(with_):.4f} with pruning "
              f"({np.median(with_) / np.median(without) - 1:+.1%}; bootstrap 90% CI "
              f"{low:+.1%} to {high:+.1%})."]  # fmt: skip
    return "\n".join(lines)


def bootstrap_ratio(a: np.ndarray, b: np.ndarray, n: int = 10_000) -> tuple[float, float]:
    """90% percentile-bootstrap interval of median(a) / median(b) - 1, each arm resampled on
    its own: a seed does not pin a trajectory (4 trials in flight finish in a timing-dependent
    order), so the arms are two samples, not pairs. Fixed RNG: reproducible."""
    rng = np.random.default_rng(0)
    ma = np.median(rng.choice(a, size=(n, len(a))), axis=1)
    mb = np.median(rng.choice(b, size=(n, len(b))), axis=1)
    low, high = np.percentile(ma / mb - 1, [5, 95])
    return float(low), float(high)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--n-trials", type=int, default=48)
    parser.add_argument("--pruned-n-trials", type=int, default=None, metavar="N",
                        help="trials of the pruned arm (default: --n-trials); e.g. to spend "
                        "what the unpruned arm spent")  # fmt: skip
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--study", type=Path, default=REPO / "studies" / "quickstart-pruning.yaml")
    parser.add_argument("--pruner", type=yaml.safe_load, default=None, metavar="YAML",
                        help="the pruned arm's pruner (default: the study file's)")  # fmt: skip
    parser.add_argument(
        "--report", type=Path, nargs="+", metavar="DIR",
        help="run nothing; report every pair found under these --out directories",
    )  # fmt: skip
    args = parser.parse_args()
    if args.report:
        print(report(collect(args.report)))
        return
    workdir = args.out or Path(tempfile.mkdtemp(prefix="hpo-pruning-"))
    workdir.mkdir(parents=True, exist_ok=True)
    pruner = args.pruner or yaml.safe_load(args.study.read_text())["pruner"]
    for seed in args.seeds:
        for arm in ({"type": "none"}, pruner):
            pruned = arm["type"] != "none" and args.pruned_n_trials
            run_study(workdir, args.study, seed, pruned or args.n_trials, arm)
        print(f"seed {seed} done", file=sys.stderr, flush=True)
    print(report(collect([workdir])))


if __name__ == "__main__":
    main()
