"""The job schema's shared building blocks: ``StrictModel`` (every model forbids unknown
fields and is frozen) and ``EnvRef`` (``{env: VAR}``: a value read from the environment — the
only way a secret enters a job)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

from fleet.spec.values import ENV_NAME


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EnvRef(StrictModel):
    """``{env: VAR}``: the value is read from environment variable ``VAR`` when the spec loads."""

    env: str

    @model_validator(mode="before")
    @classmethod
    def _shape(cls, data: Any) -> Any:
        # Never echo ``data``: it is whatever the author wrote where a secret belongs.
        if not isinstance(data, dict):
            message = (
                "a secret is never written in a job file — write {env: VAR_NAME} and set "
                "VAR_NAME in the environment"
            )
            raise ValueError(message)
        env = data.get("env")
        if isinstance(env, str) and not ENV_NAME.match(env):
            raise ValueError(f"{env!r} is not an environment variable name")
        return data
