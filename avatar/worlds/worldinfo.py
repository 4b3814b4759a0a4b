"""SillyTavern's World Info JSON: the standalone lorebook file it exports, read and written back.

The file is `{"entries": {"<uid>": {...}, ...}}` (SillyTavern names the world after the file); each entry
has `key` and `keysecondary` (trigger words), `content`, `comment` (its title), `constant` (always in the
prompt), `disable`, `order`, `position`, `selective` (use the secondary keys) and more. A Character Card's
`character_book` (entries as a list, with `keys`, `secondary_keys`, `enabled`) is read too.

A world keeps the file as it came (`worlds.book`), so export gives back every entry and field unchanged;
only "name" and "description" are set from the world (SillyTavern ignores keys it does not know).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from avatar.personas.card_format import LoreEntry
from avatar.worlds.exceptions import InvalidWorld
from avatar.worlds.schemas import DESCRIPTION_MAX_CHARS, NAME_MAX_CHARS

MAX_FILE_BYTES = 10 * 1024 * 1024  # the biggest lorebooks people share are a few MB


@dataclass
class ParsedWorld:
    name: str
    description: str
    book: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


def read_world_info(data: bytes, filename: str | None = None) -> ParsedWorld:
    """A World Info file's world. InvalidWorld, saying why, when it is not one."""
    label = filename or "The file"
    if len(data) > MAX_FILE_BYTES:
        raise InvalidWorld(f"{label} is too big for a lorebook ({len(data) // 1_000_000} MB; at most 10 MB).")
    try:
        book = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise InvalidWorld(f"{label} is not a World Info file: it is not text (UTF-8 JSON).") from None
    except json.JSONDecodeError as error:
        raise InvalidWorld(
            f"{label} is not a World Info file: it is not valid JSON ({error.msg}, line {error.lineno})."
        ) from None
    if not isinstance(book, dict) or "entries" not in book:
        raise InvalidWorld(
            f'{label} is not a World Info file: it has no "entries" (SillyTavern exports them keyed by uid).'
        )
    entries = book["entries"]
    raw = list(entries.values()) if isinstance(entries, dict) else entries
    if not isinstance(raw, list) or not all(isinstance(entry, dict) for entry in raw):
        raise InvalidWorld(f'{label} is not a World Info file: its "entries" are not a set of entries.')
    warnings = [
        f"entry {entry.get('uid', index)!r} has no text and is left out"
        for index, entry in enumerate(raw)
        if not _text(entry.get("content"))
    ]
    stem = PurePath(filename).stem if filename else ""
    name = _text(book.get("name")) or stem or "Imported world"
    description = _text(book.get("description"))
    return ParsedWorld(name[:NAME_MAX_CHARS], description[:DESCRIPTION_MAX_CHARS], book, warnings)


def lore_entries(book: dict[str, Any]) -> list[LoreEntry]:
    """The entries in use (not disabled, with text), in SillyTavern's insertion order."""
    entries = book.get("entries") or {}
    raw = list(entries.values()) if isinstance(entries, dict) else list(entries)
    found: list[LoreEntry] = []
    for entry in raw:
        if not isinstance(entry, dict):
            continue
        content = _text(entry.get("content"))
        if not content or entry.get("disable") is True or entry.get("enabled") is False:
            continue
        selective = entry.get("selective", True) is not False
        order = entry.get("order", entry.get("insertion_order", 100))
        found.append(
            LoreEntry(
                content=content,
                keys=_keys(entry.get("key", entry.get("keys"))),
                secondary_keys=_keys(entry.get("keysecondary", entry.get("secondary_keys"))) if selective else [],
                name=_text(entry.get("comment") or entry.get("name")),
                constant=entry.get("constant") is True,
                insertion_order=order if isinstance(order, (int, float)) else 100,
            )
        )
    return sorted(found, key=lambda e: e.insertion_order)


def world_info_json(name: str, description: str, book: dict[str, Any]) -> dict[str, Any]:
    """The file to export: the book as imported (every entry and field), with the world's name and description."""
    return {**book, "name": name, "description": description}


def entry_count(book: dict[str, Any]) -> int:
    return len(lore_entries(book))


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _keys(value: object) -> list[str]:
    """Trigger words: a list (SillyTavern) or one comma-separated string (some older files)."""
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list):
        return []
    return [key.strip() for key in value if isinstance(key, str) and key.strip()]
