"""The ``kind`` and ``schema_version`` of every JSON file edgeq writes, in one place: each writer
stamps its file with a Schema's header, each reader checks the file with the same Schema."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgeq.checks import check_nesting
from edgeq.errors import InputError


@dataclass(frozen=True)
class Schema:
    """One JSON file format. ``version`` is the schema_version edgeq writes and the newest it reads."""

    kind: str
    version: int

    def header(self) -> dict[str, Any]:
        """The first two keys of every file of this kind."""
        return {"schema_version": self.version, "kind": self.kind}

    def check(self, data: Any, file: str | Path, hint: str = "") -> dict[str, Any]:
        """``data`` when it is a JSON object of this kind with a schema_version this edgeq reads.

        Raises InputError naming ``file`` otherwise; ``hint`` (``"; how to fix"``) follows a wrong kind.
        """
        if not isinstance(data, dict) or data.get("kind") != self.kind:
            found = data.get("kind") if isinstance(data, dict) else type(data).__name__
            raise InputError(f"{file}: not an {self.kind} file (kind {found!r}){hint}")
        version = data.get("schema_version")
        if not isinstance(version, int) or version > self.version:
            raise InputError(
                f"{file}: schema_version {version!r}; this edgeq reads up to {self.version}: upgrade"
            )
        return data

    def read(self, file: Path, fix: str = "") -> dict[str, Any]:
        """The JSON object in ``file``, checked as this kind. Raises InputError naming the file (a
        missing, unreadable or invalid file, or the wrong kind or version), then ``fix``."""
        hint = f"; {fix}" if fix else ""
        try:
            text = file.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise InputError(f"{file}: missing{hint}") from None
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or exc
            raise InputError(f"{file}: cannot be read ({reason}){hint}") from None
        check_nesting(text, str(file))
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"{file}: not valid JSON (line {exc.lineno}: {exc.msg}){hint}") from None
        except ValueError as exc:  # e.g. an integer of more than 4300 digits
            raise InputError(f"{file}: not a JSON file edgeq reads ({exc}){hint}") from None
        return self.check(data, file, hint)


CONVERT = Schema("edgeq.convert", 1)  # report.json of edgeq convert and edgeq qat (OUT/convert/)
INSPECT = Schema("edgeq.inspect", 1)  # edgeq inspect --json (OUT/inspect/<stem>.json)
BENCH = Schema("edgeq.bench", 1)  # edgeq bench --json (OUT/bench.json)
RUN = Schema("edgeq.run", 1)  # OUT/run.json of edgeq run
SCHEMAS = (CONVERT, INSPECT, BENCH, RUN)
