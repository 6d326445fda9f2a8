"""Turn a validated spec into Optuna objects: the study, its sampler, pruner and distributions.

The storage the study lives in is opened by :mod:`hpo.storage`."""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Callable
from typing import Any

import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from hpo import attrs
from hpo.errors import SpecError
from hpo.sampling import auto
from hpo.sampling.gp import GPSampler
from hpo.sampling.grid import GridSampler
from hpo.sampling.tpe import CachingTPESampler
from hpo.spec import models as m
from hpo.spec import optimizers as opt
from hpo.spec.loader import StudyFile


def distributions(spec: m.StudySpec) -> dict[str, BaseDistribution]:
    """One Optuna distribution per search-space entry, in file order."""
    out: dict[str, BaseDistribution] = {}
    for name, param in spec.search_space.items():
        if isinstance(param, m.FloatParam):
            out[name] = FloatDistribution(param.low, param.high, log=param.log, step=param.step)
        elif isinstance(param, m.IntParam):
            out[name] = IntDistribution(param.low, param.high, log=param.log, step=param.step)
        else:
            out[name] = CategoricalDistribution(param.choices)
    return out


def grid(spec: m.StudySpec, source: str) -> dict[str, list[Any]]:
    """The grid GridSampler walks: categoricals, ints and floats with a step."""
    out: dict[str, list[Any]] = {}
    for name, param in spec.search_space.items():
        if isinstance(param, m.CategoricalParam):
            out[name] = list(param.choices)
        elif isinstance(param, m.IntParam) and not param.log:
            out[name] = list(range(param.low, param.high + 1, param.step))
        elif isinstance(param, m.FloatParam) and param.step is not None:
            n = round((param.high - param.low) / param.step)
            out[name] = [round(param.low + i * param.step, 12) for i in range(n + 1)]
        else:
            raise SpecError(
                "the grid sampler needs a finite set of values",
                file=source,
                field=f"search_space.{name}",
                hint="give this parameter a 'step' or make it categorical",
            )
    return out


def derived_seed(seed: int | None, n_trials: int) -> int | None:
    """The seed for a run that starts on a study already holding ``n_trials`` trials.

    A resumed study must not replay its first proposals, so every run after the first one
    seeds its sampler with ``seed + n_trials``: still reproducible, never the same sequence.
    QMC and grid keep the file's seed: they index one fixed sequence by the study's trials,
    so the same seed is what continues it."""
    if seed is None or n_trials == 0:
        return seed
    return (seed + n_trials) % 2**32


def sampler(
    spec: m.StudySpec,
    source: str = "<study>",
    *,
    n_trials: int = 0,
    choice: auto.Choice | None = None,
) -> optuna.samplers.BaseSampler:
    """The sampler the spec asks for, for a study that already holds ``n_trials`` trials.

    ``auto`` uses ``choice`` when a previous run recorded one (a resumed study keeps its
    sampler), else :func:`hpo.sampling.auto.choose`. TPE is Optuna's, with per-trial work
    cached (same proposals, see ``hpo.sampling.tpe``)."""
    s = spec.sampler
    seed = derived_seed(s.seed, n_trials)
    if isinstance(s, opt.AutoSamplerSpec):
        choice = choice or auto_choice(spec)
        tpe = _tpe(opt.TPESamplerSpec(), seed, spec)
        return auto.AutoSampler(choice, gp=_gp(spec, seed), tpe=tpe)
    if isinstance(s, opt.TPESamplerSpec):
        return _tpe(s, seed, spec)
    if isinstance(s, opt.GPSamplerSpec):
        return _gp(spec, seed, s)
    if isinstance(s, opt.OptunaGPSamplerSpec):
        try:
            return optuna.samplers.GPSampler(
                seed=seed,
                n_startup_trials=s.n_startup_trials,
                deterministic_objective=s.deterministic_objective,
            )
        except ImportError as exc:  # Optuna's GPSampler needs torch
            raise SpecError(
                f"the optuna_gp sampler needs extra packages: {exc}",
                file=source,
                field="sampler.type",
                hint="pip install 'hpo[optuna-gp]', or use 'gp' (hpo's, no extra packages)",
            ) from None
    if isinstance(s, opt.CmaEsSamplerSpec):
        return optuna.samplers.CmaEsSampler(
            seed=seed,
            n_startup_trials=s.n_startup_trials,
            sigma0=s.sigma0,
            with_margin=s.with_margin,
        )
    if isinstance(s, opt.RandomSamplerSpec):
        return optuna.samplers.RandomSampler(seed=seed)
    if isinstance(s, opt.QMCSamplerSpec):
        return optuna.samplers.QMCSampler(
            seed=s.seed, qmc_type=s.qmc_type, scramble=s.scramble, warn_independent_sampling=False
        )  # QMC continues its sequence across runs by itself: keep the seed that scrambles it
    if isinstance(s, opt.NSGAIISamplerSpec):
        return optuna.samplers.NSGAIISampler(
            seed=seed,
            population_size=s.population_size,
            mutation_prob=s.mutation_prob,
            crossover_prob=s.crossover_prob,
        )
    # The grid's order is a shuffle by the seed and trial k runs its k-th point: a resumed
    # study must keep the same shuffle to continue it
    return GridSampler(grid(spec, source), seed=s.seed)


