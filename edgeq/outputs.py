"""Write outputs all at once, and never replace what edgeq did not write.

An output folder is built under a temporary name and renamed into place, so a failure part-way
leaves no folder behind. Every folder edgeq writes holds a manifest (``.edgeq-manifest.json``) with
the sha256 of each file in it; ``force`` replaces an existing folder only when every file in it is
in that manifest, unchanged. A single file (a ``--json`` report, ``report.html``) is replaced only
when edgeq wrote it: it is in its folder's manifest, or it carries edgeq's mark (a JSON object with
``edgeq_version``, a page saying it was written by edgeq).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from edgeq.errors import InputError

MANIFEST = ".edgeq-manifest.json"
# What marks a single file as edgeq's when its folder has no manifest listing it.
_MARKS = {
    ".json": b'"edgeq_version"',
    ".html": b'<meta name="generator" content="edgeq ',
    ".md": b"Written by edgeq ",
}
_SHOWN = 3  # foreign files named in a refusal


def check_output_dir(path: str | Path, force: bool) -> Path:
    """Raise InputError unless ``path`` is free, or ``force`` is set and it is a folder holding
    only files edgeq wrote there (unchanged since)."""
    path = Path(path)
    if any(len(part.encode()) > 240 for part in path.parts):
        raise InputError(f"output {str(path)[:60]}...: a folder name is too long, choose a shorter -o")
    if path.exists() or path.is_symlink():
        if not force:
            raise InputError(
                f"output {path} already exists: pass --force to replace it, or choose another -o"
            )
        if path.is_symlink() or not path.is_dir():
            raise InputError(f"output {path} exists and is not a folder: remove it or choose another -o")
        _refuse_foreign(path)
    if path.parent != Path() and not path.parent.exists():
        raise InputError(f"the parent folder of output {path} does not exist: create it first")
    return path


def foreign_files(folder: Path) -> list[str]:
    """The files under ``folder`` that its manifest does not list with their present content:
    files edgeq did not write there, or changed since (relative paths, sorted)."""
    recorded = _read_manifest(folder)
    found = []
    for child in sorted(folder.rglob("*")):
        relative = child.relative_to(folder).as_posix()
        if relative == MANIFEST or (child.is_dir() and not child.is_symlink()):
            continue
        # a link, a pipe or a device is never edgeq's (and a pipe must not be read: it would block)
        if child.is_symlink() or not child.is_file() or recorded.get(relative) != _sha256(child):
            found.append(relative)
    return found


def _refuse_foreign(folder: Path) -> None:
    foreign = foreign_files(folder)
    if foreign:
        shown = ", ".join(foreign[:_SHOWN]) + (
            f" and {len(foreign) - _SHOWN} more" if len(foreign) > _SHOWN else ""
        )
        raise InputError(
            f"output {folder} holds {len(foreign)} file(s) edgeq did not write there or that changed "
            f"since ({shown}): --force replaces only edgeq's own files; move them away or choose another -o"
        )


def write_manifest(folder: Path) -> None:
    """Record every file now under ``folder`` as edgeq's."""
    files = {}
    for child in sorted(folder.rglob("*")):
        if child.is_file() and not child.is_symlink() and child.name != MANIFEST:
            files[child.relative_to(folder).as_posix()] = _sha256(child)
    _save_manifest(folder, files)


def record_written(path: Path) -> None:
    """Add the file ``path`` (just written by edgeq) to its folder's manifest, if it has one."""
    folder = path.parent
    if (folder / MANIFEST).is_file():
        _save_manifest(folder, {**_read_manifest(folder), path.name: _sha256(path)})


def start_manifest(folder: Path) -> None:
    """Give ``folder`` (one edgeq writes files into, beside others') a manifest listing nothing yet
    if it has none; each file edgeq then writes there is added to it."""
    if not (folder / MANIFEST).exists():
        _save_manifest(folder, {})


def _save_manifest(folder: Path, files: dict[str, str]) -> None:
    _replace_text(
        folder / MANIFEST,
        json.dumps({"written_by": "edgeq", "files": files}, indent=1, sort_keys=True) + "\n",
    )


def _read_manifest(folder: Path) -> dict[str, str]:
    try:
        files = json.loads((folder / MANIFEST).read_text(encoding="utf-8")).get("files")
    except (OSError, ValueError, AttributeError, RecursionError):
        return {}
    return {str(k): str(v) for k, v in files.items()} if isinstance(files, dict) else {}


