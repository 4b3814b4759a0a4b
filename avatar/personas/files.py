"""Safe file writes for persona files: atomic replace, exclusive create, and ids that are safe file names."""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import unicodedata
from collections.abc import Iterable
from pathlib import Path

from avatar.personas.schemas import PERSONA_ID_PATTERN

_ID_RE = re.compile(PERSONA_ID_PATTERN)
_MAX_ID_LENGTH = 64
# Leaves room for a "-NNN" suffix without going past the 64 characters the id pattern allows.
_MAX_BASE_LENGTH = 56
# Names Windows will not accept as a file stem, so that data dirs stay portable.
_RESERVED_STEMS = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}
_FALLBACK_ID = "persona"


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


def slugify(name: str) -> str:
    """Lowercase ASCII letters, digits and single hyphens; '' if nothing of that is left."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    return slug[:_MAX_BASE_LENGTH].rstrip("-")


def safe_persona_id(name: str, existing_ids: Iterable[str] = ()) -> str:
    """An id for a persona called `name`: a safe file stem matching PERSONA_ID_PATTERN, not in `existing_ids`.

    Path characters cannot survive ("../../etc/passwd" becomes "etc-passwd"); a name with no
    ASCII letters or digits becomes "persona"; a clash gets "-2", "-3", ... appended.
    """
    taken = {existing.lower() for existing in existing_ids}
    base = slugify(name) or _FALLBACK_ID
    if base in _RESERVED_STEMS:
        base = f"{base}-{_FALLBACK_ID}"
    candidate, number = base, 1
    while candidate in taken:
        number += 1
        suffix = f"-{number}"
        candidate = base[: _MAX_ID_LENGTH - len(suffix)].rstrip("-") + suffix
    assert _ID_RE.match(candidate), candidate
    return candidate
