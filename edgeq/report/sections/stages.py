"""The run itself: its configuration file, each stage (ran or reused, seconds, fingerprint) as a
timeline and a table, and the configuration's settings."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from edgeq.report.document import Block, Facts, Missing, Segment, Table, Timeline, Value
from edgeq.report.figures import STAGE_HOW, plain
from edgeq.report.sections import Context


def blocks(context: Context) -> Iterator[Block]:
    """The configuration file, the timeline and the stages; ``configuration`` gives the settings."""
    run = context.folder.run
    if context.folder.written_by != "edgeq run":
        context.missing.append("run.json")
        yield Missing(
            f"Written by {context.folder.written_by}",
            "no run.json, so no stages or configuration: edgeq run edgeq.toml writes them.",
        )
        return
    if run.config_file:
        yield Facts.of([("configuration", run.config_file)])
    stages = run.stages
    if not stages:
        return
    total = sum(stage.seconds for stage in stages) or 1.0
    tones = [_status_tone(stage.status) for stage in stages]
    yield Timeline(
        tuple(
            Segment(stage.name, stage.seconds, tone, round(stage.seconds / total, 4))
            for stage, tone in zip(stages, tones, strict=True)
        )
    )
    seconds = context.notes.figure("seconds", "measured", STAGE_HOW)
    columns = ("stage", "status", seconds, "inputs sha256", "outputs")
    rows = [
        [
            stage.name,
            Value(stage.status, tone=tone),
            f"{stage.seconds:.2f}",
            (stage.inputs_sha256 or "-")[:16],
            ", ".join(stage.outputs) or "-",
        ]
        for stage, tone in zip(stages, tones, strict=True)
    ]
    yield Table.of(columns, rows, (False, False, True, False, False), caption="Stages")


def configuration(context: Context) -> Table:
    settings = list(_flatten(context.folder.run.config))
    return Table.of(("setting", "value"), settings, (False, False), caption="Configuration (edgeq.toml)")


def _status_tone(status: str) -> str:
    return {"ran": "good", "reused": "info"}.get(status, "muted")


def _flatten(config: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    for key, value in config.items():
        if isinstance(value, dict):
            yield from _flatten(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", plain(value)
