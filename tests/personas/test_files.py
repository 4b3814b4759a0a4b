"""Atomic writes survive a failure mid-write; persona ids are safe file names and unique."""

from __future__ import annotations

import errno
import os
import re
import sys

import pytest

from avatar.core import files
from avatar.core.files import atomic_write_bytes, atomic_write_text
from avatar.personas.files import safe_persona_id
from avatar.personas.schemas import PERSONA_ID_PATTERN


def leftovers(directory) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith(".") or p.name.endswith(".tmp"))


def test_atomic_write_creates_and_replaces(tmp_path):
    path = tmp_path / "a.yaml"
    atomic_write_text(path, "name: One\n")
    assert path.read_text() == "name: One\n"
    atomic_write_bytes(path, b"name: Two\n")
    assert path.read_bytes() == b"name: Two\n"
    assert leftovers(tmp_path) == []


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_replacing_keeps_the_files_permissions(tmp_path):
    path = tmp_path / "a.yaml"
    path.write_text("old")
    os.chmod(path, 0o640)
    atomic_write_text(path, "new")
    assert os.stat(path).st_mode & 0o777 == 0o640


def _fail_fsync(monkeypatch):
    def fsync(fd):
        raise OSError(errno.EIO, "simulated I/O error")

    monkeypatch.setattr(files.os, "fsync", fsync)


def _fail_half_way(monkeypatch):
    real_fdopen = os.fdopen

    class HalfWriter:
        def __init__(self, handle):
            self.handle = handle

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.handle.close()

        def write(self, data):
            self.handle.write(data[: len(data) // 2])
            self.handle.flush()
            raise OSError(errno.ENOSPC, "simulated disk full")

    monkeypatch.setattr(files.os, "fdopen", lambda fd, mode: HalfWriter(real_fdopen(fd, mode)))


def _fail_rename(monkeypatch):
    def replace(src, dst):
        raise OSError(errno.EXDEV, "simulated rename failure")

    monkeypatch.setattr(files.os, "replace", replace)


@pytest.mark.parametrize("failure", [_fail_half_way, _fail_fsync, _fail_rename], ids=["write", "fsync", "rename"])
def test_failure_mid_write_keeps_the_original_and_leaves_no_temp_file(tmp_path, monkeypatch, failure):
    path = tmp_path / "aria.yaml"
    path.write_text("name: Original\n")
    failure(monkeypatch)
    with pytest.raises(OSError, match="simulated"):
        atomic_write_text(path, "name: Replacement\n" * 1000)
    monkeypatch.undo()
    assert path.read_text() == "name: Original\n"
    assert leftovers(tmp_path) == []
    assert [p.name for p in tmp_path.iterdir()] == ["aria.yaml"]


def test_failure_creating_a_new_file_leaves_nothing(tmp_path, monkeypatch):
    _fail_fsync(monkeypatch)
    with pytest.raises(OSError):
        atomic_write_bytes(tmp_path / "new.png", b"x" * 10_000)
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []


def test_exclusive_create_never_overwrites(tmp_path):
    path = tmp_path / "aria.yaml"
    atomic_write_text(path, "first", replace=False)
    with pytest.raises(FileExistsError):
        atomic_write_text(path, "second", replace=False)
    assert path.read_text() == "first"
    assert leftovers(tmp_path) == []


def test_exclusive_create_without_hard_links(tmp_path, monkeypatch):
    def no_links(src, dst):
        raise OSError(errno.EPERM, "no hard links here")

    monkeypatch.setattr(files.os, "link", no_links)
    path = tmp_path / "aria.yaml"
    atomic_write_text(path, "first", replace=False)
    with pytest.raises(FileExistsError):
        atomic_write_text(path, "second", replace=False)
    assert path.read_text() == "first"
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Aria", "aria"),
        ("Captain Vega", "captain-vega"),
        ("../../etc/passwd", "etc-passwd"),
        ("..\\..\\Windows\\System32", "windows-system32"),
        ("/", "persona"),
        ("", "persona"),
        ("さくら", "persona"),
        ("Zoë  Brontë!", "zoe-bronte"),
        ("CON", "con-persona"),
        ("nul", "nul-persona"),
        ("--Dash--", "dash"),
        ("a\x00b/c", "a-b-c"),
    ],
)
def test_safe_persona_id(name, expected):
    assert safe_persona_id(name) == expected
    assert re.match(PERSONA_ID_PATTERN, expected)


def test_safe_persona_id_is_unique_and_short():
    assert safe_persona_id("Aria", {"aria"}) == "aria-2"
    assert safe_persona_id("Aria", {"aria", "aria-2"}) == "aria-3"
    assert safe_persona_id("Aria", {"ARIA"}) == "aria-2"
    long_name = "x" * 500
    first = safe_persona_id(long_name)
    taken = {first, *(f"{first}-{n}" for n in range(2, 12))}
    nth = safe_persona_id(long_name, taken)
    assert nth.endswith("-12") and len(nth) <= 64
    for candidate in (first, nth):
        assert re.match(PERSONA_ID_PATTERN, candidate)
