"""'Did you mean' hints for typos in nested sections: every sampler, pruner and backend
variant suggests its own fields (the hints are read from the pydantic models themselves)."""

from __future__ import annotations

import pytest

from hpo.errors import SpecError
from hpo.spec import optimizers
from hpo.spec.loader import parse_spec
from hpo.spec.models import BatchBackendSpec, LocalBackendSpec
from tests.conftest import MINIMAL_STUDY


def variants(union: object) -> list[type]:
    return list(union.__origin__.__args__)  # type: ignore[attr-defined]


def typo_cases() -> list[tuple[str, str, str, str]]:
    """(section, variant tag, field, typo) for every field of every variant."""
    cases = []
    groups = [("sampler", variants(optimizers.SamplerSpec)),
              ("pruner", variants(optimizers.PrunerSpec)),
              ("backend", [LocalBackendSpec, BatchBackendSpec])]  # fmt: skip
    for section, models in groups:
        for model in models:
            tag = model.model_fields["type"].annotation.__args__[0]
            for field in model.model_fields:
                if field != "type" and len(field) > 3:
                    cases.append((section, tag, field, field[:-1]))  # drop the last letter
    return cases


CASES = typo_cases()


@pytest.mark.parametrize(("section", "tag", "field", "typo"), CASES,
                         ids=[f"{s}-{t}-{f}" for s, t, f, _ in CASES])  # fmt: skip
def test_a_typo_in_a_variant_suggests_that_variants_field(
    section: str, tag: str, field: str, typo: str
) -> None:
    text = MINIMAL_STUDY + f"{section}: {{type: {tag}, {typo}: 1}}\n"
    with pytest.raises(SpecError) as err:
        parse_spec(text)
    assert f"unknown field '{typo}'" in str(err.value)
    assert err.value.hint == f"did you mean '{field}'?", (err.value, err.value.hint)


def test_the_reported_typos_from_the_review() -> None:
    with pytest.raises(SpecError) as err:
        parse_spec(MINIMAL_STUDY + "pruner: {type: median, n_warmup_step: 3}\n")
    assert err.value.hint == "did you mean 'n_warmup_steps'?"
    with pytest.raises(SpecError) as err:
        parse_spec(MINIMAL_STUDY + "sampler: {type: cmaes, sigma: 0.5}\n")
    assert err.value.hint == "did you mean 'sigma0'?"


def test_a_typo_inside_a_wrapped_pruner_and_a_parameter() -> None:
    wrapped = "pruner: {type: patient, patience: 2, wrapped: {type: median, interval_step: 2}}\n"
    with pytest.raises(SpecError) as err:
        parse_spec(MINIMAL_STUDY + wrapped)
    assert err.value.hint == "did you mean 'interval_steps'?"
    space = MINIMAL_STUDY.replace("{type: float, low: -5, high: 5}",
                                  "{type: float, low: -5, high: 5, stepp: 1}")  # fmt: skip
    with pytest.raises(SpecError) as err:
        parse_spec(space)
    assert err.value.hint == "did you mean 'step'?"
