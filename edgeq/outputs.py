"""Write an output folder all at once: build it under a temporary name, then rename it into place.

A failure part-way leaves no folder behind; an existing folder is replaced only with ``force``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from edgeq.errors import InputError


def check_output_dir(path: str | Path, force: bool) -> Path:
    """Raise InputError unless ``path`` is free (or ``force`` is set and it is a folder)."""
    path = Path(path)
    if path.exists() or path.is_symlink():
        if not force:
            raise InputError(
                f"output {path} already exists: pass --force to replace it, or choose another -o"
            )
        if not path.is_dir():
            raise InputError(f"output {path} exists and is not a folder: remove it or choose another -o")
    if path.parent != Path() and not path.parent.exists():
        raise InputError(f"the parent folder of output {path} does not exist: create it first")
    return path


@contextlib.contextmanager
def atomic_output_dir(path: str | Path, force: bool = False) -> Iterator[Path]:
    """Yield a temporary sibling folder; on success it becomes ``path``, on failure it is removed."""
    path = check_output_dir(path, force)
    parent = path.parent.resolve()
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.edgeq-", dir=parent))
    try:
        yield staging
        os.chmod(staging, 0o777 & ~_umask())
        if path.exists():
            retired = Path(tempfile.mkdtemp(prefix=f".{path.name}.old-", dir=parent))
            os.replace(path, retired / path.name)
            os.replace(staging, path)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.replace(staging, path)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def write_file_atomic(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary sibling and a rename."""
    if path.parent != Path() and not path.parent.is_dir():
        raise InputError(f"the folder of {path} does not exist: create it first")
    with tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", dir=path.parent, prefix=f".{path.name}.", delete=False
    ) as handle:
        staging = Path(handle.name)
        try:
            handle.write(text)
        except BaseException:
            handle.close()
            staging.unlink(missing_ok=True)
            raise
    umask = os.umask(0)
    os.umask(umask)
    staging.chmod(0o666 & ~umask)  # as open() would create it, not mkstemp's 0600
    os.replace(staging, path)
    return path
