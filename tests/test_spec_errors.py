"""Bad study files: one clear line naming file, field and line; exit code 2; no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from hpo.cli import main
from hpo.errors import SpecError
from hpo.spec.loader import load_study, parse_spec
from tests.conftest import MINIMAL_STUDY


def run_cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


CASES = {
    "invalid_yaml": (
        "name: demo\nobjective: {metric: loss, direction: minimize\nsearch_space: {}\n",
        ["invalid YAML"],
    ),
    "unknown_field": (
        MINIMAL_STUDY + "budjet: {n_trials: 3}\n",
        ["unknown field 'budjet'", "did you mean 'budget'", ":7"],
    ),
    "unknown_nested_field": (
        MINIMAL_STUDY + "budget: {n_trials: 3, max_paralel: 2}\n",
        ["budget", "unknown field 'max_paralel'", "did you mean 'max_parallel'"],
    ),
    "wrong_type": (
        MINIMAL_STUDY + "budget: {n_trials: lots}\n",
        ["budget.n_trials", "valid integer", "'lots'"],
    ),
    "empty_search_space": (
        MINIMAL_STUDY.replace("  x: {type: float, low: -5, high: 5}\n", "").replace(
            "search_space:", "search_space: {}"
        ),
        ["search_space", "empty"],
    ),
    "max_parallel_zero": (
        MINIMAL_STUDY + "budget: {max_parallel: 0}\n",
        ["budget.max_parallel", "greater than or equal to 1"],
    ),
    "unknown_sampler": (
        MINIMAL_STUDY + "sampler: {type: bayes}\n",
        ["sampler.type", "unknown type 'bayes'", "tpe"],
    ),
    "bad_range": (
        MINIMAL_STUDY.replace("low: -5, high: 5", "low: 5, high: -5"),
        ["search_space.x", "'low' must be smaller than 'high'", ":4"],
    ),
    "missing_command_program": (
        MINIMAL_STUDY.replace('python -c "pass"', "no-such-trainer-xyz --fast"),
        ["trainer.command", "'no-such-trainer-xyz' was not found", ":6"],
    ),
    "missing_trainer_script": (
        MINIMAL_STUDY.replace('python -c "pass"', "python missing_train.py"),
        ["trainer.command", "'missing_train.py' does not exist"],
    ),
    "cost_cap_on_local": (
        MINIMAL_STUDY + "budget: {max_cost: 20}\n",
        ["budget.max_cost", "need the batch backend", "no price"],
    ),
    "negative_cost_cap": (
        MINIMAL_STUDY + "budget: {max_cost: -1}\n",
        ["budget.max_cost", "greater than 0"],
    ),
    "missing_objective": (
        MINIMAL_STUDY.replace("objective: {metric: loss, direction: minimize}\n", ""),
        ["objective", "required field is missing"],
    ),
}


@pytest.mark.parametrize("command", ["run", "validate"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_study_gives_one_clear_line(write_study, case: str, command: str) -> None:
    text, expected = CASES[case]
    path = write_study(text)
    code, output = run_cli(command, str(path))
    assert code == 2, output
    assert "Traceback" not in output
    first = output.splitlines()[0]
    assert first.startswith("error: ") and str(path) in first
    for fragment in expected:
        assert fragment in output, (fragment, output)
    assert output.splitlines()[1].startswith("hint: ")


def test_missing_file_is_a_spec_error(tmp_path: Path) -> None:
    code, output = run_cli("run", str(tmp_path / "nope.yaml"))
    assert code == 2
    assert "file not found" in output


def test_debug_shows_the_traceback(write_study) -> None:
    path = write_study(MINIMAL_STUDY + "budget: {max_parallel: 0}\n")
    result = CliRunner().invoke(main, ["--debug", "validate", str(path)])
    assert isinstance(result.exception, SpecError)


def test_valid_study_has_sane_defaults(write_study) -> None:
    study = load_study(write_study(MINIMAL_STUDY))
    spec = study.spec
    assert spec.sampler.type == "auto"  # GP or TPE by the space: tests/test_auto_sampler.py
    assert spec.budget.max_parallel == 4 and spec.budget.failure_limit == 10
    assert spec.backend.type == "local"
    assert study.storage_url == str(study.base_dir / "demo.journal")
    assert study.store_root == str(study.base_dir / "runs")


def test_durations_and_multi_objective() -> None:
    spec = parse_spec(
        MINIMAL_STUDY.replace(
            "objective: {metric: loss, direction: minimize}",
            "objective: {metrics: [loss, latency], directions: [minimize, minimize]}",
        )
        + "budget: {timeout: 2h}\nsampler: {type: nsga2, seed: 1}\n"
    )
    assert spec.budget.timeout == 7200
    assert spec.objective.study_directions == ["minimize", "minimize"]


def test_pruning_needs_one_objective() -> None:
    text = MINIMAL_STUDY.replace(
        "objective: {metric: loss, direction: minimize}",
        "objective: {directions: [minimize, maximize]}",
    )
    with pytest.raises(SpecError, match="pruning needs a single objective"):
        parse_spec(text + "pruner: {type: median}\n")
