"""The object store: where a trial's documents live (params in; progress, result, error,
checkpoints and artifacts out), a directory or ``s3://bucket/prefix``.

Not Optuna's *storage* (:mod:`hpo.storage`: the study and its trials) and not the dashboard's
*artifact store* (:mod:`hpo.artifacts`). The contract is :mod:`hpo.store.base`; ``open_store``
picks the implementation for a root.
"""

from hpo.store.base import ObjectStore, Stamp
from hpo.store.layout import TrialLayout


def open_store(root: str, **s3_options: object) -> ObjectStore:
    """The store for ``root``: ``s3://bucket/prefix`` or a local directory."""
    if root.startswith("s3://"):
        from hpo.store.s3 import S3Store

        return S3Store.from_uri(root, **s3_options)  # type: ignore[arg-type]
    from hpo.store.local import LocalStore

    return LocalStore(root)


__all__ = ["ObjectStore", "Stamp", "TrialLayout", "open_store"]
