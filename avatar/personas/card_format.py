"""What a character card is here: its limits and keys, the error, and what an imported card becomes
(ParsedCard: a persona, the CardExtras kept beside it, its lorebook entries, its picture)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from avatar.core.errors import InvalidInputError
from avatar.personas.schemas import PersonaFile

MAX_CARD_BYTES = 20 * 1024 * 1024
# A field longer than this is about 12k tokens: more than the whole context of a small local model.
MAX_TEXT_CHARS = 50_000
MAX_NAME_CHARS = 80  # PersonaFile.name's limit
MAX_LIST_ITEMS = 200
MAX_TAG_CHARS = 100
MAX_LORE_ENTRIES = 5_000
MAX_IMAGE_PIXELS = 40_000_000  # a portrait, not a decompression bomb
LONG_PERSONA_CHARS = 16_000  # about 4k tokens: warn that little context is left for the chat

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
EXTENSION_KEY = "local_avatar"  # our namespace inside data.extensions, as the V2 spec asks
NOTE_EXTENSION_KEY = "depth_prompt"  # SillyTavern's Character's Note: {"prompt", "depth", "role"}
TALKATIVENESS_KEY = "talkativeness"  # SillyTavern's: how readily the character speaks in a group (0..1, as text)
EXTRAS_SUFFIX = "card.json"  # <id>.card.json beside <id>.yaml

CARD_KEYWORDS = ("ccv3", "chara")  # in order of preference
ASSET_KEYWORD_PREFIX = "chara-ext-asset_"
OUR_FIELDS = ("tagline", "style", "boundaries", "voice", "memory_policy", "mood_baseline")


class CardError(InvalidInputError):
    """A file that cannot be imported as a character card; the message says why, in one line."""


class LoreEntry(BaseModel):
    """A character_book entry, as the memory feature should store it: a pinned memory of the persona."""

    content: str  # decorators (@@lines) removed, as the V3 spec asks before the text is used
    keys: list[str] = Field(default_factory=list)
    # A selective entry's second set of trigger words (a World Info entry's `keysecondary`).
    secondary_keys: list[str] = Field(default_factory=list)
    name: str = ""  # the entry's name or comment: a title to show in the Memory tab
    constant: bool = False  # the card wants it in every prompt, not only when a key comes up
    insertion_order: float = 0


class CardExtras(BaseModel):
    """What a card carries that a persona file cannot hold; kept beside the persona for export and memory."""

    model_config = ConfigDict(extra="forbid")

    spec: str = "chara_card_v2"  # the spec the card came in
    # Sidecars written before the persona had its own creator_notes field keep them here; new imports
    # put them in the persona. Read for export and shown in the editor when the persona has none.
    creator_notes: str = ""
    creator: str = ""
    character_version: str = ""
    extensions: dict[str, Any] = Field(default_factory=dict)  # the card's, minus ours; given back on export
    character_book: dict[str, Any] | None = None  # as the card had it, so that export loses nothing
    v3: dict[str, Any] = Field(default_factory=dict)  # nickname, source, group_only_greetings, dates

    def is_empty(self) -> bool:
        return not self.model_dump(exclude_defaults=True, exclude={"spec"})

    def lore(self) -> list[LoreEntry]:
        """The enabled, non-empty lorebook entries (the spec: a disabled entry is never used)."""
        entries = []
        for raw in (self.character_book or {}).get("entries", []):
            content = _strip_decorators(raw.get("content")) if isinstance(raw, dict) else ""
            if not content or raw.get("enabled", True) is False:
                continue
            order = raw.get("insertion_order", 0)
            entries.append(
                LoreEntry(
                    content=content,
                    keys=[key for key in raw.get("keys", []) if isinstance(key, str) and key.strip()],
                    name=str(raw.get("name") or raw.get("comment") or ""),
                    constant=raw.get("constant") is True,
                    insertion_order=order if isinstance(order, (int, float)) else 0,
                )
            )
        return entries


def _strip_decorators(content: object) -> str:
    """Lorebook text without its leading @@decorator lines (V3: trimmed before the text is used)."""
    if not isinstance(content, str):
        return ""
    lines = content.split("\n")
    while lines and lines[0].startswith("@@"):
        lines.pop(0)
    return "\n".join(lines).strip()


@dataclass
class ParsedCard:
    """A card read from a file: the persona it becomes, what else it carried, and its picture."""

    persona: PersonaFile
    extras: CardExtras
    image: bytes | None  # PNG bytes without the card chunks, or None for a JSON card
    warnings: list[str] = field(default_factory=list)
    sprites: dict[str, bytes] = field(default_factory=dict)  # expression label -> picture (V3 emotion assets)

    @property
    def lore(self) -> list[LoreEntry]:
        return self.extras.lore()


def load_json(raw: bytes, what: str) -> dict[str, Any]:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CardError(f"{what} is not UTF-8 text.") from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise CardError(f"{what} is not valid JSON (line {error.lineno}, column {error.colno}).") from None
    except (ValueError, RecursionError):
        raise CardError(f"{what} is not usable JSON (nested too deeply or a number too long).") from None
    if not isinstance(value, dict):
        raise CardError(f"{what} is a JSON {json_kind(value)}, not an object with the card's fields.")
    return value


def json_kind(value: Any) -> str:
    kinds = {list: "array", str: "string", bool: "boolean", int: "number", float: "number", type(None): "null"}
    return kinds.get(type(value), type(value).__name__)
