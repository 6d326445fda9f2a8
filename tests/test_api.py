"""The Python API: the README's example runs as written, and a background run stops."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from optuna.trial import TrialState

from hpo import api, attrs
from tests.conftest import REPO, SKLEARN_TRAINER

pytestmark = pytest.mark.slow


def readme_block(heading: str) -> str:
    text = (REPO / "README.md").read_text()
    section = text.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_readme_python_api_example_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    studies = tmp_path / "studies"
    studies.mkdir()
    text = (REPO / "studies" / "quickstart.yaml").read_text()
    text = text.replace("../trainer_image/train_sklearn.py", str(SKLEARN_TRAINER))
    text = text.replace("--epochs 20", "--epochs 2").replace("n_trials: 24", "n_trials: 4")
    (studies / "quickstart.yaml").write_text(text)
    monkeypatch.chdir(tmp_path)  # the example names studies/quickstart.yaml, as in the repo
    exec(compile(readme_block("Python API"), "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "complete 4 complete" in out
    study = api.load(studies / "quickstart.yaml")
    assert [t.state for t in study.trials()] == [TrialState.COMPLETE] * 4
    assert len(study.dataframe()) == 4


def test_a_background_run_stops_and_cancels_on_request(write_study) -> None:
    path = write_study(
        "name: slow\nobjective: {metric: loss, direction: minimize}\n"
        "search_space: {x: {type: float, low: 0, high: 1}}\n"
        "budget: {n_trials: 4, max_parallel: 2}\n"
        'trainer: {command: python -c "import time; time.sleep(60)"}\n'
        "backend: {type: local, poll_interval: 0.05, grace_period: 1}\n"
    )
    study = api.load(path)
    run = study.start()
    deadline = time.monotonic() + 60
    while len(study.trials(states=[TrialState.RUNNING])) < 2:  # both slots filled
        assert time.monotonic() < deadline and run.running
        time.sleep(0.05)
    run.stop(cancel=True)
    summary = run.wait(timeout=60)
    assert summary is not None and summary.reason == "interrupted"
    assert not run.running
    cancelled = study.trials()
    assert [t.state for t in cancelled] == [TrialState.FAIL] * 2
    assert all(t.user_attrs[attrs.STOPPED_BY] == "hpo stop --cancel" for t in cancelled)
    again = study.start()  # the lease was given back
    again.stop()
    assert again.wait(timeout=60) is not None
