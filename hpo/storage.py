"""The study's Optuna storage: opening it from its URL, and journal group commit.

In hpo, *storage* is always Optuna's: the study, its trials, params, values and user
attributes (a journal file by default, or a database URL). The trial documents a trainer
reads and writes live in the *object store* (:mod:`hpo.store`), and the files shown in the
dashboard in the *artifact store* (:mod:`hpo.artifacts`). See ``docs/architecture.md``.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import optuna
from optuna.storages.journal import JournalFileBackend, JournalFileSymlinkLock
from sqlalchemy.exc import SQLAlchemyError

from hpo.errors import StorageError
from hpo.optuna_internals import journal_backend, storage_of
from hpo.spec.loader import StudyFile, display_url


def open_storage(url: str, *, read_only: bool = False) -> optuna.storages.BaseStorage:
    """The Optuna storage at ``url``: a database URL, or a journal file path (the default).

    ``read_only`` creates nothing (no file, directory or table) and raises
    ``FileNotFoundError`` when the journal or SQLite file does not exist; otherwise what is
    missing is created. Any other failure is a :class:`StorageError` naming the storage."""
    if read_only and _missing_file(url):
        raise FileNotFoundError(url)
    try:
        if "://" in url:
            if read_only:
                return optuna.storages.RDBStorage(url, skip_table_creation=True)
            return _rdb_storage(url)
        if not read_only:
            Path(url).parent.mkdir(parents=True, exist_ok=True)
        return optuna.storages.JournalStorage(GroupCommitJournalFile(url))
    except Exception as exc:
        raise StorageError(
            f"cannot open storage {display_url(url)!r}: {exc}",
            hint="check the 'storage' field of the study file (a file path or a database URL) "
            "and that the database is reachable",
        ) from exc


def _missing_file(url: str) -> bool:
    """Whether ``url`` names a journal or SQLite file that does not exist."""
    if "://" not in url:
        return not Path(url).is_file()
    return url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file()


def _rdb_storage(url: str, attempts: int = 4) -> optuna.storages.RDBStorage:
    """Optuna's RDB storage. Two controllers starting at once on an empty database race to
    create its tables; the loser's error is followed by a retry, which finds them made."""
    for attempt in range(attempts):
        try:
            return optuna.storages.RDBStorage(url)
        except (optuna.exceptions.StorageInternalError, SQLAlchemyError):
            if attempt == attempts - 1:
                raise
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")  # pragma: no cover


def existing_study(study: StudyFile, *, read_only: bool) -> optuna.Study:
    """The study of ``study``'s file, which must exist already (a clear error otherwise).

    Read-only views pass ``read_only``; commands that write to an existing study (``hpo
    stop``) do not; neither creates a storage that is not there."""
    try:
        if _missing_file(study.storage_url):
            raise FileNotFoundError(study.storage_url)
        storage = open_storage(study.storage_url, read_only=read_only)
        return optuna.load_study(study_name=study.spec.name, storage=storage)
    except (FileNotFoundError, KeyError):
        raise StorageError(
            f"study {study.spec.name!r} does not exist yet (no storage at {study.storage_display})",
            hint=f"start it with: hpo run {study.path}",
        ) from None


class GroupCommitJournalFile(JournalFileBackend):
    """Optuna's journal file, whose fsync can wait for an explicit sync point (group commit).

    Every append reaches the file at once, so readers see it and a killed process loses
    nothing. While ``deferred`` (see :func:`group_commit`) the fsync that guards against power
    loss waits for :meth:`sync`: one fsync for many writes instead of one per write.
    """

    def __init__(self, file_path: str) -> None:
        self.path = file_path
        self.lock = JournalFileSymlinkLock(file_path)  # what Optuna's file uses by default
        super().__init__(file_path, lock_obj=self.lock)
        self.deferred = False
        self.dirty = False

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        if not self.deferred:
            super().append_logs(logs)
            return
        text = "\n".join(json.dumps(log, separators=(",", ":")) for log in logs) + "\n"
        self.lock.acquire()
        try:
            with open(self.path, "ab") as f:
                f.write(text.encode("utf-8"))
        finally:
            self.lock.release()
        self.dirty = True

    def sync(self) -> None:
        """Make every append so far durable (one fsync; nothing to do if none is pending)."""
        if self.dirty:
            fd = os.open(self.path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            self.dirty = False


@contextlib.contextmanager
def group_commit(study: optuna.Study) -> Iterator[Callable[[], None]]:
    """Defer the fsyncs of the study's journal file to the sync function this yields, and
    sync on exit. Other storages are left as they are (the sync function does nothing)."""
    backend = journal_backend(storage_of(study))
    if not isinstance(backend, GroupCommitJournalFile):
        yield _no_sync
        return
    if backend.deferred:  # an enclosing group commit syncs at its end
        yield backend.sync
        return
    backend.deferred = True
    try:
        yield backend.sync
    finally:
        backend.deferred = False
        backend.sync()


def _no_sync() -> None:
    return None
