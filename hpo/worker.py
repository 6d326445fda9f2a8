"""The trainer side of hpo: read params, report progress, checkpoint, write the result.

Standard library only (boto3 is imported when the trial lives on S3), so it runs in any
training image. A trainer finds its trial through one environment variable::

    from hpo import worker

    trial = worker.current()              # reads HPO_TRIAL_URI
    trial.handle_sigterm()                # pruning sends SIGTERM: should_stop() turns true
    lr = trial.params["lr"]
    start = my_load(trial.checkpoint_dir)   # 0, or the epoch an earlier attempt saved
    for epoch in range(start, 10):
        ...
        trial.report(epoch + 1, val_loss) # progress.json, read by the controller's pruner
        my_save(trial.checkpoint_dir, epoch + 1)
        trial.save_checkpoint()           # to S3 when the trial lives there
        if trial.should_stop():           # pruned or SIGTERM: exit cleanly
            return
    trial.finish(val_loss, metrics={"accuracy": acc})

Documents (see "Object layout" in docs/architecture.md) under the trial URI: ``params.json`` (in),
``progress.json`` and ``result.json`` (out), ``checkpoints/`` and ``artifacts/``.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hpo.store.layout import CHECKPOINTS, ERROR, PARAMS, PROGRESS, RESULT

ENV_TRIAL_URI = "HPO_TRIAL_URI"
CONTROL = "control.json"


class WorkerError(RuntimeError):
    """The trainer's environment or documents are not what hpo.worker expects."""


class _Files:
    """Read and write the trial's documents: a directory or an S3 prefix."""

    def __init__(self, uri: str, s3_client: Any = None) -> None:
        self.uri = uri.rstrip("/")
        self._s3 = None
        if self.uri.startswith("s3://"):
            bucket, _, prefix = self.uri[5:].partition("/")
            self.bucket, self.prefix = bucket, prefix
            self._s3 = s3_client or _default_s3_client()

    @property
    def on_s3(self) -> bool:
        """Whether the trial lives on S3 (else in a local directory)."""
        return self._s3 is not None

    def read(self, name: str) -> bytes | None:
        if self._s3 is None:
            try:
                return Path(self.uri, name).read_bytes()
            except FileNotFoundError:
                return None
        try:
            body = self._s3.get_object(Bucket=self.bucket, Key=f"{self.prefix}/{name}")["Body"]
            return body.read()
        except self._s3.exceptions.NoSuchKey:
            return None

    def write(self, name: str, data: bytes) -> None:
        if self._s3 is not None:
            self._s3.put_object(Bucket=self.bucket, Key=f"{self.prefix}/{name}", Body=data)
            return
        path = Path(self.uri, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)

    def upload(self, name: str, path: Path) -> None:
        """Stream a file up (multipart when large: checkpoints may be gigabytes)."""
        self._s3.upload_file(str(path), self.bucket, f"{self.prefix}/{name}")  # type: ignore[union-attr]

    def download(self, name: str, path: Path) -> None:
        self._s3.download_file(self.bucket, f"{self.prefix}/{name}", str(path))  # type: ignore[union-attr]

    def delete(self, name: str) -> None:
        self._s3.delete_object(Bucket=self.bucket, Key=f"{self.prefix}/{name}")  # type: ignore[union-attr]

    def list(self, prefix: str) -> list[str]:
        """Names (relative to the trial) of the files under ``prefix``."""
        if self._s3 is None:
            base = Path(self.uri, prefix)
            if not base.is_dir():
                return []
            return sorted(
                p.relative_to(self.uri).as_posix()
                for p in base.rglob("*")
                if p.is_file() and not p.name.endswith(".tmp")
            )
        names: list[str] = []
        pages = self._s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=f"{self.prefix}/{prefix}"
        )
        for page in pages:
            names += [o["Key"][len(self.prefix) + 1 :] for o in page.get("Contents", [])]
        return sorted(names)


def _default_s3_client() -> Any:
    from hpo import aws  # only trainers whose trial lives on S3 need boto3

    return aws.client(aws.session(), "s3", endpoint_url=os.environ.get("AWS_ENDPOINT_URL"))


