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
import subprocess
import sys
import tempfile
from pathlib import Path

import optuna
import yaml
from optuna.trial import TrialState

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from hpo import attrs  # noqa: E402
from hpo.spec import build  # noqa: E402


def run_study(workdir: Path, seed: int, n_trials: int, prune: bool) -> dict[str, float]:
    spec = yaml.safe_load((REPO / "studies" / "quickstart-pruning.yaml").read_text())
    name = f"bench-{'prune' if prune else 'none'}-{seed}"
    spec["name"] = name
    spec["sampler"]["seed"] = seed
    spec["budget"]["n_trials"] = n_trials
    spec["trainer"]["command"] = spec["trainer"]["command"].replace(
        "../trainer_image/train_sklearn.py", str(REPO / "trainer_image" / "train_sklearn.py")
    )
    if not prune:
        spec["pruner"] = {"type": "none"}
    path = workdir / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec))
    subprocess.run([sys.executable, "-m", "hpo", "run", str(path)], check=True,
                   capture_output=True, cwd=REPO)  # fmt: skip
    study = optuna.load_study(
        study_name=name, storage=build.storage(str(workdir / f"{name}.journal"))
    )
    return summarize(study, workdir / "runs" / name / "jobs")


def summarize(study: optuna.Study, jobs: Path) -> dict[str, float]:
    trials = study.get_trials(deepcopy=False)
    pruned = [t for t in trials if t.state is TrialState.PRUNED]
    lags = [stop_lag(jobs / t.user_attrs[attrs.JOB_ID], t.user_attrs[attrs.ENDED_AT])
            for t in pruned]  # fmt: skip
    return {
        "trials": len(trials),
        "pruned_fraction": len(pruned) / len(trials),
        "compute_seconds": sum(t.user_attrs.get(attrs.COMPUTE_SECONDS, 0.0) for t in trials),
        "best": study.best_value,
        "max_stop_lag": max(lags, default=0.0),
    }


def stop_lag(job_state: Path, decided_at: float) -> float:
    """Seconds from the prune decision to the trainer's exit, or to the SIGKILL the backend
    sent when it outlived the grace period (the process group dies with it)."""
    exit_doc = job_state / "exit.json"
    if exit_doc.exists():
        return json.loads(exit_doc.read_text())["ended_at"] - decided_at
    return json.loads((job_state / "terminate.json").read_text())["killed_at"] - decided_at


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--n-trials", type=int, default=48)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    workdir = args.out or Path(tempfile.mkdtemp(prefix="hpo-pruning-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print("| seed | pruner | trials | pruned | compute s | best val_loss | max stop lag s |")
    print("|---|---|---|---|---|---|---|")
    ratios = []
    for seed in args.seeds:
        rows = {p: run_study(workdir, seed, args.n_trials, p) for p in (False, True)}
        for prune, r in rows.items():
            print(f"| {seed} | {'hyperband' if prune else 'none'} | {r['trials']} | "
                  f"{r['pruned_fraction']:.0%} | {r['compute_seconds']:.0f} | {r['best']:.4f} | "
                  f"{r['max_stop_lag']:.2f} |", flush=True)  # fmt: skip
        ratios.append((rows[True]["compute_seconds"] / rows[False]["compute_seconds"],
                       rows[True]["best"] / rows[False]["best"] - 1))  # fmt: skip
    for seed, (compute, best) in zip(args.seeds, ratios, strict=True):
        print(
            f"seed {seed}: compute with pruning = {compute:.0%} of without; "
            f"best value {best:+.1%} relative to without"
        )


if __name__ == "__main__":
    main()
