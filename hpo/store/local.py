"""A directory as the object store (the embedded default)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Collection
from pathlib import Path

from hpo.errors import ObjectStoreError
from hpo.store.base import ObjectStore, Stamp


def _stamp(st: os.stat_result) -> Stamp:
    """Size, mtime and inode: every put is a new file (``os.replace``), so a rewrite within
    one tick of a coarse filesystem clock still gets a new stamp."""
    return Stamp(size=st.st_size, version=f"{st.st_mtime_ns}-{st.st_ino}")


class LocalStore(ObjectStore):
    """Keys are files under ``root``; writes go through a temp file and ``os.replace``."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = str(Path(root).resolve())

    def _path(self, key: str) -> Path:
        if key.startswith("/") or ".." in key.split("/"):
            raise ObjectStoreError(f"invalid object key {key!r}")
        return Path(self.root, key)

    def uri(self, key: str) -> str:
        return str(self._path(key))

    def get(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None
        except OSError as exc:
            raise ObjectStoreError(f"cannot read {self.uri(key)}: {exc}") from exc

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(data)
            os.replace(tmp, path)
        except OSError as exc:
            raise ObjectStoreError(f"cannot write {path}: {exc}") from exc

    def stamps(self, keys: Collection[str]) -> dict[str, Stamp]:
        out: dict[str, Stamp] = {}
        for key in keys:
            try:
                st = os.stat(self._path(key))
            except OSError:
                continue
            out[key] = _stamp(st)
        return out

    def list(self, prefix: str) -> dict[str, Stamp]:
        base = self._path(prefix.rstrip("/")) if prefix else Path(self.root)
        out: dict[str, Stamp] = {}
        if not base.is_dir():
            return out
        for dirpath, _dirs, files in os.walk(base):
            for name in files:
                if name.startswith(".") and name.endswith(".tmp"):
                    continue
                full = Path(dirpath, name)
                key = full.relative_to(self.root).as_posix()
                st = full.stat()
                out[key] = _stamp(st)
        return out

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._path(key).unlink()
