"""What ``hpo validate`` prints: the study as hpo will run it, defaults filled in."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from hpo.spec import models as m
from hpo.spec.build import auto_choice
from hpo.spec.loader import StudyFile


def _options(model: BaseModel, skip: tuple[str, ...] = ("type",)) -> str:
    """``a 1, b true, ...`` for every field of ``model`` (defaults included) but ``skip``."""
    items = model.model_dump(exclude=set(skip), by_alias=True)
    return ", ".join(f"{k} {_value(v)}" for k, v in items.items() if v is not None)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_value(v)}" for k, v in value.items()) + "}"
    return str(value)


def _param(name: str, param: m.FloatParam | m.IntParam | m.CategoricalParam) -> str:
    if isinstance(param, m.CategoricalParam):
        text = f"{name}: categorical {param.choices}"
    else:
        text = f"{name}: {param.type} [{param.low:g}, {param.high:g}]"
        text += " log" if param.log else ""
        text += f" step {param.step:g}" if param.step not in (None, 1) else ""
    text += f" (default {param.default!r})" if param.has_default else ""
    if param.when:
        text += " when " + ", ".join(f"{k} in {v}" for k, v in param.when.items())
    return text


def _budget(spec: m.StudySpec) -> str:
    b = spec.budget
    timeout = f"timeout {b.timeout:g} s" if b.timeout else "no timeout"
    limit = f"max_failures {b.failure_limit}" + ("" if b.max_failures else " (default)")
    given = (("max_cost", b.max_cost), ("max_gpu_hours", b.max_gpu_hours))
    caps = "".join(f", {name} {value:g}" for name, value in given if value)
    return f"{b.n_trials} finished trials, {b.max_parallel} at a time, {timeout}, {limit}{caps}"


def _storage(study: StudyFile) -> str:
    url = study.storage_display
    if "://" not in url:
        return f"{url} (journal file)"
    return f"{url} ({url.split('://', 1)[0].split('+')[0]} database)"


def _store(study: StudyFile) -> str:
    if study.spec.store is None and study.spec.backend.type == "batch":
        stack = getattr(study.spec.backend, "stack", None)
        return f"the s3 store of stack {stack!r}" if stack else "(none: set 'store')"
    return study.store_root


def _sampler(spec: m.StudySpec) -> str:
    """The sampler type; for ``auto``, what it would choose for a new study and why (a
    resumed study keeps the choice its first run recorded)."""
    if spec.sampler.type != "auto":
        return spec.sampler.type
    return auto_choice(spec).describe()


def describe(study: StudyFile) -> list[str]:
    """One line per part of the resolved study (no network calls, nothing created)."""
    spec = study.spec
    goal = ", ".join(
        f"{d} {n}" for d, n in zip(spec.objective.study_directions,
                                    spec.objective.metric_names or ["value"] * 8, strict=False)
    )  # fmt: skip
    timeout = spec.attempt_timeout
    lines = [
        f"{study.path}: ok",
        f"  study:      {spec.name} ({goal})",
        f"  space:      {len(spec.search_space)} parameter(s)",
        *(f"    {_param(n, p)}" for n, p in spec.search_space.items()),
        f"  sampler:    {_sampler(spec)} ({_options(spec.sampler)})",
        f"  pruner:     {spec.pruner.type}"
        + (f" ({_options(spec.pruner)})" if _options(spec.pruner) else ""),
        f"  budget:     {_budget(spec)}",
        f"  retries:    up to {spec.retries.max_attempts} attempts per trial for infrastructure "
        "failures" + (", then requeued" if spec.retries.requeue else ""),
        f"  trainer:    {' '.join(spec.trainer.command)} (in {study.base_dir}; attempt timeout "
        + (f"{timeout:g} s)" if timeout else "none)"),
        f"  backend:    {spec.backend.type} ({_options(spec.backend)})",
        f"  storage:    {_storage(study)}",
        f"  store:      {_store(study)}",
    ]
    if spec.enqueue:
        lines.append(f"  enqueue:    {len(spec.enqueue)} parameter set(s), run first, once")
    if spec.warm_start is not None:
        w = spec.warm_start
        source = w.from_ if w.from_ else f"study {w.study!r} in {w.storage}"
        lines.append(f"  warm start: finished trials of {source}")
    return lines
