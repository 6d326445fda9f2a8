"""infra/README.md stays true: its example study validates, its table lists every parameter."""

from __future__ import annotations

import re
import textwrap

import yaml

from hpo.infra.template import Template
from hpo.spec.models import BatchBackendSpec, StudySpec
from tests.infra.conftest import INFRA, TEMPLATE

README = (INFRA / "README.md").read_text()


def test_the_example_study_is_a_valid_batch_study() -> None:
    (block,) = re.findall(r"```yaml\n(.*?)```", README, re.S)
    spec = StudySpec.model_validate(yaml.safe_load(textwrap.dedent(block)))
    assert isinstance(spec.backend, BatchBackendSpec)
    assert spec.backend.stack == "hpo"
    assert "train_torch.py" in spec.trainer.command


def test_the_parameter_table_lists_every_parameter() -> None:
    documented = set(re.findall(r"^\| `(\w+)`", README, re.M))
    documented |= set(re.findall(r"`(\w+)` / `(\w+)` / `(\w+)`", README)[0])
    assert set(Template.read(TEMPLATE).parameters) <= documented
