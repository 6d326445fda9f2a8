"""A study file edited under an existing study: what is safe, what needs ``--allow-changes``,
and what an Optuna study cannot take at all.

The first run records the parts that decide what a result means (objective, search space,
sampler, pruner, trainer) in the study's ``hpo_spec`` attribute; each later run compares the
file with that record (and the directions with the study itself, so studies recorded before
this check are covered too):

- safe: a range widened, a categorical unchanged, a parameter added with a ``default`` (the
  value earlier trials ran with), a new sampler or pruner (they only shape new proposals);
- needs ``--allow-changes``: a range narrowed or moved, a step changed, a parameter removed
  or added without a default, another metric, another trainer command or environment;
- never (Optuna fixes them per study): a direction, the number of objectives, a parameter's
  type or log scale, a categorical's choices. The fix is a new study name, with
  ``warm_start`` to copy the compatible trials.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from hpo.attrs import STUDY_SPEC
from hpo.errors import SpecError
from hpo.spec.models import StudySpec


class Kind(enum.Enum):
    SAFE = "safe"
    NEEDS_ALLOW = "needs --allow-changes"
    IMPOSSIBLE = "impossible"


@dataclass(frozen=True)
class Change:
    """One difference between the recorded study and the file."""

    field: str
    what: str
    kind: Kind


def record_of(spec: StudySpec) -> dict[str, Any]:
    """The parts of ``spec`` that later runs compare with (JSON, stored on the study)."""
    return {
        "objective": {
            "directions": list(spec.objective.study_directions),
            "metrics": spec.objective.metric_names,
        },
        "search_space": {
            name: param.model_dump(exclude={"default"}) | {"has_default": param.has_default}
            for name, param in spec.search_space.items()
        },
        "sampler": spec.sampler.model_dump(),
        "pruner": spec.pruner.model_dump(),
        "trainer": {"command": list(spec.trainer.command), "env": dict(spec.trainer.env)},
    }


def _from_distribution(dist: Any) -> dict[str, Any]:
    if isinstance(dist, CategoricalDistribution):
        return {"type": "categorical", "choices": list(dist.choices)}
    kind = "int" if isinstance(dist, IntDistribution) else "float"
    step = dist.step if isinstance(dist, IntDistribution | FloatDistribution) else None
    return {"type": kind, "low": dist.low, "high": dist.high, "log": dist.log, "step": step}


def recorded(study: optuna.Study) -> dict[str, Any]:
    """What the study ran with: its record, else what its trials show (older studies)."""
    record = study.user_attrs.get(STUDY_SPEC)
    if isinstance(record, dict) and record:
        return record
    space: dict[str, Any] = {}
    for trial in study.get_trials(deepcopy=False):
        for name, dist in trial.distributions.items():
            space[name] = _from_distribution(dist)
    return {"search_space": space} if space else {}


def _range(p: dict[str, Any]) -> str:
    return f"[{p['low']:g}, {p['high']:g}]"


def _param_changes(name: str, old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    field = f"search_space.{name}"
    if old["type"] != new["type"]:
        return [Change(field, f"type changed from {old['type']} to {new['type']}",
                       Kind.IMPOSSIBLE)]  # fmt: skip
    if old["type"] == "categorical":
        if list(old["choices"]) != list(new["choices"]):
            what = f"choices changed from {old['choices']} to {new['choices']}"
            return [Change(field, what, Kind.IMPOSSIBLE)]
        return []
    if bool(old.get("log")) != bool(new.get("log")):
        return [Change(field, f"log changed to {bool(new.get('log'))}", Kind.IMPOSSIBLE)]
    out = []
    if (old["low"], old["high"]) != (new["low"], new["high"]):
        wider = new["low"] <= old["low"] and new["high"] >= old["high"]
        verb = "widened" if wider else "narrowed" if new["low"] >= old["low"] and new[
            "high"] <= old["high"] else "moved"  # fmt: skip
        out.append(Change(field, f"range {verb} from {_range(old)} to {_range(new)}",
                          Kind.SAFE if wider else Kind.NEEDS_ALLOW))  # fmt: skip
    if old.get("step") != new.get("step"):
        out.append(Change(field, f"step changed from {old.get('step')} to {new.get('step')}",
                          Kind.NEEDS_ALLOW))  # fmt: skip
    return out


def _space_changes(old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    out: list[Change] = []
    for name in old.keys() - new.keys():
        out.append(Change(f"search_space.{name}", "removed (earlier trials ran with it)",
                          Kind.NEEDS_ALLOW))  # fmt: skip
    for name in new.keys() - old.keys():
        if new[name].get("has_default"):
            out.append(Change(f"search_space.{name}", "added, with a default", Kind.SAFE))
        else:
            what = "added without a 'default' (the value earlier trials ran with)"
            out.append(Change(f"search_space.{name}", what, Kind.NEEDS_ALLOW))
    for name in old.keys() & new.keys():
        out += _param_changes(name, old[name], new[name])
    return out


def compare(study: optuna.Study, spec: StudySpec) -> list[Change]:
    """Every difference between what ``study`` ran with and ``spec``, most serious first."""
    new = record_of(spec)
    old = recorded(study)
    out: list[Change] = []
    directions = [d.name.lower() for d in study.directions]
    if directions != new["objective"]["directions"]:
        field = "objective.direction" if len(directions) == 1 else "objective.directions"
        what = (
            f"changed from {', '.join(directions)} to {', '.join(new['objective']['directions'])}"
        )
        out.append(Change(field, what, Kind.IMPOSSIBLE))
    if "objective" in old and old["objective"].get("metrics") != new["objective"]["metrics"]:
        what = f"changed from {old['objective'].get('metrics')} to {new['objective']['metrics']}"
        out.append(Change("objective.metric", what, Kind.NEEDS_ALLOW))
    if "search_space" in old:
        out += _space_changes(old["search_space"], new["search_space"])
    for part in ("sampler", "pruner"):
        if part in old and old[part] != new[part]:
            what = f"changed from {old[part].get('type')} to {new[part]['type']}"
            what += "" if old[part].get("type") != new[part]["type"] else " (other options)"
            out.append(Change(part, what, Kind.SAFE))
    if "trainer" in old:
        for key in ("command", "env"):
            if old["trainer"].get(key) != new["trainer"][key]:
                what = f"changed from {old['trainer'].get(key)} to {new['trainer'][key]}"
                out.append(Change(f"trainer.{key}", what, Kind.NEEDS_ALLOW))
    order = [Kind.IMPOSSIBLE, Kind.NEEDS_ALLOW, Kind.SAFE]
    return sorted(out, key=lambda c: order.index(c.kind))


def check(study: optuna.Study, spec: StudySpec, source: str, *, allow: bool) -> list[str]:
    """Refuse an unsafe change in one line (exit 2); return a note for each accepted one."""
    changes = compare(study, spec)
    refused = [c for c in changes if c.kind is Kind.IMPOSSIBLE or
               (c.kind is Kind.NEEDS_ALLOW and not allow)]  # fmt: skip
    if refused:
        first = refused[0]
        more = f" (and {len(refused) - 1} more change(s))" if len(refused) > 1 else ""
        since = f"since study {spec.name!r} started"
        if first.kind is Kind.IMPOSSIBLE:
            hint = ("an Optuna study cannot change this: revert it, or use a new study name "
                    "(warm_start: {from: THIS_FILE} copies the compatible trials)")  # fmt: skip
        else:
            hint = "revert it, use a new study name, or run with --allow-changes"
        raise SpecError(f"{first.what} {since}{more}", file=source, field=first.field, hint=hint)
    how = {Kind.SAFE: "safe", Kind.NEEDS_ALLOW: "accepted with --allow-changes"}
    return [f"{c.field}: {c.what} since the last run ({how[c.kind]})" for c in changes]


def save(study: optuna.Study, spec: StudySpec) -> None:
    """Record ``spec`` as what the study now runs with (under the controller's lease)."""
    record = record_of(spec)
    if study.user_attrs.get(STUDY_SPEC) != record:
        study.set_user_attr(STUDY_SPEC, record)
