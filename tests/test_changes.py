"""A study file edited under an existing study: safe changes run (with a note), unsafe ones
are refused in one line (exit 2) unless --allow-changes, impossible ones always."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from click.testing import CliRunner

from hpo.attrs import STUDY_SPEC
from hpo.cli import main
from hpo.spec.loader import load_study
from hpo.storage import open_storage

TRAINER = Path(__file__).parent / "data" / "square_trainer.py"
BASE = f"""\
name: edited
objective: {{metric: loss, direction: minimize}}
search_space:
  x: {{type: float, low: -5, high: 5}}
  act: {{type: categorical, choices: [relu, tanh]}}
sampler: {{type: random, seed: 0}}
budget: {{n_trials: 1, max_parallel: 1}}
trainer:
  command: python {TRAINER}
backend: {{type: local, poll_interval: 0.05}}
"""
SECOND = {"n_trials: 1": "n_trials: 2"}  # every second run asks for one more trial

# case: (edits to the file, refused without --allow-changes, refused even with it, message)
CASES = {
    "widen_range": ({"low: -5, high: 5": "low: -10, high: 10"}, False, False,
                    "search_space.x: range widened from [-5, 5] to [-10, 10]"),
    "add_with_default": ({"  act:": "  y: {type: int, low: 0, high: 3, default: 0}\n  act:"},
                         False, False, "search_space.y: added, with a default"),
    "new_sampler": ({"{type: random, seed: 0}": "{type: tpe, seed: 0}"}, False, False,
                    "sampler: changed from random to tpe"),
    "narrow_range": ({"low: -5, high: 5": "low: -1, high: 1"}, True, False,
                     "search_space.x: range narrowed from [-5, 5] to [-1, 1]"),
    "add_without_default": ({"  act:": "  y: {type: int, low: 0, high: 3}\n  act:"}, True,
                            False, "search_space.y: added without a 'default'"),
    "remove_param": ({"  act: {type: categorical, choices: [relu, tanh]}\n": ""}, True, False,
                     "search_space.act: removed (earlier trials ran with it)"),
    "new_trainer": ({f"python {TRAINER}": f"python {TRAINER} --epochs 3"}, True, False,
                    "trainer.command: changed from"),
    "new_metric": ({"metric: loss": "metric: error"}, True, False,
                   "objective.metric: changed from ['loss'] to ['error']"),
    "direction": ({"direction: minimize": "direction: maximize"}, True, True,
                  "objective.direction: changed from minimize to maximize"),
    "type": ({"x: {type: float, low: -5, high: 5}": "x: {type: categorical, choices: [0.5, 1.5]}"},
             True, True, "search_space.x: type changed from float to categorical"),
    "choices": ({"[relu, tanh]": "[relu, tanh, gelu]"}, True, True,
                "search_space.act: choices changed from ['relu', 'tanh'] to"),
}  # fmt: skip


def edit(text: str, edits: dict[str, str]) -> str:
    for old, new in {**edits, **SECOND}.items():
        assert old in text, old
        text = text.replace(old, new)
    return text


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def trials(path: Path) -> list[optuna.trial.FrozenTrial]:
    file = load_study(path)
    return optuna.load_study(study_name="edited", storage=open_storage(file.storage_url)).trials


@pytest.fixture
def started(tmp_path: Path) -> Path:
    path = tmp_path / "edited.yaml"
    path.write_text(BASE)
    code, out = cli("run", str(path))
    assert code == 0, out
    return path


@pytest.mark.parametrize("case", CASES)
def test_a_changed_study_file(started: Path, case: str) -> None:
    edits, refused, impossible, message = CASES[case]
    started.write_text(edit(BASE, edits))
    code, out = cli("run", str(started))
    if not refused:
        assert code == 0, out
        assert f"note: {message}" in out and "since the last run (safe)" in out
        assert len(trials(started)) == 2
        return
    assert code == 2, out
    assert "Traceback" not in out
    error, hint = out.splitlines()
    assert error.startswith(f"error: {started}: {message}"), error
    assert "since study 'edited' started" in error
    assert len(trials(started)) == 1  # nothing ran
    code, out = cli("run", "--allow-changes", str(started))
    if impossible:
        assert code == 2 and "new study name" in out, out
        assert "--allow-changes" not in hint
    else:
        assert code == 0, out
        assert "accepted with --allow-changes" in out
        assert len(trials(started)) == 2
        assert cli("run", str(started))[0] == 0  # recorded: the next run needs no flag


@pytest.mark.parametrize("case", ["direction", "type"])
def test_a_study_recorded_before_the_check_is_checked_from_its_trials(
    started: Path, case: str
) -> None:
    study = optuna.load_study(study_name="edited", storage=open_storage(
        str(started.parent / "edited.journal")))  # fmt: skip
    study.set_user_attr(STUDY_SPEC, {})  # as a study from an earlier hpo has none
    edits, _, _, message = CASES[case]
    started.write_text(edit(BASE, edits))
    code, out = cli("run", str(started))
    assert code == 2 and message in out and "Traceback" not in out, out
