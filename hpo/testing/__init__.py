"""Test doubles for hpo's cloud half: a deterministic AWS Batch fake and moto helpers.

Used by the test suite and the benchmarks; moto is imported only where it is needed.
"""
