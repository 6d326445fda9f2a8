"""The object store contract shared by the local directory store and the S3 store.

Contract (every implementation passes :mod:`hpo.testing.store_contract`):

- keys are ``/``-separated relative paths; ``uri(key)`` is what a trainer is given;
- ``put`` is atomic: a reader sees the old document or the new one, never a torn one;
- ``get`` returns ``None`` for a missing key, never raises for it;
- ``stamps(keys)`` answers for many keys at once, cheaply (one directory stat per key
  locally, one paginated listing on S3), with a value that changes whenever the object
  changes; missing keys are absent from the answer;
- ``list(prefix)`` returns every key under ``prefix`` with its stamp;
- methods are safe to call from several threads.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection
from dataclasses import dataclass


@dataclass(frozen=True)
class Stamp:
    """A change marker for one object: size plus mtime and inode (local) or ETag (S3)."""

    size: int
    version: str


class ObjectStore(ABC):
    """Where trial documents live. See the module docstring for the contract."""

    root: str

    @abstractmethod
    def uri(self, key: str) -> str:
        """The URI a trainer uses to reach ``key`` (a path or ``s3://``)."""

    @abstractmethod
    def get(self, key: str) -> bytes | None:
        """The object's bytes, or ``None`` when it does not exist."""

    @abstractmethod
    def put(self, key: str, data: bytes) -> None:
        """Write ``data`` atomically under ``key``."""

    @abstractmethod
    def stamps(self, keys: Collection[str]) -> dict[str, Stamp]:
        """Change markers of those ``keys`` that exist."""

    @abstractmethod
    def list(self, prefix: str) -> dict[str, Stamp]:
        """Every key under ``prefix`` with its stamp."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove ``key``; a missing key is not an error."""
