"""Object stores: where params go in and progress/results come out (a directory or S3)."""

from hpo.store.base import ObjectStore, Stamp, open_store
from hpo.store.layout import TrialLayout

__all__ = ["ObjectStore", "Stamp", "TrialLayout", "open_store"]
