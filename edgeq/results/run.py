"""The record of one ``edgeq run`` (OUT/run.json): each stage's status, seconds and inputs
fingerprint, the configuration and the environment (``edgeq.pipeline`` runs the stages)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from edgeq.results import schema


@dataclass(frozen=True)
class StageRun:
    """What one stage did: ``ran`` or ``reused`` (inputs unchanged), in how many seconds."""

    name: str
    status: str
    seconds: float
    inputs_sha256: str
    outputs: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status, "seconds": round(self.seconds, 3),
                "inputs_sha256": self.inputs_sha256, "outputs": list(self.outputs)}  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StageRun:
        return cls(
            name=str(data["name"]),
            status=str(data["status"]),
            seconds=float(data.get("seconds") or 0.0),
            inputs_sha256=str(data.get("inputs_sha256") or ""),
            outputs=tuple(str(output) for output in data.get("outputs") or ()),
        )


@dataclass(frozen=True)
class RunRecord:
    """run.json: ``config`` is the configuration as edgeq.toml gave it (``RunConfig.to_dict``),
    ``config_file`` where it was read from."""

    edgeq_version: str
    config_file: str | None
    config: dict[str, Any]
    stages: tuple[StageRun, ...]
    environment: dict[str, str]

    def to_dict(self) -> dict[str, Any]:
        return {
            **schema.RUN.header(),
            "edgeq_version": self.edgeq_version,
            "config_file": self.config_file,
            "config": self.config,
            "stages": [stage.to_dict() for stage in self.stages],
            "environment": self.environment,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunRecord:
        """Read run.json's content (``schema.RUN.check`` it first). Raises KeyError, TypeError or
        ValueError for content ``to_dict`` cannot have written."""
        return cls(
            edgeq_version=str(data.get("edgeq_version") or ""),
            config_file=data.get("config_file"),
            config=dict(data.get("config") or {}),
            stages=tuple(StageRun.from_dict(stage) for stage in data.get("stages") or ()),
            environment=dict(data.get("environment") or {}),
        )
