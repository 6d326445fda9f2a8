"""Open a study for reading only, and find its trials by number."""

from __future__ import annotations

import optuna
from optuna.trial import FrozenTrial

from hpo.errors import UnknownTrialError
from hpo.spec.loader import StudyFile
from hpo.storage import existing_study


def open_study(study: StudyFile) -> optuna.Study:
    """Load the study read-only; a clear error when it has not been started yet."""
    return existing_study(study, read_only=True)


def trial_by_number(
    study: optuna.Study, number: int, *, study_file: str = "STUDY_FILE"
) -> FrozenTrial:
    """The trial numbered ``number``, or :class:`UnknownTrialError` naming the valid range."""
    trials = study.get_trials(deepcopy=False)
    for trial in trials:
        if trial.number == number:
            return trial
    have = f"trials 0-{len(trials) - 1}" if trials else "no trials yet"
    raise UnknownTrialError(
        f"study {study.study_name!r} has no trial {number} ({have})",
        hint=f"list the trials with: hpo export {study_file} (or hpo status {study_file})",
    )
