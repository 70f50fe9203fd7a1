"""Durable writes: fsync a file or a folder, write a new file whole, and measure free space.

Examples
--------
>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp()); f = d / "x"; _ = f.write_text("1")
>>> fsync_file(f); fsync_dir(d)
"""

from __future__ import annotations

import errno
import fcntl
import io
import os
import shutil
from pathlib import Path

from stimuli.errors import MRDError


def fsync_file(path: str | os.PathLike[str]) -> None:
    """Flush a file's data to the disk."""
    fd = os.open(Path(path), os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """Flush a folder's entries (a new or renamed file in it) to the disk."""
    fd = os.open(Path(path), os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_os_write = os.write
"""The write call :func:`write_new_file` uses (tests replace it to inject a full disk)."""


def write_new_file(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to a new file and flush it to the disk; on any failure remove the partial file.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "b"
    >>> write_new_file(p, b"abc"); p.read_bytes()
    b'abc'
    """
    p = Path(path)
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        view = memoryview(data)
        while view:
            n = _os_write(fd, view)
            view = view[n:]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        p.unlink(missing_ok=True)
        raise
    os.close(fd)


def free_bytes(path: str | os.PathLike[str]) -> int:
    """Bytes free for this user on the filesystem holding ``path`` (a folder).

    Examples
    --------
    >>> free_bytes(".") > 0
    True
    """
    return shutil.disk_usage(Path(path)).free


def mib(n: int) -> str:
    """Bytes as MiB text.

    Examples
    --------
    >>> mib(3 << 20)
    '3.0 MiB'
    """
    return f"{n / 2**20:.1f} MiB"


def space_error(exc: OSError, path: Path, doing: str) -> MRDError:
    """An :class:`MRDError` for an OS error while writing ``path``, saying plainly when the disk is full.

    Examples
    --------
    >>> print(space_error(OSError(errno.ENOSPC, "No space left on device"), Path("/d/set.h5"), "merging"))
    /d: no space left on the device while merging for set.h5. The partial file was removed; set.h5 is the last complete store (finished units wait in set.h5.journal/). Free some space and re-run the same command to carry on
    """
    text = str(exc)
    full = exc.errno in (errno.ENOSPC, errno.EDQUOT) or "No space left" in text or "errno = 28" in text
    if not full:
        return MRDError(f"{path}: {doing} failed ({exc}); {path.name} is the last complete store")
    return MRDError(
        f"{path.parent}: no space left on the device while {doing} for {path.name}. The partial file was "
        f"removed; {path.name} is the last complete store (finished units wait in {path.name}.journal/). "
        "Free some space and re-run the same command to carry on"
    )


def take_lock(lock_path: Path, busy: str) -> io.TextIOWrapper:
    """Hold an exclusive lock on ``lock_path`` (created if needed); :class:`MRDError` ``busy`` if taken.

    A holder that finishes removes the file (:func:`release_lock`); a lock taken on a file that was
    removed meanwhile is dropped and taken again on the new file, so two holders never coexist.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.lock"
    >>> fh = take_lock(p, "busy"); release_lock(fh, p); p.exists()
    False
    """
    for _ in range(20):
        fh = open(lock_path, "a")  # noqa: SIM115
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            raise MRDError(busy) from None
        try:  # the previous holder may have removed the file between our open and our lock
            same = os.stat(lock_path).st_ino == os.fstat(fh.fileno()).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fh
        fh.close()
    raise MRDError(f"{lock_path}: could not take the lock (the file keeps being replaced)")


def release_lock(fh: io.TextIOWrapper, lock_path: Path) -> None:
    """Remove the lock file (if it is still ours) and release the lock."""
    if fh.closed:
        return
    try:
        if os.stat(lock_path).st_ino == os.fstat(fh.fileno()).st_ino:
            lock_path.unlink()
    except FileNotFoundError:
        pass
    fcntl.flock(fh, fcntl.LOCK_UN)
    fh.close()
