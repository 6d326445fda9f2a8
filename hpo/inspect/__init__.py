"""Read-only views of a study: status, best trials, logs, exports and the dashboard.

Nothing here writes to the study's storage or calls a backend; every view works on a
study whose controller is running as well as on a finished or interrupted one. The
controller does not import these views, nor they the controller (``tests/test_layers.py``):
what both use (the artifact store, what trials cost) lives beside them in :mod:`hpo`.
"""
