"""The base of every study-file model: frozen, and unknown fields are errors, not ignored."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class SpecModel(BaseModel):
    """A frozen section of the study file that rejects fields it does not know (typos)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
