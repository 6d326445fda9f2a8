"""Example trainer: a PyTorch MLP on scikit-learn's bundled digits dataset (no downloads).

Params (from the study's search space, all optional): ``lr``, ``hidden``, ``layers``,
``dropout``, ``weight_decay``, ``batch_size``, ``epochs`` and ``seed``. It trains on the GPU
when one is visible and on the CPU otherwise, reports the validation loss after every epoch
(the objective, minimised), checkpoints model, optimizer and RNG state each epoch and resumes
from the newest checkpoint on a later attempt of the same trial, so a reclaimed spot host
costs at most one epoch. Given the same seed, a resumed run ends where an uninterrupted run
ends (exactly on the CPU).

Run through hpo (it sets HPO_TRIAL_URI); ``--epochs`` is the budget when no ``epochs`` param.
"""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path
from typing import Any

# cuBLAS needs this before CUDA initialises to run deterministically.
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")

import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from torch import nn

from hpo import worker

CHECKPOINT = "torch_mlp.pt"
DEFAULTS: dict[str, Any] = {
    "lr": 1e-3,
    "hidden": 64,
    "layers": 2,
    "dropout": 0.1,
    "weight_decay": 0.0,
    "batch_size": 64,
    "seed": 0,
}

Tensors = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


def settings(params: dict[str, Any], epochs: int) -> dict[str, Any]:
    """The trial's params over the defaults; ``epochs`` from the params or the command line."""
    merged = {**DEFAULTS, "epochs": epochs, **params}
    return {
        "lr": float(merged["lr"]),
        "hidden": int(merged["hidden"]),
        "layers": int(merged["layers"]),
        "dropout": float(merged["dropout"]),
        "weight_decay": float(merged["weight_decay"]),
        "batch_size": int(merged["batch_size"]),
        "epochs": int(merged["epochs"]),
        "seed": int(merged["seed"]),
    }


def load_data(device: torch.device) -> Tensors:
    """Digits split 80/20 (fixed split), standardised on the training part, on ``device``."""
    x, y = load_digits(return_X_y=True)
    x_train, x_val, y_train, y_val = train_test_split(
        x, y, test_size=0.2, random_state=0, stratify=y
    )
    scaler = StandardScaler().fit(x_train)

    def as_tensor(a: Any, dtype: torch.dtype) -> torch.Tensor:
        return torch.as_tensor(a, dtype=dtype, device=device)

    return (
        as_tensor(scaler.transform(x_train), torch.float32),
        as_tensor(y_train, torch.long),
        as_tensor(scaler.transform(x_val), torch.float32),
        as_tensor(y_val, torch.long),
    )


def build_model(cfg: dict[str, Any], n_in: int, n_out: int) -> nn.Module:
    """An MLP: ``layers`` hidden layers of ``hidden`` units with ReLU and dropout."""
    blocks: list[nn.Module] = []
    width = n_in
    for _ in range(max(1, cfg["layers"])):
        blocks += [nn.Linear(width, cfg["hidden"]), nn.ReLU(), nn.Dropout(cfg["dropout"])]
        width = cfg["hidden"]
    blocks.append(nn.Linear(width, n_out))
    return nn.Sequential(*blocks)


def make_deterministic(seed: int) -> None:
    """Seed every generator and ask for deterministic kernels."""
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False


def train_epoch(
    model: nn.Module, optimizer: torch.optim.Optimizer, data: Tensors, cfg: dict, epoch: int
) -> None:
    """One pass over the training set in a shuffle order fixed by (seed, epoch)."""
    x_train, y_train = data[0], data[1]
    order_rng = torch.Generator().manual_seed(cfg["seed"] * 100_003 + epoch)
    order = torch.randperm(len(x_train), generator=order_rng).to(x_train.device)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    for start in range(0, len(order), cfg["batch_size"]):
        batch = order[start : start + cfg["batch_size"]]
        optimizer.zero_grad(set_to_none=True)
        loss_fn(model(x_train[batch]), y_train[batch]).backward()
        optimizer.step()


@torch.no_grad()
def evaluate(model: nn.Module, data: Tensors) -> tuple[float, float]:
    """Validation cross-entropy and accuracy."""
    model.eval()
    logits = model(data[2])
    loss = nn.functional.cross_entropy(logits, data[3]).item()
    accuracy = (logits.argmax(dim=1) == data[3]).float().mean().item()
    return float(loss), float(accuracy)


def save_checkpoint(
    directory: Path, model: nn.Module, optimizer: torch.optim.Optimizer, epoch: int, acc: float
) -> None:
    """Write the checkpoint atomically: weights, optimizer, RNG state, epochs done."""
    state = {
        "epoch": epoch,
        "val_accuracy": acc,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "rng_cpu": torch.get_rng_state(),
        "rng_cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }
    tmp = directory / f".{CHECKPOINT}.tmp"
    torch.save(state, tmp)
    tmp.replace(directory / CHECKPOINT)


def load_checkpoint(
    directory: Path, model: nn.Module, optimizer: torch.optim.Optimizer, device: torch.device
) -> tuple[int, float]:
    """Restore the newest checkpoint; returns (epochs done, accuracy), (0, nan) if none."""
    path = directory / CHECKPOINT
    if not path.exists():
        return 0, math.nan
    state = torch.load(path, map_location=device, weights_only=True)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    torch.set_rng_state(state["rng_cpu"].cpu())
    if state["rng_cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["rng_cuda"]])
    return int(state["epoch"]), float(state["val_accuracy"])


def train(trial: worker.Trial, epochs: int) -> bool:
    """Train (or resume) the trial; returns False when stopped early (pruned or SIGTERM)."""
    cfg = settings(trial.params, epochs)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    make_deterministic(cfg["seed"])
    data = load_data(device)
    model = build_model(cfg, data[0].shape[1], 10).to(device)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"]
    )
    start, acc = load_checkpoint(trial.checkpoint_dir, model, optimizer, device)
    print(f"trial {trial.number} attempt {trial.attempt}: {device}, epoch {start}", flush=True)
    loss = dict(trial.reported_steps).get(start, math.nan)
    for epoch in range(start, cfg["epochs"]):
        train_epoch(model, optimizer, data, cfg, epoch)
        loss, acc = evaluate(model, data)
        trial.report(epoch + 1, loss)  # before the checkpoint: see Trial.report
        save_checkpoint(trial.checkpoint_dir, model, optimizer, epoch + 1, acc)
        trial.save_checkpoint()
        print(f"epoch {epoch + 1}/{cfg['epochs']} val_loss={loss:.4f} acc={acc:.4f}", flush=True)
        if epoch + 1 < cfg["epochs"] and trial.should_stop(min_interval=0.0):
            print("stop requested: checkpoint saved, exiting", flush=True)
            return False
    if not math.isfinite(loss):
        raise SystemExit(f"training diverged (val_loss={loss})")
    trial.finish(loss, metrics={"val_accuracy": acc, "epochs": float(cfg["epochs"])})
    return True


def main(argv: list[str] | None = None) -> None:
    """Entry point: ``python train_torch.py [--epochs N]``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args(argv)
    trial = worker.current()
    trial.handle_sigterm()
    train(trial, args.epochs)


if __name__ == "__main__":
    main()
