"""The Python API, for notebooks and scripts: open a study file, run it, read its results.

    from hpo import api

    study = api.load("studies/quickstart.yaml")
    summary = study.run()                 # blocks; Ctrl-C stops it as in `hpo run`
    run = study.start()                   # or in a background thread: run.stop(), run.wait()
    study.best_trial.params               # Optuna objects ...
    study.dataframe()                     # ... or a pandas frame (pip install 'hpo[pandas]')

``hpo run``, ``hpo validate`` and ``hpo enqueue`` are this API plus printing. Errors are
:class:`hpo.errors.HpoError` subclasses with the same one-line message and hint the CLI shows.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from hpo.controller.report import Reporter
from hpo.controller.summary import RunSummary
from hpo.errors import HpoError, SpecError
from hpo.inspect import reader
from hpo.session import Notify, Session, enqueue, open_session, stop_on_signals
from hpo.spec import build
from hpo.spec.loader import StudyFile, load_study
from hpo.spec.models import coerce_params, params_problem
from hpo.storage import existing_study

__all__ = ["RunHandle", "Study", "load"]


def load(path: str | os.PathLike[str]) -> Study:
    """Read and validate a study file (one-line ``SpecError`` if it is invalid)."""
    return Study(load_study(path))


class Study:
    """One study file and the Optuna study it drives."""

    def __init__(self, file: StudyFile) -> None:
        self.file = file

    @property
    def name(self) -> str:
        return self.file.spec.name

    # ------------------------------------------------------------------ running

    def check(self) -> None:
        """Refuse what cannot run here: missing optional packages, an unbuildable sampler."""
        build.check_requirements(self.file.spec, str(self.file.path), self.file.storage_url)
        build.sampler(self.file.spec, str(self.file.path))

    def run(
        self,
        *,
        allow_changes: bool = False,
        reporter: Reporter | None = None,
        notify: Notify = print,
        on_ready: Callable[[str], None] = lambda _: None,
    ) -> RunSummary:
        """Run (or resume) the study until its budget is spent or Ctrl-C; returns the summary.
        ``notify`` gets the notes (changes accepted, trials copied or enqueued)."""
        with contextlib.ExitStack() as stack:
            opened = open_session(self.file, reporter=reporter, notify=notify,
                                  allow_changes=allow_changes, on_ready=on_ready)  # fmt: skip
            session = stack.enter_context(opened)
            stack.enter_context(stop_on_signals(session.controller, notify))
            return session.controller.run()

    def start(
        self,
        *,
        allow_changes: bool = False,
        reporter: Reporter | None = None,
        notify: Notify = lambda _: None,
    ) -> RunHandle:
        """Start the run in a background thread and return at once (setup errors raise here)."""
        return RunHandle(self.file, allow_changes=allow_changes, reporter=reporter, notify=notify)

    def enqueue(self, sets: Iterable[Mapping[str, Any]], *, source: str | None = None) -> int:
        """Add parameter sets to run next (checked against the space); how many were new.
        A running controller picks them up at its next free slot."""
        space = self.file.spec.search_space
        checked = []
        for i, params in enumerate(sets):
            problem = params_problem(space, dict(params))
            if problem is not None:
                hint = "each set maps parameter names to values in the search space"
                raise SpecError(f"set {i}: {problem}", file=source or "<params>", hint=hint)
            checked.append(coerce_params(space, dict(params)))
        return enqueue(existing_study(self.file, read_only=False), checked)  # it writes

    # ------------------------------------------------------------------ reading

    @property
    def optuna(self) -> optuna.Study:
        """The study as Optuna sees it (read from storage; it must have been started)."""
        return reader.open_study(self.file)

    def trials(self, states: Iterable[TrialState] | None = None) -> list[FrozenTrial]:
        """Every trial (or those in ``states``), in number order."""
        return self.optuna.get_trials(deepcopy=False, states=tuple(states) if states else None)

    @property
    def best_trial(self) -> FrozenTrial:
        """The best COMPLETE trial (one objective)."""
        return self.optuna.best_trial

    @property
    def best_trials(self) -> list[FrozenTrial]:
        """The Pareto front (several objectives), or the best trial in a list."""
        return self.optuna.best_trials

    def dataframe(self, **kwargs: Any) -> Any:
        """All trials as a pandas DataFrame (``optuna.Study.trials_dataframe``)."""
        try:
            import pandas  # noqa: F401
        except ImportError:
            raise HpoError("Study.dataframe() needs pandas",
                           hint="pip install 'hpo[pandas]'") from None  # fmt: skip
        return self.optuna.trials_dataframe(**kwargs)


class RunHandle:
    """A run in a background thread: ``stop()`` asks it to stop, ``wait()`` joins it."""

    def __init__(
        self, file: StudyFile, *, allow_changes: bool, reporter: Reporter | None, notify: Notify
    ) -> None:
        self._stack = contextlib.ExitStack()  # the session's lease is held until the run ends
        opened = open_session(file, reporter=reporter, notify=notify, allow_changes=allow_changes)
        self._session: Session = self._stack.enter_context(opened)
        self.summary: RunSummary | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"hpo-{file.spec.name}",
                                        daemon=True)  # fmt: skip
        self._thread.start()

    def _run(self) -> None:
        try:
            self.summary = self._session.controller.run()
        except BaseException as exc:  # handed to wait()
            self._error = exc
        finally:
            self._stack.close()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self, *, cancel: bool = False) -> None:
        """No new trials; the run returns at its next poll. ``cancel`` also stops the jobs."""
        self._session.controller.request_stop(cancel=cancel)

    def wait(self, timeout: float | None = None) -> RunSummary | None:
        """The summary once the run has ended (``None`` if ``timeout`` passed first)."""
        self._thread.join(timeout)
        if self._error is not None:
            raise self._error
        return self.summary
