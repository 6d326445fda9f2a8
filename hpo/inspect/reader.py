"""Open a study's storage for reading only, and find trials by number."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import optuna
from optuna.trial import FrozenTrial

from hpo.errors import StorageError, UnknownTrialError
from hpo.spec.loader import StudyFile, display_url


def _missing(study: StudyFile) -> StorageError:
    return StorageError(
        f"study {study.spec.name!r} does not exist yet (no storage at {study.storage_display})",
        hint=f"start it with: hpo run {study.path}",
    )


def open_storage(study: StudyFile) -> optuna.storages.BaseStorage:
    """The study's storage, opened without creating or writing anything."""
    try:
        return open_url(study.storage_url)
    except FileNotFoundError:
        raise _missing(study) from None


def open_url(url: str) -> optuna.storages.BaseStorage:
    """The storage at ``url`` (a journal file or a database URL), creating nothing;
    ``FileNotFoundError`` when a journal or SQLite file does not exist."""
    if "://" not in url:
        if not Path(url).is_file():
            raise FileNotFoundError(url)
        from optuna.storages.journal import JournalFileBackend

        return _guarded(url, lambda: optuna.storages.JournalStorage(JournalFileBackend(url)))
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        raise FileNotFoundError(url)
    return _guarded(url, lambda: optuna.storages.RDBStorage(url, skip_table_creation=True))


def _guarded(
    url: str, make: Callable[[], optuna.storages.BaseStorage]
) -> optuna.storages.BaseStorage:
    try:
        return make()
    except Exception as exc:
        raise StorageError(
            f"cannot open storage {display_url(url)!r}: {exc}",
            hint="check the 'storage' field of the study file and that the database is reachable",
        ) from exc


def open_study(study: StudyFile) -> optuna.Study:
    """Load the study read-only; a clear error when it has not been started yet."""
    storage = open_storage(study)
    try:
        return optuna.load_study(study_name=study.spec.name, storage=storage)
    except KeyError:
        raise _missing(study) from None


def trial_by_number(
    study: optuna.Study, number: int, *, study_file: str = "STUDY_FILE"
) -> FrozenTrial:
    """The trial numbered ``number``, or :class:`UnknownTrialError` naming the valid range."""
    trials = study.get_trials(deepcopy=False)
    for trial in trials:
        if trial.number == number:
            return trial
    have = f"trials 0-{len(trials) - 1}" if trials else "no trials yet"
    raise UnknownTrialError(
        f"study {study.study_name!r} has no trial {number} ({have})",
        hint=f"list the trials with: hpo export {study_file} (or hpo status {study_file})",
    )
