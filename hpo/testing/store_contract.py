"""The object store contract (see :mod:`hpo.store.base`), one suite for every store.

A test module subclasses :class:`StoreContract` and provides a ``store`` fixture (an empty
store); the suite checks documents, stamps, listings, key validation and threads.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from hpo.errors import ObjectStoreError
from hpo.store.base import ObjectStore


class StoreContract:
    """Behaviour every object store must have. Subclasses provide the ``store`` fixture."""

    @pytest.fixture
    def store(self) -> ObjectStore:  # pragma: no cover - overridden
        raise NotImplementedError

    def test_put_then_get_round_trips_bytes(self, store: ObjectStore) -> None:
        store.put("s/trials/0/params.json", b'{"params": {}}')
        assert store.get("s/trials/0/params.json") == b'{"params": {}}'

    def test_get_of_a_missing_key_is_none(self, store: ObjectStore) -> None:
        assert store.get("s/trials/0/result.json") is None

    def test_put_replaces_the_whole_document(self, store: ObjectStore) -> None:
        store.put("s/trials/0/progress.json", b'{"steps": [[1, 0.5], [2, 0.4]]}')
        store.put("s/trials/0/progress.json", b'{"steps": []}')
        assert store.get("s/trials/0/progress.json") == b'{"steps": []}'

    def test_uri_names_the_key_under_the_root(self, store: ObjectStore) -> None:
        uri = store.uri("s/trials/3/")
        assert uri.startswith(store.root) and uri.rstrip("/").endswith("s/trials/3")

    def test_stamps_answer_for_existing_keys_only(self, store: ObjectStore) -> None:
        keys = [f"s/trials/{n}/progress.json" for n in range(30)]
        for key in keys[::2]:
            store.put(key, b"{}")
        stamps = store.stamps(keys)
        assert set(stamps) == set(keys[::2])
        assert all(stamp.size == 2 for stamp in stamps.values())
        assert store.stamps([]) == {}

    def test_a_stamp_changes_when_the_object_changes(self, store: ObjectStore) -> None:
        key = "s/trials/7/progress.json"
        store.put(key, b'{"steps": [[1, 0.5]]}')
        before = store.stamps([key])[key]
        store.put(key, b'{"steps": [[1, 0.5], [2, 0.25]]}')
        after = store.stamps([key])[key]
        assert after != before

    def test_stamps_of_scattered_keys_skip_unrelated_objects(self, store: ObjectStore) -> None:
        for n in (1, 10, 100, 1000):
            store.put(f"s/trials/{n}/params.json", b"p")
            store.put(f"s/trials/{n}/progress.json", b"pp")
        wanted = [f"s/trials/{n}/progress.json" for n in (1, 100, 1000, 5)]
        assert sorted(store.stamps(wanted)) == sorted(wanted[:3])

    def test_list_returns_every_key_under_a_prefix(self, store: ObjectStore) -> None:
        store.put("s/trials/1/params.json", b"a")
        store.put("s/trials/1/checkpoints/model.pkl", b"bb")
        store.put("s/trials/12/params.json", b"c")
        listed = store.list("s/trials/1/")
        assert sorted(listed) == ["s/trials/1/checkpoints/model.pkl", "s/trials/1/params.json"]
        assert listed["s/trials/1/checkpoints/model.pkl"].size == 2
        assert store.list("nothing/here/") == {}

    def test_delete_removes_and_tolerates_missing_keys(self, store: ObjectStore) -> None:
        store.put("s/trials/0/control.json", b"{}")
        store.delete("s/trials/0/control.json")
        store.delete("s/trials/0/control.json")
        assert store.get("s/trials/0/control.json") is None

    @pytest.mark.parametrize("key", ["/abs/key", "s/../escape", "s/./../x"])
    def test_keys_that_escape_the_root_are_refused(self, store: ObjectStore, key: str) -> None:
        with pytest.raises(ObjectStoreError):
            store.put(key, b"x")

    def test_threads_may_share_a_store(self, store: ObjectStore) -> None:
        def work(n: int) -> bytes | None:
            store.put(f"s/trials/{n}/result.json", str(n).encode())
            return store.get(f"s/trials/{n}/result.json")

        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(work, range(32)))
        assert results == [str(n).encode() for n in range(32)]
        assert len(store.list("s/trials/")) == 32
