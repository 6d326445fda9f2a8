"""``hpo validate`` shows the resolved study and refuses what cannot run here, up front."""

from __future__ import annotations

import importlib.util
import tomllib

import pytest
from click.testing import CliRunner

from hpo.cli import main
from hpo.errors import SpecError
from hpo.spec import build
from hpo.spec.loader import load_study, parse_spec
from tests.conftest import MINIMAL_STUDY, REPO


def run_cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_validate_prints_the_resolved_study(write_study) -> None:
    path = write_study(
        MINIMAL_STUDY
        + "sampler: {type: tpe, seed: 3}\npruner: {type: median}\n"
        + "budget: {n_trials: 20, max_parallel: 2, timeout: 1h}\nstore: trials\n"
    )
    code, out = run_cli("validate", str(path))
    assert code == 0, out
    assert f"{path}: ok" in out
    assert "sampler:    tpe (seed 3, n_startup_trials 10, n_ei_candidates 24" in out
    assert "pruner:     median (n_startup_trials 5, n_warmup_steps 0" in out
    assert "budget:     20 finished trials, 2 at a time, timeout 3600 s, max_failures 10" in out
    assert "backend:    local (poll_interval 0.25, grace_period 10.0, live_progress true)" in out
    assert f"storage:    {path.parent / 'demo.journal'} (journal file)" in out
    assert f"store:      {path.parent / 'trials'}" in out
    assert "x: float [-5, 5]" in out


def test_validate_masks_a_database_password(write_study) -> None:
    path = write_study(MINIMAL_STUDY + "storage: postgresql://hpo:s3cret@db.example/hpo\n")
    _, out = run_cli("validate", str(path))
    assert "s3cret" not in out
    assert "postgresql://hpo:***@db.example/hpo (postgresql database)" in out, out


def missing(*names: str):
    return lambda name: None if name in names else object()


def test_a_sampler_whose_packages_are_missing_is_refused_with_its_extra() -> None:
    spec = parse_spec(MINIMAL_STUDY + "sampler: {type: cmaes}\n")
    with pytest.raises(SpecError) as err:
        build.check_requirements(spec, "s.yaml", find=missing("cmaes"))
    assert str(err.value) == "s.yaml: sampler.type: 'cmaes' needs cmaes, which is not installed"
    assert err.value.hint == "pip install 'hpo[cmaes]'"
    optuna_gp = parse_spec(MINIMAL_STUDY + "sampler: {type: optuna_gp}\n")
    with pytest.raises(SpecError, match="'optuna_gp' needs torch, which is not") as err:
        build.check_requirements(optuna_gp, "s.yaml", find=missing("torch"))
    assert err.value.hint == "pip install 'hpo[optuna-gp]'"
    hpo_gp = parse_spec(MINIMAL_STUDY + "sampler: {type: gp}\n")
    build.check_requirements(hpo_gp, "s.yaml", find=missing("torch"))  # hpo's GP needs none
    build.check_requirements(spec, "s.yaml", find=missing())  # installed: fine


def test_postgresql_storage_needs_its_driver() -> None:
    spec = parse_spec(MINIMAL_STUDY)
    with pytest.raises(SpecError, match="'postgresql' needs psycopg, which") as err:
        build.check_requirements(spec, "s.yaml", "postgresql://db/x", find=missing("psycopg"))
    assert err.value.hint == "pip install 'hpo[postgresql]'"
    with pytest.raises(SpecError, match="'postgresql' needs psycopg2, which"):
        url = "postgresql+psycopg2://db/x"
        build.check_requirements(spec, "s.yaml", url, find=missing("psycopg2"))


@pytest.mark.skipif(importlib.util.find_spec("cmaes") is not None, reason="cmaes is installed")
def test_validate_refuses_cmaes_without_cmaes(write_study) -> None:
    path = write_study(MINIMAL_STUDY + "sampler: {type: cmaes}\n")
    for command in ("validate", "run"):
        code, out = run_cli(command, str(path))
        assert code == 2, out
        assert out.splitlines() == [
            f"error: {path}: sampler.type: 'cmaes' needs cmaes, which is not installed",
            "hint: pip install 'hpo[cmaes]'",
        ]


def test_every_offered_extra_exists() -> None:
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    offered = {extra for _, extra in build._SAMPLER_NEEDS.values()}
    offered.add(build._POSTGRESQL_EXTRA)
    assert offered <= set(extras["optional-dependencies"])


def test_the_license_is_an_spdx_string_not_a_deprecated_table() -> None:
    doc = tomllib.loads((REPO / "pyproject.toml").read_text())
    # setuptools >= 77 warns three times per install about `license = {text = ...}`.
    assert doc["project"]["license"] == "Apache-2.0"
    assert "setuptools>=77" in doc["build-system"]["requires"]


def test_enqueued_sets_and_defaults_are_checked_against_the_space(write_study) -> None:
    bad = MINIMAL_STUDY + "enqueue:\n  - {x: 1}\n  - {x: 7}\n"
    with pytest.raises(SpecError, match=r"enqueue: set 1: x: 7 is outside \[-5, 5\]"):
        parse_spec(bad)
    with pytest.raises(SpecError, match="set 0: unknown parameter 'y'"):
        parse_spec(MINIMAL_STUDY + "enqueue: [{y: 1}]\n")
    text = MINIMAL_STUDY.replace("high: 5}", "high: 5}\n  n: {type: int, low: 1, high: 9, step: 2}")
    with pytest.raises(SpecError, match="n: 4 is not low"):
        parse_spec(text + "enqueue: [{n: 4}]\n")
    assert parse_spec(text + "enqueue: [{x: 1, n: 5}]\n").enqueued() == [{"x": 1.0, "n": 5}]
    with pytest.raises(SpecError, match=r"search_space\.x: 'default': 9 is outside"):
        parse_spec(MINIMAL_STUDY.replace("high: 5}", "high: 5, default: 9}"))
    assert load_study(write_study(MINIMAL_STUDY)).spec.enqueue == []


def test_the_readme_study_file_example_is_valid() -> None:
    import re

    text = (REPO / "README.md").read_text()
    section = text.split("## Study file\n", 1)[1]
    block = re.search(r"```yaml\n(.*?)```", section, re.S).group(1)
    spec = parse_spec(block, source="README.md")
    assert spec.trainer.timeout == 1800 and spec.warm_start.from_ == "pilot.yaml"
    assert spec.enqueued() == [{"lr": 1e-3, "dropout": 0.1, "layers": 2, "optimizer": "adam"}]
    assert spec.search_space["warmup"].has_default
