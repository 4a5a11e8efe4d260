"""Files only their owner can read: kids' data (database, recordings, frames, logs) and secrets.

Promises (tests/server/core/test_private_files.py checks each with real files and ``os.stat``):

- every folder this module creates is 0700, every file 0600 (less if the umask takes more away);
- a file is created with its final mode by ``os.open(..., mode)``: it is never world-readable, not even
  for the moment between writing it and a later ``chmod`` (there is no later chmod);
- a folder that already exists and that we own, if it lets others in (made by an older version or by
  hand), is closed to 0700 when a data folder is opened; nothing inside it is then reachable by others.

It sits in the lowest layer so the car runtime, the curriculum (recordings) and the server share it.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path
from typing import IO, Any

DIR_MODE = 0o700  # owner only: kids' data and secrets live below
FILE_MODE = 0o600


def private_dir(path: str | os.PathLike[str]) -> Path:
    """Make ``path`` (and each missing parent) as 0700 folders; close an existing one we own to 0700."""
    path = Path(path)
    missing: list[Path] = []
    p = path
    while not p.exists():
        missing.append(p)
        if p.parent == p:
            break
        p = p.parent
    for folder in reversed(missing):
        try:
            os.mkdir(folder, DIR_MODE)
        except FileExistsError:  # made by someone else meanwhile: checked below like any existing folder
            pass
    _close_if_open(path)
    return path


def _close_if_open(path: Path) -> None:
    st = os.stat(path)
    if not stat.S_ISDIR(st.st_mode):
        raise NotADirectoryError(f"{path} must be a folder for the classroom's data (it is a file)")
    if st.st_uid == os.getuid() and st.st_mode & 0o077:
        os.chmod(path, DIR_MODE)  # an old folder: its files become unreachable for others at once


def _opener(path: str, flags: int) -> int:
    return os.open(path, flags, FILE_MODE)


def open_private(path: str | os.PathLike[str], mode: str = "a", **kwargs: Any) -> IO[Any]:
    """``open()`` whose new file is created 0600 (an existing file keeps its mode)."""
    private_dir(Path(path).parent)
    return open(path, mode, opener=_opener, **kwargs)


def create_private(path: str | os.PathLike[str]) -> Path:
    """Create an empty 0600 file if there is none (e.g. before SQLite opens it: its -wal and -shm
    files copy the database file's mode)."""
    path = Path(path)
    private_dir(path.parent)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE))
    return path


def write_private(path: str | os.PathLike[str], data: bytes | str) -> Path:
    """Write a whole file atomically (a temporary 0600 file, fsync, rename): readers see old or new."""
    path = Path(path)
    private_dir(path.parent)
    tmp = path.with_name(path.name + ".tmp")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)  # a crash's leftover keeps its old mode under O_TRUNC: start afresh
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(fd, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path
