"""Worlds from SillyTavern World Info files: import (CLI and service), round trip, and the lore memories
they become, recalled only in scenes set in that world."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from avatar.core.db import open_database
from avatar.core.settings import PROJECT_ROOT
from avatar.memory.schemas import MemoryKind, MemoryScope
from avatar.worlds.exceptions import InvalidWorld
from avatar.worlds.service import WorldService
from tests.worlds.worldkit import CONSTANT_TEXT, ENGINE_TEXT, GARDENS_TEXT, meridian_world_info


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "app.py"), *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        check=False,
        text=True,
        timeout=60,
    )


def test_import_world_and_export_world_round_trip_every_entry_and_field(tmp_path):
    data = tmp_path / "data"
    source = tmp_path / "Meridian.json"
    original = meridian_world_info()
    source.write_text(json.dumps(original))
    done = run("import-world", str(source), "--data-dir", str(data))
    assert done.returncode == 0, done.stderr
    world_id = done.stdout.strip()
    world = WorldService(open_database(data / "avatar.db")).get(world_id)
    assert (world.name, world.entries) == ("Meridian", 3)  # named after the file; the disabled entry is not in use

    out = tmp_path / "exported.json"
    done = run("export-world", world_id, str(out), "--data-dir", str(data))
    assert (done.returncode, done.stdout.strip()) == (0, str(out))
    exported = json.loads(out.read_text())
    assert exported["entries"] == original["entries"]  # every entry, every field, as SillyTavern wrote it
    assert exported["name"] == "Meridian"

    again = run("import-world", str(out), "--data-dir", str(data))
    assert again.returncode == 0
    second = WorldService(open_database(data / "avatar.db")).get(again.stdout.strip())
    assert (second.name, second.entries) == ("Meridian (2)", 3)


def test_a_file_that_is_not_world_info_is_refused_and_nothing_is_imported(tmp_path):
    data = tmp_path / "data"
    bad = tmp_path / "card.json"
    bad.write_text(json.dumps({"spec": "chara_card_v2", "data": {"name": "Seraphina"}}))
    done = run("import-world", str(bad), "--data-dir", str(data))
    assert done.returncode == 2 and done.stdout == ""
    assert 'has no "entries"' in done.stderr
    assert WorldService(open_database(data / "avatar.db")).list() == []
    done = run("export-world", "nope", str(tmp_path / "x.json"), "--data-dir", str(data))
    assert done.returncode == 2 and "There is no world 'nope'" in done.stderr


def test_the_service_says_why_a_file_is_refused(tmp_path):
    worlds = WorldService(open_database(tmp_path / "avatar.db"))
    for data, why in (
        (b"\x89PNG\r\n", "not text"),
        (b"[1, 2]", 'no "entries"'),
        (b'{"entries": {"0": {"content": "x"}', "not valid JSON"),
        (b'{"entries": [1]}', "not a set of entries"),
    ):
        with pytest.raises(InvalidWorld, match=why):
            worlds.import_world(data, "x.json")
    assert worlds.list() == []


@pytest.mark.slow
def test_entries_become_lore_of_the_world_recalled_only_in_that_world(ctx):
    world, warnings = ctx.worlds.import_world(json.dumps(meridian_world_info()).encode(), "Meridian.json")
    assert warnings == []
    ctx.memory.wait_for_writes(60)
    lore = {m.text: m for m in ctx.memory.list(world_id=world.id, kind=MemoryKind.lore)}
    assert set(lore) == {CONSTANT_TEXT, ENGINE_TEXT, GARDENS_TEXT}  # the disabled entry is left out
    assert {m.scope for m in lore.values()} == {MemoryScope.world}
    assert [t for t, m in lore.items() if m.pinned] == [CONSTANT_TEXT]  # constant: always recalled

    def recalled(query: str, world_id: str | None) -> list[str]:
        found = ctx.memory.recall(query, "captain-vega", wait_for_model=True, world_id=world_id)
        return [r.memory.text for r in found]

    in_world = recalled("How hot does the torch get?", world.id)
    assert in_world[0] == CONSTANT_TEXT and ENGINE_TEXT in in_world  # pinned first, then by its key word
    assert GARDENS_TEXT in recalled("Can I pick some basil?", world.id)  # by a secondary key
    assert all(t not in recalled("How hot does the torch get?", None) for t in lore)  # outside the world: no lore

    ctx.worlds.delete(world.id)
    ctx.memory.wait_for_writes(60)
    assert ctx.memory.list(world_id=world.id) == []
