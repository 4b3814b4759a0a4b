"""Atomic file writes: readers see the old file or the new one, never a part (and no temp file is left)."""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from pathlib import Path


def atomic_write_bytes(path: Path, data: bytes, *, replace: bool = True) -> None:
    """Write `data` to `path` so that readers see the old file or the new one, never a part.

    The bytes go to a temporary file in the same directory (so the rename cannot cross file
    systems), are fsynced, and then renamed over `path`. With replace=False an existing `path` is
    never overwritten: FileExistsError instead. On any failure the temporary file is removed.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    # os.open with 0o666 lets the umask decide permissions, exactly as a plain open() would.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if replace:
            with contextlib.suppress(FileNotFoundError):
                os.chmod(tmp, os.stat(path).st_mode & 0o7777)  # an edited file keeps its permissions
            os.replace(tmp, path)
        else:
            _link_exclusive(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_directory(path.parent)


def atomic_write_text(path: Path, text: str, *, replace: bool = True) -> None:
    """atomic_write_bytes for UTF-8 text (newlines written as given, never translated)."""
    atomic_write_bytes(path, text.encode("utf-8"), replace=replace)


def _link_exclusive(tmp: Path, path: Path) -> None:
    """Move `tmp` to `path` only if `path` does not exist: a hard link fails atomically if it does."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise
    except OSError as error:
        # File systems without hard links (FAT, some network mounts): check, then rename. Not atomic
        # against another writer, but callers hold a lock for that; it still never half-writes.
        if error.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EACCES):
            raise
        if path.exists():
            raise FileExistsError(errno.EEXIST, "file exists", str(path)) from None
        os.replace(tmp, path)
        return
    os.unlink(tmp)


def _fsync_directory(directory: Path) -> None:
    # The rename is only durable once the directory entry is on disk; Windows cannot open a dir.
    if not hasattr(os, "O_DIRECTORY"):
        return
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
