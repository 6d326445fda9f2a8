"""An S3 prefix as the object store (the Batch backend's trial documents).

Keys live under ``s3://bucket/prefix/``. ``stamps`` answers for many keys with ranged
listings (``StartAfter`` jumps straight to the next wanted key), so watching 64 running
trials costs one ``ListObjectsV2`` per poll, not one request per trial.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from hpo import aws
from hpo.errors import ObjectStoreError
from hpo.store.base import ObjectStore, Stamp

_MISSING = {"NoSuchKey", "404", "NotFound"}
_PAGE = 1000


def _stamp(obj: dict[str, Any]) -> Stamp:
    return Stamp(size=int(obj.get("Size", 0)), version=str(obj.get("ETag", "")).strip('"'))


def split_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/a/b/`` -> ``("bucket", "a/b")``."""
    if not uri.startswith("s3://"):
        raise ObjectStoreError(f"{uri!r} is not an s3:// URI")
    bucket, _, prefix = uri[5:].partition("/")
    if not bucket:
        raise ObjectStoreError(f"{uri!r} names no bucket", hint="use s3://BUCKET/PREFIX")
    return bucket, prefix.strip("/")


class S3Store(ObjectStore):
    """Keys are objects under ``prefix`` in ``bucket``; ``client`` is a boto3 S3 client."""

    def __init__(self, bucket: str, prefix: str = "", *, client: Any) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.client = client
        self.root = f"s3://{bucket}/{self.prefix}".rstrip("/")

    @classmethod
    def from_uri(
        cls,
        uri: str,
        client: Any = None,
        region: str | None = None,
        profile: str | None = None,
        endpoint_url: str | None = None,
    ) -> S3Store:
        """The store at ``s3://bucket/prefix``; builds a client unless one is given."""
        bucket, prefix = split_uri(uri)
        if client is None:
            session = aws.session(region, profile, error=ObjectStoreError)
            client = aws.client(session, "s3", endpoint_url=endpoint_url)
        return cls(bucket, prefix, client=client)

    # ------------------------------------------------------------------ keys

    def _full(self, key: str) -> str:
        """The object key of ``key`` under the prefix; keys escaping the root are refused."""
        if not key or key.startswith("/") or ".." in key.split("/"):
            raise ObjectStoreError(f"invalid object key {key!r}")
        return f"{self.prefix}/{key}" if self.prefix else key

    def _rel(self, full: str) -> str:
        return full[len(self.prefix) + 1 :] if self.prefix else full

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._full(key)}"

    # ------------------------------------------------------------------ documents

    def get(self, key: str) -> bytes | None:
        full = self._full(key)
        try:
            return self.client.get_object(Bucket=self.bucket, Key=full)["Body"].read()
        except ClientError as exc:
            if aws.error_code(exc) in _MISSING:
                return None
            raise self._error("read", full, exc) from exc
        except BotoCoreError as exc:
            raise self._error("read", full, exc) from exc

    def put(self, key: str, data: bytes) -> None:
        full = self._full(key)
        try:
            self.client.put_object(Bucket=self.bucket, Key=full, Body=data)
        except (ClientError, BotoCoreError) as exc:
            raise self._error("write", full, exc) from exc

    def delete(self, key: str) -> None:
        full = self._full(key)
        try:
            self.client.delete_object(Bucket=self.bucket, Key=full)
        except ClientError as exc:
            if aws.error_code(exc) not in _MISSING:
                raise self._error("delete", full, exc) from exc
        except BotoCoreError as exc:
            raise self._error("delete", full, exc) from exc

    # ------------------------------------------------------------------ listings

    def list(self, prefix: str) -> dict[str, Stamp]:
        base = self._full(prefix) if prefix else (f"{self.prefix}/" if self.prefix else "")
        out: dict[str, Stamp] = {}
        for obj in self._paginate(base):
            out[self._rel(obj["Key"])] = _stamp(obj)
        return out

    def stamps(self, keys: Collection[str]) -> dict[str, Stamp]:
        """One ranged listing per stretch of wanted keys (usually one request in all)."""
        wanted = {self._full(key): key for key in keys}
        if not wanted:
            return {}
        order = sorted(wanted)
        common = _shared_start(order[0], order[-1])
        out: dict[str, Stamp] = {}
        i = 0
        while i < len(order):
            page = self._list_page(common, start_after=order[i][:-1])
            for obj in page.get("Contents", []):
                if obj["Key"] in wanted:
                    out[wanted[obj["Key"]]] = _stamp(obj)
            contents = page.get("Contents", [])
            if not page.get("IsTruncated") or not contents:
                break
            last = contents[-1]["Key"]
            while i < len(order) and order[i] <= last:
                i += 1
        return out

    def _list_page(self, prefix: str, *, start_after: str) -> dict[str, Any]:
        """One ListObjectsV2 page of keys under ``prefix`` after ``start_after``."""
        try:
            return self.client.list_objects_v2(
                Bucket=self.bucket, Prefix=prefix, StartAfter=start_after, MaxKeys=_PAGE
            )
        except (ClientError, BotoCoreError) as exc:
            raise self._error("list", prefix, exc) from exc

    def _paginate(self, prefix: str) -> Iterator[dict[str, Any]]:
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix
            )
            for page in pages:
                yield from page.get("Contents", [])
        except (ClientError, BotoCoreError) as exc:
            raise self._error("list", prefix, exc) from exc

    def _error(self, verb: str, key: str, exc: Exception) -> ObjectStoreError:
        """An ``ObjectStoreError`` naming the object, with a hint for bucket/permission errors."""
        hint = None
        if aws.error_code(exc) in ("NoSuchBucket", "AccessDenied", "403"):
            hint = f"check that bucket {self.bucket!r} exists and these credentials may use it"
        return ObjectStoreError(f"cannot {verb} s3://{self.bucket}/{key}: {exc}", hint=hint)


def _shared_start(first: str, last: str) -> str:
    """The longest string both start with (of a sorted list, first and last suffice)."""
    n = 0
    while n < min(len(first), len(last)) and first[n] == last[n]:
        n += 1
    return first[:n]