def auto_choice(spec: m.StudySpec) -> auto.Choice:
    """What ``auto`` would choose for this study file."""
    directions = spec.objective.study_directions
    return auto.choose(distributions(spec), len(directions), spec.budget.n_trials,
                       conditional=m.has_conditions(spec.search_space))  # fmt: skip


def _tpe(s: opt.TPESamplerSpec, seed: int | None, spec: m.StudySpec) -> CachingTPESampler:
    """TPE as the spec says; ``group`` defaults to on for a conditional space."""
    group = s.group if "group" in s.model_fields_set else m.has_conditions(spec.search_space)
    return CachingTPESampler(
        seed=seed,
        n_startup_trials=s.n_startup_trials,
        n_ei_candidates=s.n_ei_candidates,
        multivariate=s.multivariate,
        constant_liar=s.constant_liar,
        group=group and s.multivariate,
    )


def _gp(spec: m.StudySpec, seed: int | None, s: opt.GPSamplerSpec | None = None) -> GPSampler:
    s = s or opt.GPSamplerSpec(type="gp")
    return GPSampler(
        seed=seed,
        n_startup_trials=s.n_startup_trials,
        deterministic_objective=s.deterministic_objective,
        search_space=distributions(spec),
    )


# What a sampler or a storage needs beyond hpo's own dependencies: modules, and the extra
# (``pip install 'hpo[EXTRA]'``) that installs them.
_SAMPLER_NEEDS: dict[str, tuple[tuple[str, ...], str]] = {
    "cmaes": (("cmaes",), "cmaes"),
    "optuna_gp": (("torch",), "optuna-gp"),
}
_POSTGRESQL_EXTRA = "postgresql"


def check_requirements(
    spec: m.StudySpec,
    source: str,
    storage_url: str | None = None,
    *,
    find: Callable[[str], object] = importlib.util.find_spec,
) -> None:
    """Refuse, at validation, a sampler or storage whose optional packages are missing."""
    checks = [("sampler.type", spec.sampler.type, _SAMPLER_NEEDS.get(spec.sampler.type))]
    if storage_url and storage_url.startswith("postgresql"):
        checks.append(("storage", "postgresql", ((_db_driver(storage_url),), _POSTGRESQL_EXTRA)))
    for field, what, needs in checks:
        if needs is None:
            continue
        modules, extra = needs
        missing = [name for name in modules if find(name) is None]
        if missing:
            verb = "is" if len(missing) == 1 else "are"
            raise SpecError(
                f"{what!r} needs {' and '.join(missing)}, which {verb} not installed",
                file=source,
                field=field,
                hint=f"pip install 'hpo[{extra}]'",
            )


