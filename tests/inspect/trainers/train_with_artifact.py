"""The example sklearn trainer, plus a file in the trial's ``artifacts/`` for the dashboard.

Used by the inspection tests' one real run: ``python train_with_artifact.py --epochs 3``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "trainer_image"))

import train_sklearn

from hpo import worker


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    trial = worker.current()
    trial.handle_sigterm()
    summary = {"trial": trial.number, "params": trial.params, "epochs": args.epochs}
    trial.artifact_path("summary.json").write_text(json.dumps(summary))
    train_sklearn.train(trial, args.epochs)


if __name__ == "__main__":
    main()
