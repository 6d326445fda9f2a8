"""``warm_start``: copy another study's finished trials into this one, where they fit.

A trial is copied when it is COMPLETE or PRUNED and every parameter it has lies in this
study's space; a parameter this space adds is filled with its ``default``. Copies carry
``warm_start_of`` (source study and trial number): that makes copying idempotent (a rerun
copies only what is new) and keeps them out of this study's budget, while the sampler sees
them as history. hpo's job attributes (job id, log, compute seconds) stay with the source.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import optuna
from optuna.trial import FrozenTrial, TrialState

from hpo import attrs
from hpo.errors import SpecError
from hpo.inspect import reader
from hpo.spec import build
from hpo.spec.loader import StudyFile, display_url, load_study
from hpo.spec.models import StudySpec, is_active
from hpo.storage import group_commit, open_storage

_COPIED_STATES = (TrialState.COMPLETE, TrialState.PRUNED)


@dataclass(frozen=True)
class CopyReport:
    """What one warm start did: trials copied now and before, and why the others were not."""

    source: str
    copied: int
    already: int
    skipped: dict[str, int] = field(default_factory=dict)

    def line(self) -> str:
        text = f"warm start from {self.source}: copied {self.copied} trial(s)"
        if self.already:
            text += f" ({self.already} copied by an earlier run)"
        if self.skipped:
            why = "; ".join(f"{n} {reason}" for reason, n in sorted(self.skipped.items()))
            text += f"; not copied: {why}"
        return text


def open_source(file: StudyFile) -> tuple[optuna.Study, str, StudySpec | None]:
    """The source study (read only), a printable name for it, and its spec when it has one."""
    ws = file.spec.warm_start
    assert ws is not None
    if ws.from_ is not None:
        other = load_study(file.base_dir / ws.from_)
        if other.storage_url == file.storage_url and other.spec.name == file.spec.name:
            raise SpecError("a study cannot warm-start from itself", file=str(file.path),
                            field="warm_start.from", hint="name another study's file")  # fmt: skip
        return reader.open_study(other), f"study {other.spec.name!r} ({ws.from_})", other.spec
    url = ws.storage if "://" in str(ws.storage) else str(file.base_dir / str(ws.storage))
    try:
        storage = open_storage(url, read_only=True)
    except FileNotFoundError:
        hint = "give the source study's journal file or database URL"
        raise SpecError(f"no storage at {url}", file=str(file.path), field="warm_start.storage",
                        hint=hint) from None  # fmt: skip
    try:
        study = optuna.load_study(study_name=str(ws.study), storage=storage)
    except KeyError:
        hint = "check the study name (hpo status on its file shows it)"
        message = f"there is no study {ws.study!r} in {display_url(url)}"
        raise SpecError(message, file=str(file.path), field="warm_start.study",
                        hint=hint) from None  # fmt: skip
    return study, f"study {ws.study!r}", None


def _why_not(trial: FrozenTrial, spec: StudySpec) -> str | None:
    """Why ``trial`` cannot be copied into ``spec``'s space (``None`` when it can)."""
    if trial.state not in _COPIED_STATES:
        return "failed" if trial.state is TrialState.FAIL else "not finished"
    if trial.state is TrialState.COMPLETE and not trial.values:
        return "without a value"
    for name, value in trial.params.items():
        param = spec.search_space.get(name)
        if param is None:
            return f"with parameter {name!r}, which this space does not have"
        if param.problem(value) is not None:
            return f"with {name!r} outside this space"
    return None


def _point(trial: FrozenTrial, spec: StudySpec) -> dict[str, object] | str:
    """``trial``'s params in ``spec``'s space, defaults filled in and parameters that the
    space's conditions leave out dropped; or why that is not possible."""
    params: dict[str, object] = {}
    for name, param in spec.search_space.items():
        if not is_active(param, params):
            if name in trial.params:
                return f"with {name!r}, which a condition of this space leaves out"
            continue
        if name in trial.params:
            params[name] = trial.params[name]
        elif param.has_default:
            params[name] = param.default
        else:
            return f"without {name!r} (give it a 'default' to copy them)"
    return params


def _copy(
    trial: FrozenTrial, params: dict[str, object], spec: StudySpec, source: str
) -> FrozenTrial:
    every = build.distributions(spec)
    space = {name: every[name] for name in params}
    kept = {k: v for k, v in trial.user_attrs.items() if k not in attrs.RESERVED}
    if trial.user_attrs.get(attrs.METRICS):
        kept[attrs.METRICS] = trial.user_attrs[attrs.METRICS]
    kept[attrs.WARM_START_OF] = {"study": source, "trial": trial.number}
    return optuna.trial.create_trial(
        state=trial.state,
        params={n: spec.search_space[n].coerce(v) for n, v in params.items()},
        distributions=space,
        values=trial.values if trial.state is TrialState.COMPLETE else None,
        intermediate_values=dict(trial.intermediate_values),
        user_attrs=kept,
    )


def copied_keys(study: optuna.Study) -> set[tuple[str, int]]:
    """(source study, trial number) of every trial already copied into ``study``."""
    out = set()
    for trial in study.get_trials(deepcopy=False):
        mark = trial.user_attrs.get(attrs.WARM_START_OF)
        if isinstance(mark, dict):
            out.add((str(mark.get("study")), int(mark.get("trial", -1))))
    return out


def warm_start(target: optuna.Study, file: StudyFile) -> CopyReport:
    """Copy the compatible finished trials of ``file``'s ``warm_start`` source into ``target``."""
    source, label, source_spec = open_source(file)
    spec = file.spec
    if [d.name.lower() for d in source.directions] != spec.objective.study_directions:
        raise SpecError(
            f"{label} optimizes {', '.join(d.name.lower() for d in source.directions)}, this "
            f"study {', '.join(spec.objective.study_directions)}: its values do not carry over",
            file=str(file.path), field="warm_start", hint="warm-start from a study with the "
            "same objective")  # fmt: skip
    if (
        source_spec is not None
        and source_spec.objective.metric_names != spec.objective.metric_names
    ):
        raise SpecError(
            f"{label} measures {source_spec.objective.metric_names}, this study "
            f"{spec.objective.metric_names}", file=str(file.path), field="warm_start",
            hint="warm-start from a study with the same objective metric")  # fmt: skip
    done = copied_keys(target)
    name = source.study_name
    skipped: Counter[str] = Counter()
    todo: list[FrozenTrial] = []
    already = 0
    for trial in source.get_trials(deepcopy=False):
        if (name, trial.number) in done:
            already += 1
            continue
        reason = _why_not(trial, spec)
        point = _point(trial, spec) if reason is None else reason
        if isinstance(point, dict):
            todo.append(_copy(trial, point, spec, name))
        else:
            skipped[point] += 1
    with group_commit(target):
        target.add_trials(todo)
    return CopyReport(label, len(todo), already, dict(skipped))


def is_copy(trial: FrozenTrial) -> bool:
    """Whether ``trial`` was copied by warm_start (not run by this study)."""
    return isinstance(trial.user_attrs.get(attrs.WARM_START_OF), dict)
