"""Replay finished unpruned studies through candidate pruners: is the pruner the loss?

    python benchmarks/pruning_replay.py SOURCE [SOURCE ...] \
        --pruner "{type: hyperband, min_resource: 2, max_resource: 54, reduction_factor: 3}"

A SOURCE is a directory (every ``bench-none-S`` study ``benchmarks/pruning.py`` left under it)
or a study's storage (a journal file or database URL: every study in it, e.g. your own
unpruned study). It feeds each complete trial's recorded learning curve, in trial order, to a
fresh study with the given pruner (built by hpo's own spec code), asking it after every step.
Same configurations, no sampler in the loop: it measures only the pruner's decisions. Per
study: the share of trials pruned, the share of steps run, and the best value among the
trials that survived relative to the best of all (medians over studies; the loss also as a
mean and a count, since it is 0 in most studies and large in the rest). A real pruned study
also differs from its twin because the sampler learns from pruned trials; comparing both
tells the two effects apart.
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
from hpo.storage import open_storage  # noqa: E402

Curve = tuple[list[float], float]  # intermediate values by step, final value


def curves(storage: optuna.storages.BaseStorage, name: str) -> list[Curve]:
    """Each complete trial's intermediate values (steps in order) and final value."""
    study = optuna.load_study(study_name=name, storage=storage)
    return [
        ([v for _, v in sorted(t.intermediate_values.items())], float(t.value))
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    ]


def _natural(path: Path) -> tuple[int, str]:
    return len(path.stem), path.stem  # bench-none-2 before bench-none-10


def load(source: str) -> dict[str, list[Curve]]:
    """Curves by the name the replayed study gets (Hyperband hashes it into brackets): a
    benchmark seed's pruned twin, or a stored study's own name."""
    if Path(source).is_dir():
        return {
            j.stem.replace("-none-", "-prune-"): curves(open_storage(str(j)), j.stem)
            for j in sorted(Path(source).rglob("bench-none-*.journal"), key=_natural)
        }
    storage = open_storage(source)
    return {name: curves(storage, name) for name in optuna.get_all_study_names(storage)}


def replay(
    trials: list[Curve], pruner: optuna.pruners.BasePruner, name: str
) -> tuple[float, float, float]:
    """(pruned share, epochs share, best kept vs best of all - 1) for one study."""
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
    parser.add_argument("sources", nargs="+", metavar="SOURCE")
    parser.add_argument("--pruner", type=yaml.safe_load, action="append", required=True,
                        metavar="YAML", help="a pruner section; repeat it to compare")  # fmt: skip
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    studies = {name: c for source in args.sources for name, c in load(source).items() if c}
    print(f"{len(studies)} studies: {', '.join(studies)}\n")
    print(
        "| pruner | pruned | steps run | best kept vs best of all: median | mean | "
        "studies > 2% | per study |"
    )
    print("|---|---|---|---|---|---|---|")
    for section in args.pruner:
        spec = TypeAdapter(PrunerSpec).validate_python(section)
        rows = np.array([replay(c, build.pruner(spec), name) for name, c in studies.items()])
        per_study = " ".join(f"{x:+.0%}" for x in rows[:, 2])
        print(f"| `{yaml.safe_dump(section, default_flow_style=True, width=1000).strip()}` | "
              f"{np.median(rows[:, 0]):.0%} | {np.median(rows[:, 1]):.0%} | "
              f"{np.median(rows[:, 2]):+.1%} | {np.mean(rows[:, 2]):+.1%} | "
              f"{np.sum(rows[:, 2] > 0.02)} of {len(rows)} | {per_study} |")  # fmt: skip


if __name__ == "__main__":
    main()
