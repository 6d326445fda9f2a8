"""Samplers hpo adds on top of Optuna's."""
