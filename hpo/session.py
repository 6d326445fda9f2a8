"""From a study file to a running controller: what ``hpo run`` and :mod:`hpo.api` share.

``open_session`` checks that the file can run here, opens the storage and the study, refuses
unsafe edits of an existing study (:mod:`hpo.spec.changes`), opens the backend and the object
store, takes the study's lease, and only then writes: the study record, the warm-start copies,
the ``enqueue:`` sets. It yields a :class:`Session` whose controller is ready to ``run()``, and
on exit closes the backend and gives the lease back, however the block ended. Nothing here
prints: notes go to ``notify``.
"""

from __future__ import annotations

import contextlib
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import FrameType
from typing import Any

import optuna

from hpo.artifacts import artifact_store_for
from hpo.backends.base import Backend
from hpo.commands.signals import on_stop_signals
from hpo.controller.failpoints import Failpoints
from hpo.controller.loop import Controller
from hpo.controller.report import Reporter
from hpo.lease import Lease
from hpo.runtime import make_backend, make_store
from hpo.spec import build, changes
from hpo.spec.loader import StudyFile
from hpo.storage import open_storage
from hpo.warmstart import warm_start

Notify = Callable[[str], None]


@dataclass(frozen=True)
class Session:
    """A study ready to run: its lease is held until the ``open_session`` block ends."""

    file: StudyFile
    study: optuna.Study
    controller: Controller
    backend: Backend


def prepare_study(
    file: StudyFile, *, allow_changes: bool = False
) -> tuple[optuna.Study, list[str]]:
    """Open (or create) the study and check the file against it; the notes of accepted changes."""
    build.check_requirements(file.spec, str(file.path), file.storage_url)
    study = build.create_study(file, open_storage(file.storage_url))
    return study, changes.check(study, file.spec, str(file.path), allow=allow_changes)


def enqueue(study: optuna.Study, sets: list[dict[str, Any]]) -> int:
    """Enqueue each parameter set unless the study already has it; how many were new."""
    added = 0
    for params in sets:
        before = len(study.get_trials(deepcopy=False))
        study.enqueue_trial(params, skip_if_exists=True)
        added += len(study.get_trials(deepcopy=False)) > before
    return added


@contextlib.contextmanager
def open_session(
    file: StudyFile,
    *,
    reporter: Reporter | None = None,
    notify: Notify = lambda _: None,
    allow_changes: bool = False,
    on_ready: Callable[[str], None] = lambda _: None,
) -> Iterator[Session]:
    """See the module docstring. Raises ``SpecError`` (exit 2) for an unsafe change,
    ``LeaseError`` (exit 3) when another controller runs the study. ``on_ready`` is called
    once the checks passed and the lease is held, before any note, with the line that says
    which sampler runs."""
    study, notes = prepare_study(file, allow_changes=allow_changes)
    backend = make_backend(file)
    try:
        store = make_store(file)
        lease = Lease(study, now=time.time, study_file=str(file.path))
        lease.acquire()
        try:
            on_ready(build.record_sampler(study, file.spec))
            for note in notes:
                notify(f"note: {note}")
            changes.save(study, file.spec)
            if file.spec.warm_start is not None:
                notify(warm_start(study, file).line())
            if file.spec.enqueue:
                added = enqueue(study, file.spec.enqueued())
                notify(f"enqueue: {added} new parameter set(s) to run first "
                       f"({len(file.spec.enqueue) - added} already in the study)")  # fmt: skip
            controller = Controller(
                study, file.spec, backend, store, reporter=reporter, lease=lease,
                failpoints=Failpoints.from_env(), study_file=str(file.path),
                artifact_store=artifact_store_for(file, s3_client=getattr(store, "client", None)),
            )  # fmt: skip
            yield Session(file, study, controller, backend)
        finally:
            lease.release()
    finally:
        backend.close()


@contextlib.contextmanager
def stop_on_signals(controller: Controller, notify: Notify) -> Iterator[None]:
    """First Ctrl-C/SIGTERM: stop cleanly, jobs left running. A second one: exit at once.
    Outside the main thread (a notebook's background run) no handler is installed."""

    def on_signal(signum: int, frame: FrameType | None) -> None:
        notify("stopping: no new trials; running jobs are left running")
        controller.request_stop()
        signal.signal(
            signum, signal.SIG_DFL if signum == signal.SIGTERM else signal.default_int_handler
        )

    with on_stop_signals(on_signal):
        yield
