"""Backends run jobs: local processes or AWS Batch. None of them knows about Optuna."""

from hpo.backends.base import Backend, JobSpec, JobState, JobStatus

__all__ = ["Backend", "JobSpec", "JobState", "JobStatus"]
