"""Example trainer: a scikit-learn MLP on the bundled digits dataset (no downloads).

Params (from the study's search space): ``hidden_units``, ``learning_rate_init``, ``alpha``,
``batch_size``, ``activation``; optional ``seed``. The learning rate decays from
``learning_rate_init`` to zero over ``--epochs`` on a cosine, as real training recipes do, so
the last epochs converge instead of oscillating. Each epoch it checkpoints the model and
reports that epoch's validation log loss; the objective (minimised) is the final model's, the
one the checkpoint holds. Reporting the best epoch instead would credit a model nobody kept
and reward a lucky dip of a noisy run. It stops early when the controller prunes the trial. A
later attempt of the same trial resumes from the newest checkpoint, so a reclaimed host costs
at most one epoch.

Run through hpo (it sets HPO_TRIAL_URI); ``--epochs`` sets the full budget.
"""

from __future__ import annotations

import argparse
import math
import pickle
import warnings
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, log_loss
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

from hpo import worker

CHECKPOINT = "model.pkl"


def load_data(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Digits split 80/20, standardised on the training part."""
    x, y = load_digits(return_X_y=True)
    x_train, x_val, y_train, y_val = train_test_split(
        x, y, test_size=0.2, random_state=seed, stratify=y
    )
    scaler = StandardScaler().fit(x_train)
    return scaler.transform(x_train), scaler.transform(x_val), y_train, y_val


def build_model(params: dict) -> MLPClassifier:
    return MLPClassifier(
        hidden_layer_sizes=(int(params.get("hidden_units", 64)),),
        activation=params.get("activation", "relu"),
        alpha=float(params.get("alpha", 1e-4)),
        batch_size=int(params.get("batch_size", 64)),
        learning_rate_init=float(params.get("learning_rate_init", 1e-3)),
        random_state=int(params.get("seed", 0)),
    )


def set_learning_rate(model: MLPClassifier, epoch: int, epochs: int, initial: float) -> None:
    """Cosine decay from ``initial`` at epoch 0 towards zero at ``epochs``."""
    rate = initial * 0.5 * (1.0 + math.cos(math.pi * epoch / epochs))
    if hasattr(model, "_optimizer"):  # sklearn builds Adam once and reads its rate each step
        model._optimizer.learning_rate_init = rate
    else:
        model.set_params(learning_rate_init=rate)


def load_checkpoint(directory: Path) -> dict | None:
    """The newest checkpoint: ``{"model", "epoch", "loss", "accuracy", "best"}``, or ``None``."""
    path = directory / CHECKPOINT
    if not path.exists():
        return None
    with path.open("rb") as handle:
        return pickle.load(handle)  # our own checkpoint, written below


def save_checkpoint(directory: Path, state: dict) -> None:
    tmp = directory / f".{CHECKPOINT}.tmp"
    with tmp.open("wb") as handle:
        pickle.dump(state, handle)
    tmp.replace(directory / CHECKPOINT)


def train(trial: worker.Trial, epochs: int) -> None:
    x_train, x_val, y_train, y_val = load_data()
    classes = np.unique(y_train)
    state = load_checkpoint(trial.checkpoint_dir)
    if state:
        print(f"resuming trial {trial.number} from epoch {state['epoch']}", flush=True)
    else:
        nan = float("nan")
        state = {"model": build_model(trial.params), "epoch": 0, "loss": nan, "accuracy": nan,
                 "best": float("inf")}  # fmt: skip
    model, initial = state["model"], float(trial.params.get("learning_rate_init", 1e-3))
    for epoch in range(int(state["epoch"]), epochs):
        set_learning_rate(model, epoch, epochs, initial)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.partial_fit(x_train, y_train, classes=classes)
        proba = np.clip(model.predict_proba(x_val), 1e-12, 1.0)
        loss = float(log_loss(y_val, proba, labels=classes))
        acc = float(accuracy_score(y_val, model.predict(x_val)))
        best = min(state["best"], loss) if np.isfinite(loss) else state["best"]
        state = {"model": model, "epoch": epoch + 1, "loss": loss, "accuracy": acc, "best": best}
        if np.isfinite(loss):  # before the checkpoint: a checkpointed epoch is never unreported
            trial.report(epoch + 1, loss)
        save_checkpoint(trial.checkpoint_dir, state)
        trial.save_checkpoint()
        print(f"epoch {epoch + 1}/{epochs} val_loss={loss:.4f} val_acc={acc:.4f}", flush=True)
        if trial.should_stop():
            print("stop requested: checkpoint saved, exiting", flush=True)
            return
    if not np.isfinite(state["loss"]):  # a diverged model: report it as such, not as a number
        raise SystemExit(f"training diverged (val_loss={state['loss']})")
    metrics = {"val_loss_best_epoch": state["best"], "val_accuracy": state["accuracy"]}
    trial.finish(state["loss"], metrics={**metrics, "epochs": float(epochs)})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args()
    trial = worker.current()
    trial.handle_sigterm()
    train(trial, args.epochs)


if __name__ == "__main__":
    main()
