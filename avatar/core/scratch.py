"""This run's scratch folder: every temporary file the app makes lives in `<data-dir>/tmp/run-*`.

Exports offered for download hold every conversation, and Gradio keeps a copy of every file it
serves or receives (card uploads, pictures, downloads) in its cache, which by default is a folder in
the system temp directory that nothing ever empties. So Gradio's cache and our own temporary files
go into one folder per run inside the data directory: it is removed when the app stops (Ctrl+C or
SIGTERM), folders left by a run that was killed are removed at the next start, and "Erase
everything" empties it. Each run holds a lock on a file in its folder, so a second app on the same
data directory never sweeps away the folder of one that is still running.
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import IO

log = logging.getLogger(__name__)

LOCK_NAME = ".running"

_run_dir: Path | None = None


def scratch_root(data_dir: Path) -> Path:
    return Path(data_dir) / "tmp"


def use_data_dir(data_dir: Path) -> Path:
    """Make a new run folder under `<data-dir>/tmp` this process's scratch folder and Gradio's cache.

    Call before Gradio is imported: it reads GRADIO_TEMP_DIR on import (one empty folder) and when
    its Blocks are made (everything else). Calling again with the same data directory is a no-op.
    """
    global _run_dir
    root = scratch_root(data_dir)
    if _run_dir is not None and _run_dir.is_dir() and _run_dir.parent.resolve() == root.resolve():
        return _run_dir  # app.py made it before importing Gradio; build_app asks again
    root.mkdir(parents=True, exist_ok=True)
    sweep_ended_runs(root)
    run_dir = Path(tempfile.mkdtemp(prefix="run-", dir=root))  # mode 0700
    handle = open(run_dir / LOCK_NAME, "wb")  # noqa: SIM115 (held open, so locked, until the run ends)
    _try_lock(handle)
    # A second call in one process (tests build several apps) leaves the earlier run to atexit: its
    # app may still be serving files from it.
    _run_dir = run_dir
    os.environ["GRADIO_TEMP_DIR"] = str(run_dir / "gradio")
    atexit.register(_remove_run, run_dir, handle)
    return run_dir


def hold_libraries_temp_files() -> None:
    """The app's process: the libraries' own temporary files (onnxruntime's session file, torch's kernel cache)
    go to this run's folder too, so nothing of a run is left in the system's temp folder. (Not for tests that
    build apps in their own process: their temp folder would move with each app.)"""
    if _run_dir is None:
        return
    libraries = _run_dir / "system"
    libraries.mkdir(mode=0o700, exist_ok=True)
    # Python's own temp folder stays the system's (read once, here, before TMPDIR moves): with it moved too, the
    # browser tests' character gallery stayed empty (Gradio relies on it). Native code (onnxruntime) reads TMPDIR;
    # torch is told its own folder.
    tempfile.gettempdir()
    os.environ["TMPDIR"] = str(libraries)
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(libraries / "torchinductor")


def folder(name: str) -> Path:
    """A private sub-folder of this run's scratch folder (made if missing)."""
    global _run_dir
    if _run_dir is None or not _run_dir.is_dir():
        # Used without an app (tests, scripts): a private folder in the system temp dir, removed at exit.
        _run_dir = Path(tempfile.mkdtemp(prefix="local-avatar-"))
        atexit.register(shutil.rmtree, _run_dir, True)
    path = _run_dir / name
    path.mkdir(mode=0o700, exist_ok=True)
    return path


def empty_current_run() -> None:
    """Remove every file of this run (downloads, Gradio's cached copies); the folder itself stays."""
    if _run_dir is None or not _run_dir.is_dir():
        return
    for entry in _run_dir.iterdir():
        if entry.name == LOCK_NAME:
            continue
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


def sweep_ended_runs(root: Path) -> int:
    """Remove the run folders under `root` whose app is no longer running; returns how many."""
    removed = 0
    for run_dir in root.glob("run-*"):
        if not run_dir.is_dir() or run_dir == _run_dir:
            continue
        lock_path = run_dir / LOCK_NAME
        try:
            with open(lock_path, "ab") as handle:
                if not _try_lock(handle, wait=False):
                    continue  # another app on this data directory is using it
                shutil.rmtree(run_dir, ignore_errors=True)
        except FileNotFoundError:
            shutil.rmtree(run_dir, ignore_errors=True)  # no lock file: a run that died while starting
        except OSError as error:
            log.warning("could not clean up %s: %s", run_dir, error)
            continue
        removed += 1
    return removed


def _try_lock(handle: IO[bytes], *, wait: bool = True) -> bool:
    """An exclusive lock on the open file, released by the OS when the process ends however it ends."""
    if sys.platform == "win32":
        import msvcrt

        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except BlockingIOError:
        return False
    return True


def _remove_run(run_dir: Path, handle: IO[bytes]) -> None:
    handle.close()
    shutil.rmtree(run_dir, ignore_errors=True)
