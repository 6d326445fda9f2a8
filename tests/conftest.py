"""Shared fixtures: study files in a temp dir and a controller on the simulated backend."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import optuna
import pytest

pytest.register_assert_rewrite("hpo.testing")  # the contract suites' assertions, in detail

REPO = Path(__file__).resolve().parents[1]
SKLEARN_TRAINER = REPO / "trainer_image" / "train_sklearn.py"

optuna.logging.set_verbosity(optuna.logging.WARNING)


@pytest.fixture
def write_study(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write a study file (dedented YAML) into the test's temp dir and return its path."""

    def write(text: str, name: str = "study.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text))
        return path

    return write


MINIMAL_STUDY = """\
name: demo
objective: {metric: loss, direction: minimize}
search_space:
  x: {type: float, low: -5, high: 5}
trainer:
  command: python -c "pass"
"""