def _db_driver(url: str) -> str:
    """The Python module SQLAlchemy loads for ``url`` (``psycopg`` for plain postgresql://
    since SQLAlchemy 2.1, ``psycopg2`` before, or the one the URL names)."""
    from sqlalchemy.engine import make_url

    try:
        return str(make_url(url).get_dialect().driver)
    except Exception:  # an unknown driver name: SQLAlchemy's own error says it when opened
        return "psycopg"


def grid_size(spec: m.StudySpec) -> int | None:
    """How many points the grid sampler has (``None`` for other samplers)."""
    if not isinstance(spec.sampler, opt.GridSamplerSpec):
        return None
    return math.prod(len(values) for values in grid(spec, "<study>").values())


def trial_target(n_trials: int, max_trials: int | None) -> int:
    """How many finished trials a study aims for: ``n_trials``, or fewer when only
    ``max_trials`` can ever run (a grid's size)."""
    return min(n_trials, max_trials or n_trials)


# Each spec's fields are named as the Optuna pruner's keyword arguments.
_PRUNERS: dict[type, type[optuna.pruners.BasePruner]] = {
    opt.MedianPrunerSpec: optuna.pruners.MedianPruner,
    opt.PercentilePrunerSpec: optuna.pruners.PercentilePruner,
    opt.SuccessiveHalvingPrunerSpec: optuna.pruners.SuccessiveHalvingPruner,
    opt.HyperbandPrunerSpec: optuna.pruners.HyperbandPruner,
}


def pruner(spec: opt.PrunerSpec | None) -> optuna.pruners.BasePruner:
    """The pruner the spec asks for; ``none`` is Optuna's NopPruner."""
    if spec is None or isinstance(spec, opt.NoPrunerSpec):
        return optuna.pruners.NopPruner()
    if isinstance(spec, opt.PatientPrunerSpec):
        return optuna.pruners.PatientPruner(
            pruner(spec.wrapped) if spec.wrapped else None,
            patience=spec.patience,
            min_delta=spec.min_delta,
        )
    return _PRUNERS[type(spec)](**spec.model_dump(exclude={"type"}))


def create_study(study: StudyFile, storage_obj: optuna.storages.BaseStorage) -> optuna.Study:
    """Create the study, or load it when it exists (resume), with the spec's sampler.

    The sampler is built once the study is open: its seed depends on how many trials the
    study holds (:func:`derived_seed`), and ``auto`` follows the choice an earlier run
    recorded in the study (:func:`record_sampler` records it; nothing is written here)."""
    spec = study.spec
    directions = spec.objective.study_directions
    kwargs: dict[str, Any] = (
        {"directions": directions} if len(directions) > 1 else {"direction": directions[0]}
    )
    optuna_study = optuna.create_study(
        storage=storage_obj,
        study_name=spec.name,
        sampler=optuna.samplers.RandomSampler(),  # replaced below
        pruner=pruner(spec.pruner),
        load_if_exists=True,
        **kwargs,
    )
    stored = auto.Choice.from_attr(optuna_study.user_attrs.get(attrs.STUDY_SAMPLER))
    n_trials = len(optuna_study.get_trials(deepcopy=False))
    optuna_study.sampler = sampler(spec, str(study.path), n_trials=n_trials, choice=stored)
    return optuna_study


def record_sampler(optuna_study: optuna.Study, spec: m.StudySpec) -> str:
    """Record what ``auto`` chose in the study's user attributes (once: a resumed study keeps
    it), and say in one line which sampler runs."""
    chosen = optuna_study.sampler
    if not isinstance(chosen, auto.AutoSampler):
        return spec.sampler.type
    if auto.Choice.from_attr(optuna_study.user_attrs.get(attrs.STUDY_SAMPLER)) is None:
        optuna_study.set_user_attr(attrs.STUDY_SAMPLER, chosen.choice.as_attr())
    return chosen.choice.describe()
