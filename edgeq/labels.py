"""Class labels files: one label per line, read the same way by every export."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from pathlib import Path

from edgeq.errors import InputError

MAX_LABEL = 256  # characters in one label
MAX_LABELS_FILE = 16 << 20  # bytes: a label file is small text


def read_labels(labels: str | Path | Sequence[str], classes: int) -> list[str]:
    """The labels of ``classes`` classes: a text file (UTF-8, split on ``\\n`` only, a ``\\r``
    before it dropped, trailing blank lines dropped) or a list. InputError, naming the line,
    unless there is exactly one label per class, none blank, none longer than MAX_LABEL and none
    holding a control or separator character (vertical tab, form feed, U+2028, NUL, ...)."""
    if isinstance(labels, (str, Path)):
        path = Path(labels)
        if not path.is_file():
            raise InputError(f"--labels {path} does not exist: give a text file with one label per line")
        if path.stat().st_size > MAX_LABELS_FILE:
            raise InputError(
                f"--labels {path} is {path.stat().st_size:,} bytes: a labels file is one short line per class"
            )
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise InputError(
                f"--labels {path} is not UTF-8 text: save it as UTF-8, one label per line"
            ) from None
        except OSError as exc:
            raise InputError(f"--labels {path} cannot be read ({exc.strerror or exc})") from None
        texts = [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]
        while texts and not texts[-1].strip():
            texts.pop()
    else:
        texts = [str(label) for label in labels]
    if len(texts) != classes:
        raise InputError(
            f"--labels has {len(texts)} labels but the model's output has {classes} classes: "
            "give one label per class, one per line"
        )
    for line, label in enumerate(texts, start=1):
        if not label.strip():
            raise InputError(f"--labels line {line} is blank: every class needs a name")
        if len(label) > MAX_LABEL:
            raise InputError(f"--labels line {line} is {len(label)} characters long: use at most {MAX_LABEL}")
        odd = next(
            (c for c in label if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") and c != "\t"), None
        )
        if odd is not None:
            raise InputError(
                f"--labels line {line} holds the control character U+{ord(odd):04X}: "
                "labels are plain text, one per line"
            )
    return texts