class Trial:
    """One trial attempt as the trainer sees it.

    Opening it reads ``params.json`` and the progress of earlier attempts and restores the
    newest checkpoint into :attr:`checkpoint_dir` (downloaded when the trial lives on S3).
    """

    def __init__(self, uri: str, *, s3_client: Any = None) -> None:
        self.uri = uri.rstrip("/")
        self._files = _Files(self.uri, s3_client)
        raw = self._files.read(PARAMS)
        if raw is None:
            raise WorkerError(f"no {PARAMS} under {self.uri}; was this trial staged by hpo?")
        doc = json.loads(raw)
        self.params: dict[str, Any] = dict(doc["params"])
        self.number: int = int(doc["trial"])
        self.study: str = str(doc["study"])
        self.attempt: int = int(doc.get("attempt", 1))
        self._steps: list[list[float]] = self._load_steps()
        self._stop_signalled = False
        self._last_control_check = 0.0
        self._stop_requested = False
        self._synced: dict[str, tuple[int, ...]] = {}  # checkpoint file -> its stat when synced
        self.checkpoint_dir: Path = self._restore_checkpoints()
        """A local directory holding the newest checkpoint of this trial (from any attempt):
        write files there, then call :meth:`save_checkpoint`."""

    # ------------------------------------------------------------------ progress

    def _load_steps(self) -> list[list[float]]:
        raw = self._files.read(PROGRESS)
        if raw is None:
            return []
        try:
            return [list(s) for s in json.loads(raw).get("steps", [])]
        except (ValueError, TypeError, AttributeError):
            return []

    def report(self, step: int, value: float) -> None:
        """Record an intermediate value; progress.json is rewritten whole (idempotent).

        Report a step *before* saving its checkpoint: killed in between, the next attempt
        redoes the step and reports it again; the other order loses the step's value.
        """
        value = float(value)
        self._steps = [s for s in self._steps if s[0] != step] + [[int(step), value]]
        self._steps.sort(key=lambda s: s[0])
        self._files.write(PROGRESS, json.dumps({"steps": self._steps}).encode())

    @property
    def reported_steps(self) -> list[tuple[int, float]]:
        """Steps reported so far, by this attempt and earlier attempts of the same trial."""
        return [(int(s), float(v)) for s, v in self._steps]

    # ------------------------------------------------------------------ stopping

    def handle_sigterm(self) -> None:
        """Turn SIGTERM into ``should_stop() == True`` so the trainer can checkpoint and exit."""

        def _on_term(signum: int, frame: object) -> None:
            self._stop_signalled = True

        signal.signal(signal.SIGTERM, _on_term)

    def should_stop(self, min_interval: float = 5.0) -> bool:
        """True once the process got SIGTERM (after :meth:`handle_sigterm`; pruning and
        ``hpo stop --cancel`` send it) or a ``control.json`` with ``"stop": true`` appeared
        (read at most every ``min_interval`` seconds)."""
        if self._stop_signalled or self._stop_requested:
            return True
        now = time.monotonic()
        if now - self._last_control_check >= min_interval:
            self._last_control_check = now
            raw = self._files.read(CONTROL)
            if raw:
                with contextlib.suppress(ValueError):
                    self._stop_requested = bool(json.loads(raw).get("stop"))
        return self._stop_requested

    # ------------------------------------------------------------------ checkpoints

    def _restore_checkpoints(self) -> Path:
        if not self._files.on_s3:
            directory = Path(self.uri, CHECKPOINTS)
            directory.mkdir(parents=True, exist_ok=True)
            return directory
        directory = Path(tempfile.mkdtemp(prefix="hpo-ckpt-")).resolve()
        for name in self._files.list(CHECKPOINTS):
            if name.endswith("/"):
                continue  # a folder marker, not a file
            target = (directory / name[len(CHECKPOINTS) :]).resolve()
            if not target.is_relative_to(directory) or target == directory:
                continue  # a key like checkpoints/../x must not write outside the directory
            target.parent.mkdir(parents=True, exist_ok=True)
            self._files.download(name, target)
        self._synced = self._local_checkpoint_files(directory)
        return directory

    @staticmethod
    def _local_checkpoint_files(directory: Path) -> dict[str, tuple[int, ...]]:
        out = {}
        for path in directory.rglob("*"):
            if path.is_file():
                st = path.stat()
                out[path.relative_to(directory).as_posix()] = (
                    st.st_size,
                    st.st_mtime_ns,
                    st.st_ino,
                )
        return out

    def save_checkpoint(self) -> None:
        """Mirror :attr:`checkpoint_dir` to the trial's ``checkpoints/`` on S3: upload the
        files that changed, delete the ones removed (a no-op for local trials).

        Each file is one object, so an attempt that starts after a kill in the middle of a
        sync may see some files new and some old: keep a checkpoint in one file, or write a
        file naming the complete set last.
        """
        if not self._files.on_s3:
            return
        now = self._local_checkpoint_files(self.checkpoint_dir)
        for rel, stamp in sorted(now.items()):
            if self._synced.get(rel) != stamp:
                self._files.upload(CHECKPOINTS + rel, self.checkpoint_dir / rel)
                self._synced[rel] = stamp
        for rel in sorted(set(self._synced) - set(now)):
            self._files.delete(CHECKPOINTS + rel)
            del self._synced[rel]

    # ------------------------------------------------------------------ result

    def finish(
        self,
        value: float | None = None,
        *,
        values: list[float] | None = None,
        metrics: Mapping[str, float] | None = None,
        constraints: Mapping[str, float] | None = None,
        user_attrs: Mapping[str, Any] | None = None,
    ) -> None:
        """Write ``result.json``: the objective ``value`` (or ``values``), plus extras.

        ``constraints`` are the values the study's ``objective.constraints`` bound (for
        example ``{"memory_gb": 14.2}`` for ``memory_gb: "<= 16"``)."""
        doc: dict[str, Any] = {}
        if value is not None:
            doc["value"] = _finite(value)
        if values is not None:
            doc["values"] = [_finite(v) for v in values]
        if metrics:
            doc["metrics"] = {k: float(v) for k, v in metrics.items()}
        if constraints:
            doc["constraints"] = {k: _finite(v) for k, v in constraints.items()}
        if user_attrs:
            doc["user_attrs"] = dict(user_attrs)
        if not doc:
            raise WorkerError("finish() needs a value, values or metrics")
        self._files.write(RESULT, json.dumps(doc).encode())

    def record_error(self, exc: BaseException) -> None:
        """Write ``error.json``: the exception that ends this attempt, for the trial's reason.

        :func:`current` calls it from ``sys.excepthook`` for an uncaught exception."""
        tb = exc.__traceback__
        while tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
        where = f"{tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}" if tb else None
        doc = {"error": f"{type(exc).__name__}: {exc}"[:2000], "attempt": self.attempt,
               "where": where}  # fmt: skip
        self._files.write(ERROR, json.dumps(doc).encode())

    def artifact_path(self, name: str) -> Path:
        """A local path for a file to show in the dashboard (local trials only)."""
        if self._files.on_s3:
            raise WorkerError("use upload_artifact() for trials on S3")
        path = Path(self.uri, "artifacts", name)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def upload_artifact(self, file: str | os.PathLike[str]) -> None:
        """Copy a file into the trial's ``artifacts/``."""
        src = Path(file)
        if not self._files.on_s3:
            shutil.copyfile(src, self.artifact_path(src.name))
        else:
            self._files.upload(f"artifacts/{src.name}", src)


def _finite(value: float) -> float:
    value = float(value)
    if not math.isfinite(value):
        raise WorkerError(f"objective value {value} is not finite")
    return value


def current() -> Trial:
    """The trial this process runs, from ``HPO_TRIAL_URI``.

    An exception the trainer does not catch is recorded (``error.json``) before Python prints
    it, so the failed trial's reason is the error itself, not just an exit code."""
    uri = os.environ.get(ENV_TRIAL_URI)
    if not uri:
        raise WorkerError(f"{ENV_TRIAL_URI} is not set; run this trainer through hpo")
    trial = Trial(uri)
    previous = sys.excepthook

    def record_then_print(kind: type[BaseException], exc: BaseException, tb: Any) -> None:
        with contextlib.suppress(Exception):  # a failing record must not hide the error
            trial.record_error(exc)
        previous(kind, exc, tb)

    sys.excepthook = record_then_print
    return trial
