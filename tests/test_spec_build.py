"""A study file's pruner becomes the Optuna pruner it names, with the options it gives."""

from __future__ import annotations

import optuna
import pytest

from hpo.spec import build
from hpo.spec.loader import parse_spec
from tests.conftest import MINIMAL_STUDY

P = optuna.pruners

CASES = {
    "none": ("{type: none}", P.NopPruner()),
    "median": (
        "{type: median, n_startup_trials: 2, n_warmup_steps: 3, interval_steps: 2, "
        "n_min_trials: 4}",
        P.MedianPruner(n_startup_trials=2, n_warmup_steps=3, interval_steps=2, n_min_trials=4),
    ),
    "percentile": (
        "{type: percentile, percentile: 25, n_warmup_steps: 3}",
        P.PercentilePruner(25.0, n_warmup_steps=3),
    ),
    "successive_halving": (
        "{type: successive_halving, min_resource: 2, reduction_factor: 3, "
        "min_early_stopping_rate: 1, bootstrap_count: 2}",
        P.SuccessiveHalvingPruner(
            min_resource=2, reduction_factor=3, min_early_stopping_rate=1, bootstrap_count=2
        ),
    ),
    "hyperband": (
        "{type: hyperband, min_resource: 2, max_resource: 27, reduction_factor: 3}",
        P.HyperbandPruner(min_resource=2, max_resource=27, reduction_factor=3),
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_a_pruner_gets_the_options_the_file_gives(case: str) -> None:
    text, expected = CASES[case]
    built = build.pruner(parse_spec(MINIMAL_STUDY + f"pruner: {text}\n").pruner)
    assert type(built) is type(expected)
    assert vars(built) == vars(expected)


def test_a_patient_pruner_wraps_the_pruner_it_names() -> None:
    text = (
        "{type: patient, patience: 3, min_delta: 0.1, wrapped: {type: median, n_warmup_steps: 2}}"
    )
    built = build.pruner(parse_spec(MINIMAL_STUDY + f"pruner: {text}\n").pruner)
    expected = P.PatientPruner(P.MedianPruner(n_warmup_steps=2), patience=3, min_delta=0.1)
    assert type(built) is P.PatientPruner
    inner, expected_inner = built._wrapped_pruner, expected._wrapped_pruner
    assert type(inner) is P.MedianPruner and vars(inner) == vars(expected_inner)
    outer = {k: v for k, v in vars(built).items() if k != "_wrapped_pruner"}
    assert outer == {k: v for k, v in vars(expected).items() if k != "_wrapped_pruner"}
