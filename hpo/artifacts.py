"""The artifact store: files a trainer put in its trial's ``artifacts/``, registered with the
trial so that optuna-dashboard shows them.

The artifact store (Optuna's; not the object store of :mod:`hpo.store`) lives next to the
trials in the study's object store: ``<root>/<study>/dashboard-artifacts/`` (a directory
locally, an S3 prefix on Batch).
:func:`register_artifacts` must run while the trial is still RUNNING (Optuna refuses to
change a finished trial), so the controller calls it just before ``tell``.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import optuna
from optuna.artifacts import (
    Boto3ArtifactStore,
    FileSystemArtifactStore,
    get_all_artifact_meta,
    upload_artifact,
)

from hpo import aws
from hpo.spec.loader import StudyFile
from hpo.store.base import ObjectStore
from hpo.store.layout import TrialLayout

log = logging.getLogger(__name__)

ARTIFACT_STORE_DIR = "dashboard-artifacts"


class ArtifactStore(Protocol):
    """What Optuna's artifact functions and optuna-dashboard need of an artifact store."""

    def open_reader(self, artifact_id: str) -> BinaryIO: ...

    def write(self, artifact_id: str, content_body: BinaryIO) -> None: ...

    def remove(self, artifact_id: str) -> None: ...


class PrefixedArtifactStore:
    """Another artifact store with every artifact id placed under ``prefix/``."""

    def __init__(self, inner: ArtifactStore, prefix: str) -> None:
        self.inner = inner
        self.prefix = prefix.strip("/")

    def _key(self, artifact_id: str) -> str:
        return f"{self.prefix}/{artifact_id}" if self.prefix else artifact_id

    def open_reader(self, artifact_id: str) -> BinaryIO:
        return self.inner.open_reader(self._key(artifact_id))

    def write(self, artifact_id: str, content_body: BinaryIO) -> None:
        self.inner.write(self._key(artifact_id), content_body)

    def remove(self, artifact_id: str) -> None:
        self.inner.remove(self._key(artifact_id))


class DirectoryArtifactStore(FileSystemArtifactStore):
    """Optuna's filesystem artifact store that creates its directory on the first write."""

    def __init__(self, base_path: str | Path) -> None:
        super().__init__(Path(base_path))
        self.base_path = Path(base_path)

    def write(self, artifact_id: str, content_body: BinaryIO) -> None:
        self.base_path.mkdir(parents=True, exist_ok=True)
        super().write(artifact_id, content_body)


def artifact_store_for(study: StudyFile, *, s3_client: Any = None) -> ArtifactStore:
    """The study's artifact store: a directory under a local store root, or an S3 prefix."""
    root = study.store_root
    name = study.spec.name
    if root.startswith("s3://"):
        bucket, _, prefix = root.removeprefix("s3://").partition("/")
        if s3_client is None:
            s3_client = aws.study_client(study, "s3")
        key_prefix = "/".join(p for p in (prefix.strip("/"), name, ARTIFACT_STORE_DIR) if p)
        return PrefixedArtifactStore(Boto3ArtifactStore(bucket, client=s3_client), key_prefix)
    return DirectoryArtifactStore(Path(root, name, ARTIFACT_STORE_DIR))


def register_artifacts(
    trial: optuna.trial.Trial,
    store: ObjectStore,
    layout: TrialLayout,
    number: int,
    artifact_store: ArtifactStore,
) -> list[str]:
    """Upload each file under the trial's ``artifacts/`` and attach it to the RUNNING trial.

    Idempotent (a file name already attached is skipped, so a restarted controller does
    not attach it twice). Never raises for a store or upload problem: it logs a warning and
    returns the artifact ids it did register. Nested files are named ``dir__file``.
    """
    prefix = layout.artifacts(number)
    try:
        keys = sorted(store.list(prefix))
    except Exception as exc:
        log.warning("cannot list artifacts of trial %d: %s", number, exc)
        return []
    if not keys:
        return []
    done = {meta.filename for meta in get_all_artifact_meta(trial)}
    ids: list[str] = []
    with tempfile.TemporaryDirectory(prefix="hpo-artifacts-") as tmp:
        for key in keys:
            name = key[len(prefix) :].replace("/", "__")
            if name in done:
                continue
            try:
                path = _local_file(store, key, Path(tmp, name))
                ids.append(
                    upload_artifact(
                        artifact_store=artifact_store, file_path=str(path), study_or_trial=trial
                    )
                )
            except Exception as exc:
                log.warning("cannot register artifact %s of trial %d: %s", key, number, exc)
    return ids


def _local_file(store: ObjectStore, key: str, target: Path) -> Path:
    """A local path holding the object ``key`` named like ``target`` (copied when needed)."""
    uri = store.uri(key)
    if "://" not in uri and Path(uri).is_file() and Path(uri).name == target.name:
        return Path(uri)
    data = store.get(key)
    if data is None:
        raise FileNotFoundError(uri)
    target.write_bytes(data)
    return target
