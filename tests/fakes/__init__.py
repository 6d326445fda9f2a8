"""Test doubles for hpo's cloud half (a deterministic AWS Batch fake, its events, price stubs,
moto helpers, a throwaway PostgreSQL server, a quick trainer, request tallies).

Used by the test suite and the benchmarks, never shipped: see :mod:`hpo.testing` for what
the wheel carries for plugin authors.
"""
