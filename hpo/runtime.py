"""Assemble what a study file asks for: its object store and its backend (its storage is
:func:`hpo.storage.open_storage`)."""

from __future__ import annotations

from pathlib import Path

from hpo.backends.base import Backend
from hpo.spec.loader import StudyFile
from hpo.store import ObjectStore, open_store


def make_store(study: StudyFile) -> ObjectStore:
    """The object store at the study's ``store`` root (on Batch: S3, maybe from the stack)."""
    if study.spec.backend.type == "batch":
        from hpo.backends.batch import open_batch_store  # region/profile/endpoint of the spec

        return open_batch_store(study)
    return open_store(study.store_root)


def make_backend(study: StudyFile) -> Backend:
    """The backend the study file names."""
    spec = study.spec.backend
    if spec.type == "local":
        from hpo.backends.local import LocalBackend

        root = study.store_root
        state = (
            Path(root, study.spec.name, "jobs")
            if not root.startswith("s3://")
            else Path(study.base_dir, ".hpo", study.spec.name, "jobs")
        )
        return LocalBackend(
            study.trainer_argv,
            state,
            cwd=study.base_dir,
            env=study.spec.trainer.env,
            grace_period=spec.grace_period,
            poll_interval=spec.poll_interval,
            timeout=study.spec.attempt_timeout,
        )
    from hpo.backends.batch import make_batch_backend  # the cloud half

    return make_batch_backend(study)
