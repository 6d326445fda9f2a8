"""Where each trial's documents live under the store root (the trainer contract: "Object
layout" in docs/architecture.md)."""

from __future__ import annotations

from dataclasses import dataclass

PARAMS = "params.json"
PROGRESS = "progress.json"
RESULT = "result.json"
ERROR = "error.json"  # trainer -> controller: the uncaught error that ended an attempt
CHECKPOINTS = "checkpoints/"
ARTIFACTS = "artifacts/"


@dataclass(frozen=True)
class TrialLayout:
    """Keys of one study's trial documents, relative to the store root."""

    study: str

    @property
    def trials_prefix(self) -> str:
        return f"{self.study}/trials/"

    def trial_prefix(self, number: int) -> str:
        return f"{self.study}/trials/{number}/"

    def params(self, number: int) -> str:
        return self.trial_prefix(number) + PARAMS

    def progress(self, number: int) -> str:
        return self.trial_prefix(number) + PROGRESS

    def result(self, number: int) -> str:
        return self.trial_prefix(number) + RESULT

    def error(self, number: int) -> str:
        return self.trial_prefix(number) + ERROR

    def checkpoints(self, number: int) -> str:
        return self.trial_prefix(number) + CHECKPOINTS

    def artifacts(self, number: int) -> str:
        return self.trial_prefix(number) + ARTIFACTS

    def number_of(self, key: str) -> int | None:
        """The trial number a key belongs to, or ``None`` if it is not a trial key."""
        if not key.startswith(self.trials_prefix):
            return None
        head = key[len(self.trials_prefix) :].split("/", 1)[0]
        return int(head) if head.isdigit() else None
