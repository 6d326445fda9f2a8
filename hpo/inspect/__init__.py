"""Read-only views of a study: status, best trials, logs, exports and the dashboard.

Nothing here writes to the study's storage or calls a backend; every view works on a
study whose controller is running as well as on a finished or interrupted one. The one
exception is :mod:`hpo.inspect.artifacts`, which the controller calls to register a
trial's files with the dashboard before it tells Optuna the trial's outcome.
"""
