"""The real controller, storage and sampler on the simulated backend, for benchmarks."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import yaml

from hpo import storage
from hpo.backends.base import JobSpec
from hpo.backends.simulated import SimPlan, SimulatedBackend
from hpo.controller.clock import Clock
from hpo.controller.loop import Controller, RunSummary
from hpo.spec import build
from hpo.spec.loader import parse_spec
from hpo.spec.models import StudySpec
from hpo.store.local import LocalStore

Objective = Callable[[Mapping[str, Any]], float]


def runnable_methods(methods: list[str], *, named: bool) -> list[str]:
    """``methods`` without the ``optuna_gp`` ones when torch is missing: skipped with a note
    from the default list, refused in one line when the user ``named`` them."""
    if importlib.util.find_spec("torch") is not None:
        return methods
    torch_ones = [m for m in methods if "optuna_gp" in m]
    if torch_ones and named:
        sys.exit(f"error: {', '.join(torch_ones)} need torch: pip install 'hpo[optuna-gp]'")
    if torch_ones:
        print(f"note: {', '.join(torch_ones)} skipped: they need torch "
              "(pip install 'hpo[optuna-gp]')", file=sys.stderr)  # fmt: skip
    return [m for m in methods if m not in torch_ones]


def make_spec(
    name: str,
    space: Mapping[str, Any],
    n_trials: int,
    parallel: int,
    seed: int | None,
    sampler: Mapping[str, Any] | None = None,
    direction: str = "minimize",
) -> StudySpec:
    """A study spec with the default TPE sampler (or ``sampler``) and no pruner."""
    doc = {
        "name": name,
        "objective": {"metric": "value", "direction": direction},
        "search_space": dict(space),
        "sampler": {"type": "tpe", **(sampler or {}), "seed": seed},
        "budget": {"n_trials": n_trials, "max_parallel": parallel},
        "trainer": {"command": ["unused"]},
    }
    return parse_spec(yaml.safe_dump(doc, sort_keys=False))


@contextlib.contextmanager
def storage_for(kind: str, workdir: Path) -> Iterator[optuna.storages.BaseStorage]:
    """:func:`open_storage`, plus ``postgresql``: the database at $HPO_BENCH_POSTGRESQL_URL, or
    a throwaway local server (``tests.fakes.postgres``, fsync on) for the block's duration."""
    if kind != "postgresql":
        yield open_storage(kind, workdir)
        return
    url = os.environ.get("HPO_BENCH_POSTGRESQL_URL")
    if url:
        yield storage.open_storage(url)
        return
    from tests.fakes.postgres import PostgresServer

    with PostgresServer() as server:
        yield storage.open_storage(server.create_database())


def open_storage(kind: str, workdir: Path) -> optuna.storages.BaseStorage:
    """``journal`` (hpo's default), ``sqlite`` (RDB via SQLAlchemy) or ``memory``."""
    if kind == "journal":
        return storage.open_storage(str(workdir / "study.journal"))
    if kind == "sqlite":
        return storage.open_storage(f"sqlite:///{workdir / 'study.db'}")
    if kind == "memory":
        return optuna.storages.InMemoryStorage()
    raise ValueError(f"unknown storage {kind!r}")


def create_study(spec: StudySpec, storage: optuna.storages.BaseStorage) -> optuna.Study:
    """What ``hpo run`` creates: the spec's sampler and pruner on ``storage``."""
    return optuna.create_study(
        storage=storage,
        study_name=spec.name,
        sampler=build.sampler(spec),
        pruner=build.pruner(spec.pruner),
        direction=spec.objective.direction,
        load_if_exists=True,
    )


def lognormal_durations(n: int, median: float, sigma: float, seed: int) -> np.ndarray:
    """``n`` job durations, log-normal with the given median and shape, by trial number."""
    return np.random.default_rng(seed).lognormal(np.log(median), sigma, n)


@dataclass
class SimRun:
    """What one controller run did: its summary, the jobs, the clock and its CPU time."""

    summary: RunSummary
    backend: SimulatedBackend
    clock: Clock
    cpu_seconds: float
    wall_seconds: float

    def intervals(self) -> list[tuple[float, float]]:
        """(start, end) of every job, in virtual seconds."""
        out = []
        for job in self.backend.jobs.values():
            assert job.done is not None and job.done.ended_at is not None
            out.append((job.start, job.done.ended_at))
        return out


def run_controller(
    spec: StudySpec,
    study: optuna.Study,
    durations: np.ndarray,
    objective: Objective,
    clock: Clock,
    *,
    poll_interval: float = 1.0,
    store_dir: Path | None = None,
) -> SimRun:
    """Run the controller to the end of its budget; job ``n`` takes ``durations[n]``."""

    def planner(job: JobSpec, params: Mapping[str, Any]) -> SimPlan:
        return SimPlan(duration=float(durations[job.trial]), result={"value": objective(params)})

    root = store_dir or Path(tempfile.mkdtemp(prefix="hpo-bench-store-"))
    store = LocalStore(root)
    backend = SimulatedBackend(store, planner, clock.now, poll_interval=poll_interval)
    controller = Controller(study, spec, backend, store, clock=clock)
    cpu, wall = time.process_time(), time.perf_counter()
    summary = controller.run()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return SimRun(summary, backend, clock, cpu, wall)


def add_history(
    study: optuna.Study, spec: StudySpec, objective: Objective, n: int, seed: int
) -> None:
    """``n`` finished trials with random params and the attributes hpo records, added in one
    group commit (a stand-in for a study that already ran ``n`` trials)."""
    space = build.distributions(spec)
    scratch = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    trials = []
    for i in range(n):
        params = scratch.ask(space).params
        ended = 1.6e9 + i
        attrs = {
            "backend": "simulated",
            "attempt": 1,
            "trial_uri": f"/store/trials/{i}",
            "job_name": f"{spec.name}-{i}-1",
            "job_id": f"{spec.name}-{i}-1",
            "stage": "succeeded",
            "submitted_at": ended - 60,
            "started_at": ended - 60,
            "log": "sim://",
            "ended_at": ended,
            "compute_seconds": 60.0,
            "exit_code": 0,
        }
        trials.append(
            optuna.trial.create_trial(
                params=params, distributions=space, value=objective(params), user_attrs=attrs
            )
        )
    with storage.group_commit(study):
        study.add_trials(trials)