def file_sha256(path: Path) -> str:
    """The hex sha256 of the file ``path``, read in blocks; raises OSError as ``open`` does."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _sha256(path: Path) -> str:
    """``file_sha256``, or "" for a file that cannot be read (it then matches no manifest entry)."""
    try:
        return file_sha256(path)
    except OSError:
        return ""


@contextlib.contextmanager
def atomic_output_dir(path: str | Path, force: bool = False) -> Iterator[Path]:
    """Yield a temporary sibling folder; on success it becomes ``path`` (with its manifest), on
    failure or interruption it is removed and an existing ``path`` is left as it was."""
    path = check_output_dir(path, force)
    parent = path.parent.resolve()
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{path.name[:100]}.edgeq-", dir=parent))
    except OSError as exc:
        raise InputError(f"cannot write output {path}: {exc.strerror or exc}: choose another -o") from exc
    retired: Path | None = None
    try:
        yield staging
        write_manifest(staging)
        os.chmod(staging, 0o777 & ~_umask())
        if path.exists():
            _refuse_foreign(path)  # again: something may have been added while we worked
            retired = Path(tempfile.mkdtemp(prefix=f".{path.name[:100]}.old-", dir=parent))
            os.replace(path, retired / path.name)
            os.replace(staging, path)
            shutil.rmtree(retired, ignore_errors=True)
            retired = None
        else:
            os.replace(staging, path)
    except BaseException:
        if retired is not None:
            if not path.exists() and (retired / path.name).exists():
                os.replace(retired / path.name, path)  # put the old folder back
            shutil.rmtree(retired, ignore_errors=True)
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def written_by_edgeq(path: Path) -> bool:
    """Whether the existing file ``path`` is one edgeq wrote: listed, unchanged, in its folder's
    manifest, or carrying edgeq's mark in its first 64 KB."""
    if path.is_symlink() or not path.is_file():  # a link, a pipe or a device is never edgeq's
        return False
    if _read_manifest(path.parent).get(path.name) == _sha256(path):
        return True
    mark = _MARKS.get(path.suffix.lower())
    if mark is None:
        return False
    try:
        with path.open("rb") as handle:
            return mark in handle.read(1 << 16)
    except OSError:
        return False


def check_output_file(path: str | Path) -> Path:
    """Raise InputError unless edgeq may write the file ``path``: its folder exists, it is not a
    folder, and it does not exist or edgeq wrote it. Commands call it before their work."""
    path = Path(path)
    if len(path.name.encode()) > 240:
        raise InputError(f"the file name {path.name[:40]}... is too long: choose a shorter one")
    if path.parent != Path() and not path.parent.is_dir():
        raise InputError(f"the folder of {path} does not exist: create it first")
    if path.is_dir():
        raise InputError(f"{path} is a folder: name a file to write")
    if (path.exists() or path.is_symlink()) and not written_by_edgeq(path):
        raise InputError(f"{path} exists and edgeq did not write it: remove it or choose another file name")
    return path


def write_file_atomic(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary sibling and a rename. An existing ``path`` is
    replaced only when edgeq wrote it; the staging file is removed on any failure or interruption.
    A folder with a manifest gets ``path`` added to it."""
    path = check_output_file(path)
    try:
        _replace_text(path, text)
        record_written(path)
    except OSError as exc:
        raise InputError(f"could not write {path}: {exc.strerror or exc}: choose another place") from exc
    return path


def _replace_text(path: Path, text: str) -> None:
    """Write ``path`` through a staging sibling and a rename; the staging file never outlives a
    failure or an interruption (also one during the rename)."""
    staging: Path | None = None
    try:
        with tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", dir=path.parent, prefix=f".{path.name[:100]}.", delete=False
        ) as handle:
            staging = Path(handle.name)
            handle.write(text)
        staging.chmod(0o666 & ~_umask())  # as open() would create it, not mkstemp's 0600
        os.replace(staging, path)
        staging = None
    finally:
        if staging is not None:
            staging.unlink(missing_ok=True)


@contextlib.contextmanager
def folder_lock(folder: Path, what: str) -> Iterator[None]:
    """Hold an exclusive lock on ``folder`` (flock on the folder itself: no lock file is left);
    a second holder is refused at once with InputError naming ``what`` holds it."""
    import fcntl

    handle = os.open(folder, os.O_RDONLY)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InputError(
                f"{what} is already writing {folder}: wait for it to finish, or choose another folder"
            ) from None
        yield
    finally:
        os.close(handle)  # closing releases the lock
