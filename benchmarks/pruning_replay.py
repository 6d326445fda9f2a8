"""Replay finished unpruned studies through candidate pruners: is the pruner the loss?

    python benchmarks/pruning_replay.py DIR [DIR ...] \
        --pruner "{type: hyperband, min_resource: 2, max_resource: 54, reduction_factor: 3}"

Reads every ``bench-none-S`` study that ``benchmarks/pruning.py`` left under the DIRs and
feeds each trial's recorded learning curve, in trial order, to a fresh study with the given
pruner (built by hpo's own spec code), asking it after every step. Same configurations, no
sampler in the loop: it measures only the pruner's decisions. Per seed: the share of trials
pruned, the share of epochs run, and the best value among the trials that survived relative
to the best of all (medians over seeds; the loss also as a mean and a count, since it is 0 in
most seeds and large in the rest). A real pruned study also differs from its twin because the
sampler learns from pruned trials; comparing both tells the two effects apart.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import optuna
import yaml
from optuna.trial import TrialState
from pydantic import TypeAdapter

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from hpo.spec import build  # noqa: E402
from hpo.spec.optimizers import PrunerSpec  # noqa: E402

Curve = tuple[list[float], float]  # intermediate values by step, final value


def curves(journal: Path) -> list[Curve]:
    """Each complete trial's intermediate values (steps in order) and final value."""
    study = optuna.load_study(study_name=journal.stem, storage=build.storage(str(journal)))
    return [
        ([v for _, v in sorted(t.intermediate_values.items())], float(t.value))
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    ]


def replay(
    trials: list[Curve], pruner: optuna.pruners.BasePruner, name: str
) -> tuple[float, float, float]:
    """(pruned share, epochs share, best kept vs best of all - 1) for one study. ``name``:
    Hyperband hashes the study name and trial number into brackets, so the pruned twin's."""
    study = optuna.create_study(study_name=name, pruner=pruner)
    pruned = steps = 0
    kept = []
    for values, final in trials:
        trial = study.ask()
        for step, value in enumerate(values, 1):
            trial.report(value, step)
            steps += 1
            if trial.should_prune():
                study.tell(trial, state=TrialState.PRUNED)
                pruned += 1
                break
        else:
            study.tell(trial, final)
            kept.append(final)
    total_steps = sum(len(v) for v, _ in trials)
    best_all = min(f for _, f in trials)
    best_kept = min(kept) if kept else float("inf")
    return pruned / len(trials), steps / total_steps, best_kept / best_all - 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dirs", type=Path, nargs="+", metavar="DIR")
    parser.add_argument("--pruner", type=yaml.safe_load, action="append", required=True,
                        metavar="YAML", help="a pruner section; repeat it to compare")  # fmt: skip
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    journals = sorted(j for d in args.dirs for j in d.rglob("bench-none-*.journal"))
    studies = {int(j.stem.rsplit("-", 1)[1]): curves(j) for j in journals}
    print(f"{len(studies)} unpruned studies (seeds {sorted(studies)})\n")
    print(
        "| pruner | pruned | epochs run | best kept vs best of all: median | mean | "
        "seeds > 2% | per seed |"
    )
    print("|---|---|---|---|---|---|---|")
    for section in args.pruner:
        spec = TypeAdapter(PrunerSpec).validate_python(section)
        rows = np.array([replay(t, build.pruner(spec), f"bench-prune-{seed}")
                         for seed, t in studies.items()])  # fmt: skip
        per_seed = " ".join(f"{x:+.0%}" for x in rows[:, 2])
        print(f"| `{yaml.safe_dump(section, default_flow_style=True, width=1000).strip()}` | "
              f"{np.median(rows[:, 0]):.0%} | {np.median(rows[:, 1]):.0%} | "
              f"{np.median(rows[:, 2]):+.1%} | {np.mean(rows[:, 2]):+.1%} | "
              f"{np.sum(rows[:, 2] > 0.02)} of {len(rows)} | {per_seed} |")  # fmt: skip


if __name__ == "__main__":
    main()
