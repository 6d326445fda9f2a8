"""hpo: asynchronous parallel hyperparameter optimization on local processes and AWS Batch.

This package's top level imports nothing heavy so that ``hpo.worker`` stays importable
inside a trainer image that has only the standard library (and boto3 for S3).
"""

__version__ = "0.1.0"
