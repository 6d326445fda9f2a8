"""Benchmarks for hpo: run them as modules from the repository root (see README.md)."""
