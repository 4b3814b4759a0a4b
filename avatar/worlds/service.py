"""Worlds: create, edit, delete, and import / export their lorebooks as SillyTavern World Info files.

A world's lorebook entries become lore memories of the world (avatar/memory/lore.py): `lore_listeners`
are told whenever a world's book may have changed (imported, deleted), and the app has the memory
feature follow it, as it does for a character card's lorebook.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from avatar.core.files import atomic_write_bytes
from avatar.core.ids import utcnow
from avatar.personas.card_format import LoreEntry
from avatar.worlds import repository
from avatar.worlds.exceptions import InvalidWorld, WorldNotFound
from avatar.worlds.models import World
from avatar.worlds.schemas import DESCRIPTION_MAX_CHARS, NAME_MAX_CHARS, WorldOut
from avatar.worlds.worldinfo import entry_count, lore_entries, read_world_info, world_info_json


def _out(world: World) -> WorldOut:
    return WorldOut(
        id=world.id,
        name=world.name,
        description=world.description,
        entries=entry_count(_book(world)),
        created_at=world.created_at,
        updated_at=world.updated_at,
    )


def _book(world: World) -> dict[str, Any]:
    try:
        book = json.loads(world.book)
    except json.JSONDecodeError:
        return {"entries": {}}
    return book if isinstance(book, dict) else {"entries": {}}


def clean_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise InvalidWorld("A world needs a name: type one first.")
    if len(name) > NAME_MAX_CHARS:
        raise InvalidWorld(f"That name is too long: keep it under {NAME_MAX_CHARS} characters.")
    return name


def clean_description(description: str) -> str:
    description = (description or "").strip()
    if len(description) > DESCRIPTION_MAX_CHARS:
        raise InvalidWorld(f"That description is too long: keep it under {DESCRIPTION_MAX_CHARS} characters.")
    return description


class WorldService:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # Called with a world id whose lorebook may have changed (imported, deleted): see the module docstring.
        self.lore_listeners: list[Callable[[str], object]] = []

    def list(self) -> list[WorldOut]:
        with Session(self.engine) as session:
            return [_out(w) for w in repository.list_worlds(session)]

    def get(self, world_id: str) -> WorldOut:
        with Session(self.engine) as session:
            return _out(self._require(session, world_id))

    def find(self, world_id: str | None) -> WorldOut | None:
        """The world, or None when there is none (no id, or deleted)."""
        if not world_id:
            return None
        with Session(self.engine) as session:
            world = repository.get_world(session, world_id)
            return _out(world) if world is not None else None

    def create(self, name: str, description: str = "") -> WorldOut:
        return self._add(self._free_name(clean_name(name)), clean_description(description), {"entries": {}})

    def update(self, world_id: str, name: str, description: str) -> WorldOut:
        name, description = clean_name(name), clean_description(description)
        with Session(self.engine) as session:
            world = self._require(session, world_id)
            world.name, world.description, world.updated_at = name, description, utcnow()
            session.add(world)
            session.commit()
            session.refresh(world)
            return _out(world)

    def delete(self, world_id: str) -> None:
        """Delete the world; its lore memories go with it (its scenes stay, without a world)."""
        with Session(self.engine) as session:
            session.delete(self._require(session, world_id))
            session.commit()
        self._lore_changed(world_id)

    def import_world(self, source: Path | bytes, filename: str | None = None) -> tuple[WorldOut, list[str]]:
        """A World Info file (a path, or its bytes) as a new world; (world, warnings). One commit: an
        import is all there or not at all."""
        if isinstance(source, (bytes, bytearray)):
            data = bytes(source)
        else:
            try:
                data = Path(source).read_bytes()
            except OSError as error:
                raise InvalidWorld(f"Cannot read {source}: {error.strerror or error}.") from None
            filename = filename or Path(source).name
        parsed = read_world_info(data, filename)
        world = self._add(self._free_name(parsed.name), parsed.description, parsed.book)
        return world, parsed.warnings

    def export_json(self, world_id: str) -> dict[str, Any]:
        with Session(self.engine) as session:
            world = self._require(session, world_id)
            return world_info_json(world.name, world.description, _book(world))

    def export_world(self, world_id: str, out_path: Path) -> Path:
        """Write the world as a World Info file (atomically)."""
        body = json.dumps(self.export_json(world_id), ensure_ascii=False, indent=2)
        out_path = Path(out_path)
        atomic_write_bytes(out_path, body.encode("utf-8"))
        return out_path

    def lore(self, world_id: str) -> list[LoreEntry]:
        """The world's lorebook entries in use; none for a world that is gone."""
        with Session(self.engine) as session:
            world = repository.get_world(session, world_id)
            return lore_entries(_book(world)) if world is not None else []

    # -- internals ------------------------------------------------------------------------------
    def _add(self, name: str, description: str, book: dict[str, Any]) -> WorldOut:
        with Session(self.engine) as session:
            world = World(name=name, description=description, book=json.dumps(book, ensure_ascii=False))
            session.add(world)
            session.commit()
            session.refresh(world)
            out = _out(world)
        self._lore_changed(out.id)
        return out

    def _free_name(self, name: str) -> str:
        """`name`, or "name (2)", "name (3)"... when a world is already called that."""
        taken = {w.name for w in self.list()}
        candidate, number = name, 2
        while candidate in taken:
            suffix = f" ({number})"
            candidate, number = name[: NAME_MAX_CHARS - len(suffix)] + suffix, number + 1
        return candidate

    def _lore_changed(self, world_id: str) -> None:
        for listener in self.lore_listeners:
            listener(world_id)

    @staticmethod
    def _require(session: Session, world_id: str) -> World:
        world = repository.get_world(session, world_id) if world_id else None
        if world is None:
            raise WorldNotFound(world_id)
        return world
