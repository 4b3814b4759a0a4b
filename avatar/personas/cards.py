"""Character cards in and out: V1/V2/V3 cards as JSON or PNG become personas, and personas become cards.

Specs: Character Card V2 (github.com/malfoyslastname/character-card-spec-v2) and V3
(github.com/kwaroran/character-card-spec-v3). A PNG card is a picture carrying the card as base64
JSON in a tEXt chunk: `chara` (V2, or V1) and/or `ccv3` (V3, preferred when both are there).

Mapping, card -> persona file:
  description, personality, scenario, system_prompt, post_history_instructions, creator_notes,
      alternate_greetings, tags  -> same names (creator_notes is never put in a prompt)
  first_mes -> greeting;  mes_example -> example_dialogues (one block per <START>)
  extensions.local_avatar -> tagline, style, boundaries, voice, memory_policy (our own fields)
  extensions.depth_prompt (SillyTavern's Character's Note) -> character_note, character_note_depth;
      its role is always system here (a user/assistant role is imported as system, with a warning)
      and those fields are what export writes back (a depth_prompt left in an older sidecar never wins)
  creator, character_version, the other extensions, character_book and the V3-only fields ->
      CardExtras, saved beside the persona as <id>.card.json: never put in a prompt, given back
      unchanged on export (the spec forbids destroying unknown extensions)
  character_book entries -> LoreEntry list (CardExtras.lore()), for the memory feature to store as
      pinned memories of the persona
  the PNG itself (minus its card chunks) -> <id>.png, the persona's image
Legacy <USER>/<BOT>/<CHAR> macros become {{user}}/{{char}}; {{char}}/{{user}} are kept as they are.
"""

from __future__ import annotations

import base64
import binascii
import copy
import io
import json
import logging
import math
import re
import shutil
import stat
import struct
import threading
import time
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from avatar.core.errors import AvatarError, InvalidInputError
from avatar.core.files import atomic_write_bytes
from avatar.personas.card_assets import EMOTION_ASSET_TYPES, emotion_asset_chunks, emotion_sprites
from avatar.personas.files import safe_persona_id
from avatar.personas.repository import (
    _describe_validation_error,
    persona_image_path,
    save_persona,
    used_stems,
    write_sprite_folder,
)
from avatar.personas.schemas import DEFAULT_CHARACTER_NOTE_DEPTH, MAX_CHARACTER_NOTE_DEPTH, PersonaFile

log = logging.getLogger(__name__)

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

_CARD_KEYWORDS = ("ccv3", "chara")  # in order of preference
_ASSET_KEYWORD_PREFIX = "chara-ext-asset_"
_V1_FIELDS = ("name", "description", "personality", "scenario", "first_mes", "mes_example")
# Older Pygmalion/TavernAI exports used these names for the same six fields.
_V1_ALIASES = {
    "char_name": "name",
    "char_persona": "description",
    "world_scenario": "scenario",
    "char_greeting": "first_mes",
    "example_dialogue": "mes_example",
}
_OUR_FIELDS = ("tagline", "style", "boundaries", "voice", "memory_policy", "mood_baseline")
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LEGACY_MACROS = re.compile(r"<(user|bot|char)>", re.IGNORECASE)
_ORIGINAL_MACRO = re.compile(r"\{\{original\}\}", re.IGNORECASE)
_START = re.compile(r"<start>", re.IGNORECASE)

_import_lock = threading.Lock()


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


# Reading ---------------------------------------------------------------------------------------


def read_card_file(path: Path, limit: int = MAX_CARD_BYTES) -> bytes:
    """The bytes of the card file at `path`, refusing anything over `limit` before reading it."""
    path = Path(path)
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise CardError(f"{path.name} is not a regular file.")
        if info.st_size > limit:
            raise CardError(_too_large(path.name, info.st_size, limit))
        with path.open("rb") as handle:
            data = handle.read(limit + 1)  # the file may have grown since stat()
    except FileNotFoundError:
        raise CardError(f"There is no file {path.name}.") from None
    except OSError as error:
        raise CardError(f"Cannot read {path.name}: {error.strerror or error}.") from None
    if len(data) > limit:
        raise CardError(_too_large(path.name, len(data), limit))
    return data


def parse_card(data: bytes, filename: str | None = None) -> ParsedCard:
    """The persona in a card file's bytes (PNG or JSON, told apart by content), or CardError."""
    label = filename or "The file"
    if len(data) > MAX_CARD_BYTES:
        raise CardError(_too_large(label, len(data), MAX_CARD_BYTES))
    warnings: list[str] = []
    image: bytes | None = None
    assets: dict[str, bytes] = {}
    if data.startswith(PNG_SIGNATURE):
        card, image, assets = _card_from_png(data, warnings)
    elif filename and filename.lower().endswith((".png", ".apng")):
        raise CardError(f"{label} is not a PNG image (it does not start with the PNG signature).")
    elif data.startswith(b"PK\x03\x04"):
        raise CardError("CHARX (zip) cards are not supported yet: export the card as PNG or JSON.")
    elif data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"{", b"[") or (filename or "").lower().endswith(".json"):
        card = _load_json(data, "The card")
    else:
        raise CardError(f"{label} is not a character card: expected a PNG card or a JSON card.")
    spec, fields = _unwrap(card, warnings)
    sprites = emotion_sprites(fields, assets, warnings)
    persona, extras = _persona_from_card(fields, spec, warnings)
    return ParsedCard(persona=persona, extras=extras, image=image, warnings=warnings, sprites=sprites)


def _too_large(label: str, size: int, limit: int) -> str:
    return f"{label} is {size / 1_048_576:.1f} MB; a character card may be at most {limit / 1_048_576:.0f} MB."


def _load_json(raw: bytes, what: str) -> dict[str, Any]:
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
        raise CardError(f"{what} is a JSON {_json_kind(value)}, not an object with the card's fields.")
    return value


def _json_kind(value: Any) -> str:
    kinds = {list: "array", str: "string", bool: "boolean", int: "number", float: "number", type(None): "null"}
    return kinds.get(type(value), type(value).__name__)


def _unwrap(card: dict[str, Any], warnings: list[str]) -> tuple[str, dict[str, Any]]:
    """(spec, the card's fields) for a V3, V2 or flat V1 card."""
    spec = card.get("spec")
    if spec is None:
        if "name" in card or "char_name" in card:
            fields = {_V1_ALIASES.get(key, key): value for key, value in card.items()}
            return "chara_card_v1", {key: fields[key] for key in _V1_FIELDS if key in fields}
        raise CardError("Not a character card: the JSON has neither a 'spec' nor a 'name'.")
    if spec == "lorebook_v3":
        raise CardError("This is a lorebook, not a character card.")
    if spec not in ("chara_card_v2", "chara_card_v3"):
        shown = repr(spec) if isinstance(spec, str) and len(spec) <= 40 else "an unknown value"
        raise CardError(f"Unsupported card spec {shown}: expected 'chara_card_v2' or 'chara_card_v3'.")
    data = card.get("data")
    if not isinstance(data, dict):
        raise CardError(f"The {spec} card has no 'data' object with the character's fields.")
    if spec == "chara_card_v3":
        try:
            newer = float(str(card.get("spec_version", "3.0"))) > 3.0
        except ValueError:
            newer = False
        if newer:
            warnings.append(
                f"The card uses a newer spec version ({card['spec_version']}); features added since 3.0 are ignored."
            )
    return spec, data


# Card fields -> persona ------------------------------------------------------------------------


# A name that walks up folders or starts at a drive or root is an attack on a file name, not a name;
# one slash inside a name ("AC/DC", "Jekyll/Hyde") is a name, and the id made from it is safe anyway.
_PATH_LIKE = re.compile(r"(^|[/\\])\.\.([/\\]|$)|^[/\\~]|^[A-Za-z]:[/\\]|\x00")


def looks_like_a_path(name: str) -> bool:
    return bool(_PATH_LIKE.search(name))


def _persona_from_card(data: dict[str, Any], spec: str, warnings: list[str]) -> tuple[PersonaFile, CardExtras]:
    # One line: a name is spliced into sentences, headings and captions ("You are <name>.").
    name = " ".join(_text(data, "name").split())
    if not name:
        raise CardError("The card has no name (its 'name' field is missing or empty).")
    if len(name) > MAX_NAME_CHARS:
        raise CardError(f"The card's name is {len(name):,} characters long; at most {MAX_NAME_CHARS} are allowed.")
    if looks_like_a_path(name):
        raise CardError(
            f"The card's name {name!r} looks like a file path, not a character's name; "
            "rename the character in the card and import it again."
        )
    extensions = _object(data, "extensions")
    ours = extensions.pop(EXTENSION_KEY, None)
    note_fields = _character_note(extensions, warnings)
    fields: dict[str, Any] = {
        "name": name,
        "description": _prompt_text(data, "description"),
        "personality": _prompt_text(data, "personality"),
        "scenario": _prompt_text(data, "scenario"),
        "system_prompt": _drop_original(_prompt_text(data, "system_prompt")),
        "post_history_instructions": _drop_original(_prompt_text(data, "post_history_instructions")),
        "example_dialogues": split_examples(_prompt_text(data, "mes_example")),
        "greeting": _prompt_text(data, "first_mes"),
        "alternate_greetings": [_convert_macros(text) for text in _text_list(data, "alternate_greetings")],
        "tags": [tag.strip() for tag in _text_list(data, "tags", MAX_TAG_CHARS) if tag.strip()],
        "creator_notes": _creator_notes(data),
        **note_fields,
        **_talkativeness(extensions),
        **_our_fields(ours, warnings),
    }
    try:
        persona = PersonaFile.model_validate(fields)
    except ValidationError as error:
        raise CardError(f"The card cannot be used: {_describe_validation_error(error)}.") from None
    extras = CardExtras(
        spec=spec,
        creator=_text(data, "creator").strip(),
        character_version=_text(data, "character_version").strip(),
        extensions=extensions,
        character_book=_character_book(data),
        v3=_v3_fields(data, warnings) if spec == "chara_card_v3" else {},
    )
    prompt_keys = (
        "description",
        "personality",
        "scenario",
        "system_prompt",
        "post_history_instructions",
        "character_note",
    )
    prompt_chars = sum(len(fields.get(key, "")) for key in prompt_keys)
    prompt_chars += sum(len(block) for block in fields["example_dialogues"])
    if prompt_chars > LONG_PERSONA_CHARS:
        warnings.append(
            f"This character's text is about {prompt_chars // 4:,} tokens long: with a small context "
            "little room is left for the conversation."
        )
    return persona, extras


def _text(data: dict[str, Any], key: str, limit: int = MAX_TEXT_CHARS) -> str:
    """A text field: absent or null is '' (as V1 says); numbers are tolerated (version fields often are)."""
    value = data.get(key)
    if value is None:
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise CardError(f"Card field '{key}' must be text, not a JSON {_json_kind(value)}.")
    return _check_length(_clean(value), key, limit)


def _prompt_text(data: dict[str, Any], key: str) -> str:
    return _convert_macros(_text(data, key))


def _text_list(data: dict[str, Any], key: str, item_limit: int = MAX_TEXT_CHARS) -> list[str]:
    value = data.get(key)
    if value is None:
        return []
    if isinstance(value, str):  # some editors write tags as "a, b, c"
        value = [part for part in value.split(",")]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise CardError(f"Card field '{key}' must be a list of texts.")
    if len(value) > MAX_LIST_ITEMS:
        raise CardError(f"Card field '{key}' has {len(value):,} items; at most {MAX_LIST_ITEMS} are allowed.")
    return [_check_length(_clean(item), f"{key}[{index}]", item_limit) for index, item in enumerate(value)]


def _object(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise CardError(f"Card field '{key}' must be an object, not a JSON {_json_kind(value)}.")
    return copy.deepcopy(value)


def _check_length(text: str, key: str, limit: int) -> str:
    if len(text) > limit:
        raise CardError(f"Card field '{key}' is too long: {len(text):,} characters (the limit is {limit:,}).")
    return text


def _clean(text: str) -> str:
    # Windows line ends would force quoted YAML; stray control characters are never meant.
    return _CONTROL_CHARS.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def _convert_macros(text: str) -> str:
    return _LEGACY_MACROS.sub(lambda m: "{{user}}" if m.group(1).lower() == "user" else "{{char}}", text)


def _drop_original(text: str) -> str:
    # {{original}} means "the app's own system prompt here"; ours is always sent, so it goes.
    return _ORIGINAL_MACRO.sub("", text).strip() if _ORIGINAL_MACRO.search(text) else text


def split_examples(mes_example: str) -> list[str]:
    """mes_example -> example dialogue blocks: one per <START>, trimmed, empty ones dropped."""
    return [block.strip() for block in _START.split(mes_example) if block.strip()]


def join_examples(blocks: Iterable[str]) -> str:
    """example dialogue blocks -> mes_example, each block after its own <START> line."""
    return "".join(f"<START>\n{block.strip()}\n" for block in blocks if block.strip())


def _our_fields(value: Any, warnings: list[str]) -> dict[str, Any]:
    """Our own persona fields from extensions.local_avatar (a card we exported)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise CardError(f"Card field 'extensions.{EXTENSION_KEY}' must be an object.")
    fields = {key: value[key] for key in _OUR_FIELDS if key in value}
    for key, item in fields.items():
        _check_nested_size(item, key)
    if value.get("model"):
        # A model name is particular to the machine that made the card: using it here would most
        # likely fail, or make the app fetch a model the user never chose.
        warnings.append(f"The card was made with the model {str(value['model'])[:80]!r}; the app's model is used.")
    return fields


def _character_note(extensions: dict[str, Any], warnings: list[str]) -> dict[str, Any]:
    """character_note and character_note_depth from extensions.depth_prompt, which is taken out of
    `extensions`: the persona's fields hold it from now on. A depth_prompt we cannot read stays there,
    unused, and is given back on export as it came."""
    where = f"extensions.{NOTE_EXTENSION_KEY}"
    value = extensions.get(NOTE_EXTENSION_KEY)
    if value is None:
        return {}
    prompt = value.get("prompt") if isinstance(value, dict) else None
    if not isinstance(prompt, str):
        warnings.append(f"The card's Character's Note ({where}) has no text to use; it was not imported.")
        return {}
    del extensions[NOTE_EXTENSION_KEY]
    note = _convert_macros(_check_length(_clean(prompt), f"{where}.prompt", MAX_TEXT_CHARS)).strip()
    depth = _note_depth(value.get("depth"), warnings)
    role = value.get("role", "system")
    if note and role not in ("system", None):
        shown = repr(role) if isinstance(role, str) and len(role) <= 20 else "an unknown role"
        warnings.append(
            f"The card's Character's Note is meant to be sent as {shown}; it is sent as a system instruction."
        )
    return {"character_note": note, "character_note_depth": depth}


def _talkativeness(extensions: dict[str, Any]) -> dict[str, Any]:
    """talkativeness from extensions.talkativeness (SillyTavern writes "0.5", a number as text); the extension
    itself stays, so export gives it back in the card's own form."""
    value = extensions.get(TALKATIVENESS_KEY)
    try:
        number = float(value) if isinstance(value, (int, float, str)) and not isinstance(value, bool) else None
    except ValueError:
        number = None
    return {"talkativeness": number} if number is not None and 0.0 <= number <= 1.0 else {}


def _note_depth(value: Any, warnings: list[str]) -> int:
    """The note's depth as a whole number of messages in 0..MAX_CHARACTER_NOTE_DEPTH (SillyTavern's 4 if unusable)."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())  # some editors write numbers as text
    if value is None:
        return DEFAULT_CHARACTER_NOTE_DEPTH
    usable = isinstance(value, int) or (isinstance(value, float) and math.isfinite(value) and value.is_integer())
    if isinstance(value, bool) or not usable or value < 0:
        warnings.append(
            f"The card's Character's Note has an unusable depth; the default {DEFAULT_CHARACTER_NOTE_DEPTH} is used."
        )
        return DEFAULT_CHARACTER_NOTE_DEPTH
    if value > MAX_CHARACTER_NOTE_DEPTH:
        warnings.append(
            f"The card's Character's Note goes {int(value):,} messages deep; "
            f"at most {MAX_CHARACTER_NOTE_DEPTH} is used here."
        )
        return MAX_CHARACTER_NOTE_DEPTH
    return int(value)


def _check_nested_size(value: Any, where: str) -> None:
    if isinstance(value, str):
        _check_length(value, where, MAX_TEXT_CHARS)
    elif isinstance(value, list):
        if len(value) > MAX_LIST_ITEMS:
            raise CardError(f"Card field '{where}' has {len(value):,} items; at most {MAX_LIST_ITEMS} are allowed.")
        for index, item in enumerate(value):
            _check_nested_size(item, f"{where}[{index}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_nested_size(item, f"{where}.{key}")


def _creator_notes(data: dict[str, Any]) -> str:
    notes = _text(data, "creator_notes")
    multilingual = data.get("creator_notes_multilingual")
    if not notes and isinstance(multilingual, dict) and isinstance(multilingual.get("en"), str):
        notes = _check_length(_clean(multilingual["en"]), "creator_notes_multilingual.en", MAX_TEXT_CHARS)
    return notes


def _character_book(data: dict[str, Any]) -> dict[str, Any] | None:
    """The card's lorebook, checked and with the defaults the spec requires, unknown keys kept."""
    book = data.get("character_book")
    if book is None:
        return None
    if not isinstance(book, dict):
        raise CardError("Card field 'character_book' must be an object.")
    book = copy.deepcopy(book)
    entries = book.get("entries", [])
    if not isinstance(entries, list):
        raise CardError("Card field 'character_book.entries' must be a list.")
    if len(entries) > MAX_LORE_ENTRIES:
        raise CardError(f"The card's lorebook has {len(entries):,} entries; at most {MAX_LORE_ENTRIES:,} are allowed.")
    for index, entry in enumerate(entries):
        where = f"character_book.entries[{index}]"
        if not isinstance(entry, dict):
            raise CardError(f"Card field '{where}' must be an object.")
        content = entry.get("content", "")
        if not isinstance(content, str):
            raise CardError(f"Card field '{where}.content' must be text.")
        entry["content"] = _check_length(_clean(content), f"{where}.content", MAX_TEXT_CHARS)
        keys = entry.get("keys", [])
        keys = [keys] if isinstance(keys, str) else keys
        if not isinstance(keys, list) or not all(isinstance(key, str) for key in keys):
            raise CardError(f"Card field '{where}.keys' must be a list of texts.")
        entry["keys"] = keys
        entry.setdefault("extensions", {})
        entry.setdefault("enabled", True)
        entry.setdefault("insertion_order", index)
    book["entries"] = entries
    book.setdefault("extensions", {})
    return book


def _v3_fields(data: dict[str, Any], warnings: list[str]) -> dict[str, Any]:
    """The V3-only fields worth giving back on export (right-typed ones only)."""
    kept: dict[str, Any] = {}
    checks = {
        "nickname": lambda v: isinstance(v, str),
        "source": lambda v: isinstance(v, list) and all(isinstance(s, str) for s in v),
        "group_only_greetings": lambda v: isinstance(v, list) and all(isinstance(s, str) for s in v),
        "creator_notes_multilingual": lambda v: isinstance(v, dict) and all(isinstance(s, str) for s in v.values()),
        "creation_date": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    }
    for key, valid in checks.items():
        if key in data and valid(data[key]) and data[key] != []:
            _check_nested_size(data[key], key)
            kept[key] = copy.deepcopy(data[key])
    assets = data.get("assets")
    if isinstance(assets, list):
        extra = [
            a
            for a in assets
            if not (isinstance(a, dict) and (a.get("uri") == "ccdefault:" or a.get("type") in EMOTION_ASSET_TYPES))
        ]
        if extra:
            warnings.append(f"{len(extra)} extra card asset(s) (backgrounds, icons, ...) were not imported.")
    if kept.get("nickname"):
        warnings.append(f"The card's nickname {kept['nickname'][:80]!r} is kept for export but not used in chats.")
    return kept


# PNG chunks ------------------------------------------------------------------------------------


def _card_from_png(data: bytes, warnings: list[str]) -> tuple[dict[str, Any], bytes, dict[str, bytes]]:
    """(the card JSON, the picture without any card chunks, its embedded assets by path) from a PNG card."""
    chunks = _png_chunks(data)
    texts: dict[str, tuple[bytes, bytes]] = {}
    picture: list[tuple[bytes, bytes]] = []
    for chunk_type, body in chunks:
        keyword = _text_keyword(chunk_type, body)
        if keyword in _CARD_KEYWORDS or (keyword or "").startswith(_ASSET_KEYWORD_PREFIX):
            texts.setdefault(keyword, (chunk_type, body))  # the first one counts
            continue  # the YAML now holds the card; a stale copy in the picture would only mislead
        picture.append((chunk_type, body))
    found = [keyword for keyword in _CARD_KEYWORDS if keyword in texts]
    if not found:
        raise CardError("This PNG has no character card in it (no 'chara' or 'ccv3' data): is it a plain picture?")
    card: dict[str, Any] | None = None
    for keyword in found:
        try:
            card = _decode_card_text(keyword, *texts[keyword])
            break
        except CardError as error:
            if keyword == found[-1]:
                raise
            warnings.append(f"The card's '{keyword}' data was unusable ({error.message}); its other copy was used.")
    image = _build_png(picture)
    _check_picture(image)
    assert card is not None
    return card, image, _embedded_assets(texts)


def _embedded_assets(texts: dict[str, tuple[bytes, bytes]]) -> dict[str, bytes]:
    """The pictures in a PNG card's `chara-ext-asset_:<path>` chunks, by path (what `__asset:<path>` names)."""
    found: dict[str, bytes] = {}
    for keyword, chunk in texts.items():
        if not keyword.startswith(_ASSET_KEYWORD_PREFIX):
            continue
        path = keyword.removeprefix(_ASSET_KEYWORD_PREFIX).removeprefix(":")
        try:
            found[path] = base64.b64decode(_text_chunk_value(*chunk), validate=False)
        except (CardError, binascii.Error, ValueError):
            continue  # an unreadable asset: the sprite is reported missing, the card still imports
    return found


def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """Every chunk (type, body) up to IEND, checking lengths and checksums."""
    if not data.startswith(PNG_SIGNATURE):
        raise CardError("This is not a PNG image.")
    chunks: list[tuple[bytes, bytes]] = []
    position, size = len(PNG_SIGNATURE), len(data)
    while position < size:
        if position + 12 > size:
            raise CardError("The PNG is truncated.")
        length, chunk_type = struct.unpack(">I4s", data[position : position + 8])
        end = position + 12 + length
        if end > size:
            raise CardError("The PNG is truncated.")
        body = data[position + 8 : end - 4]
        (checksum,) = struct.unpack(">I", data[end - 4 : end])
        if zlib.crc32(body, zlib.crc32(chunk_type)) != checksum:
            raise CardError("The PNG is damaged (a chunk's checksum does not match).")
        chunks.append((chunk_type, body))
        position = end
        if chunk_type == b"IEND":
            break
    if not chunks or chunks[0][0] != b"IHDR" or chunks[-1][0] != b"IEND":
        raise CardError("The PNG is damaged (it does not start with IHDR and end with IEND).")
    return chunks


def _text_keyword(chunk_type: bytes, body: bytes) -> str | None:
    if chunk_type not in (b"tEXt", b"zTXt", b"iTXt"):
        return None
    return body.split(b"\0", 1)[0].decode("latin-1").lower()


def _decode_card_text(keyword: str, chunk_type: bytes, body: bytes) -> dict[str, Any]:
    """The card JSON in a tEXt (or zTXt/iTXt, which some tools write) chunk's base64 text."""
    try:
        text = _text_chunk_value(chunk_type, body)
    except (ValueError, zlib.error):
        raise CardError(f"The card's '{keyword}' text chunk is damaged.") from None
    compact = "".join(text.split())
    compact += "=" * (-len(compact) % 4)
    try:
        raw = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        raise CardError(f"The card's '{keyword}' data is not valid base64.") from None
    return _load_json(raw, f"The card's '{keyword}' data")


def _text_chunk_value(chunk_type: bytes, body: bytes) -> str:
    _, rest = body.split(b"\0", 1)
    if chunk_type == b"tEXt":
        return rest.decode("latin-1")
    if chunk_type == b"zTXt":
        return _inflate(rest[1:]).decode("latin-1")
    compressed, rest = rest[0], rest[2:]  # iTXt: flag, method, language\0, translated keyword\0, text
    _language, _translated, text = rest.split(b"\0", 2)
    return (_inflate(text) if compressed else text).decode("utf-8")


def _inflate(data: bytes) -> bytes:
    inflater = zlib.decompressobj()
    result = inflater.decompress(data, MAX_CARD_BYTES)
    if inflater.unconsumed_tail:
        raise ValueError("compressed text too large")
    return result


def _chunk(chunk_type: bytes, body: bytes) -> bytes:
    return (
        struct.pack(">I", len(body)) + chunk_type + body + struct.pack(">I", zlib.crc32(body, zlib.crc32(chunk_type)))
    )


def _text_chunk(keyword: str, text: str) -> tuple[bytes, bytes]:
    return b"tEXt", keyword.encode("latin-1") + b"\0" + text.encode("latin-1")


def _build_png(chunks: Iterable[tuple[bytes, bytes]]) -> bytes:
    return PNG_SIGNATURE + b"".join(_chunk(chunk_type, body) for chunk_type, body in chunks)


def _check_picture(png: bytes) -> None:
    try:
        with Image.open(io.BytesIO(png)) as picture:
            width, height = picture.size
            picture.verify()
    except Image.DecompressionBombError:
        raise CardError("The card's picture is far too large.") from None
    except Exception:  # noqa: BLE001 - Pillow raises many types for a damaged file; all mean the same here
        raise CardError("The card's picture is damaged and cannot be shown.") from None
    if width * height > MAX_IMAGE_PIXELS:
        raise CardError(f"The card's picture is {width}x{height} pixels; that is too large for a portrait.")


# Persona -> card -------------------------------------------------------------------------------


def card_v2(persona: PersonaFile, extras: CardExtras | None = None) -> dict[str, Any]:
    """A Character Card V2 object for `persona`; our own fields go under data.extensions.local_avatar."""
    extras = extras or CardExtras()
    data: dict[str, Any] = {
        "name": persona.name,
        "description": persona.description,
        "personality": persona.personality,
        "scenario": persona.scenario,
        "first_mes": persona.greeting,
        "mes_example": join_examples(persona.example_dialogues),
        "creator_notes": persona.creator_notes or extras.creator_notes,
        "system_prompt": persona.system_prompt,
        "post_history_instructions": persona.post_history_instructions,
        "alternate_greetings": list(persona.alternate_greetings),
    }
    if extras.character_book is not None:
        data["character_book"] = copy.deepcopy(extras.character_book)
    data["tags"] = list(persona.tags)
    data["creator"] = extras.creator
    data["character_version"] = extras.character_version
    extensions = copy.deepcopy(extras.extensions)
    # The persona's fields are the note. A depth_prompt left in the extras (one we could not read, or
    # a sidecar from before the fields) goes out only when the persona has no note of its own.
    extensions.update(_note_extension(persona))
    if persona.talkativeness != 0.5 or TALKATIVENESS_KEY in extensions:
        # As SillyTavern writes it (text), unless the card had a number there.
        as_text = not isinstance(extensions.get(TALKATIVENESS_KEY), (int, float))
        extensions[TALKATIVENESS_KEY] = f"{persona.talkativeness:g}" if as_text else persona.talkativeness
    extensions[EXTENSION_KEY] = _our_extension(persona)
    data["extensions"] = extensions
    return {"spec": "chara_card_v2", "spec_version": "2.0", "data": data}


def card_v3(persona: PersonaFile, extras: CardExtras | None = None) -> dict[str, Any]:
    """A Character Card V3 object for `persona`: the V2 fields plus the ones V3 requires."""
    extras = extras or CardExtras()
    data = card_v2(persona, extras)["data"]
    for entry in (data.get("character_book") or {}).get("entries", []):
        entry.setdefault("use_regex", False)  # required in V3
    data["group_only_greetings"] = list(extras.v3.get("group_only_greetings", []))
    for key in ("nickname", "source", "creator_notes_multilingual", "creation_date"):
        if key in extras.v3:
            data[key] = copy.deepcopy(extras.v3[key])
    data["modification_date"] = int(time.time())
    return {"spec": "chara_card_v3", "spec_version": "3.0", "data": data}


def _note_extension(persona: PersonaFile) -> dict[str, Any]:
    """{"depth_prompt": ...} as SillyTavern writes it, or nothing for a persona without a note (at the default depth)."""
    if not persona.character_note and persona.character_note_depth == DEFAULT_CHARACTER_NOTE_DEPTH:
        return {}
    note = {"prompt": persona.character_note, "depth": persona.character_note_depth, "role": "system"}
    return {NOTE_EXTENSION_KEY: note}


def _our_extension(persona: PersonaFile) -> dict[str, Any]:
    fields = persona.model_dump(mode="json", include={*_OUR_FIELDS, "model"})
    if not fields.get("model"):
        fields.pop("model", None)
    if fields.get("mood_baseline") == "neutral":
        fields.pop("mood_baseline")  # the default: cards from before the field stay as they were
    return fields


def export_json(persona: PersonaFile, extras: CardExtras | None = None) -> bytes:
    """The persona as a V2 JSON card file."""
    return (json.dumps(card_v2(persona, extras), ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def export_png(
    persona: PersonaFile,
    image: bytes | None = None,
    extras: CardExtras | None = None,
    sprites: dict[str, bytes] | None = None,
) -> bytes:
    """The persona as a PNG card: its picture (or a face drawn from its name) with `chara` (V2) and `ccv3`
    (V3) chunks; expression `sprites` (label -> PNG) go in as V3 emotion assets, each in its own chunk."""
    picture = _as_png(image) if image else None
    chunks = _png_chunks(picture or placeholder_png(persona.name))
    chunks = [c for c in chunks if not _is_card_chunk(c)]
    v3 = card_v3(persona, extras)
    assets = emotion_asset_chunks(v3, sprites or {})
    cards = [
        _text_chunk("chara", _base64_json(card_v2(persona, extras))),
        _text_chunk("ccv3", _base64_json(v3)),
    ]
    return _build_png([*chunks[:-1], *cards, *(_text_chunk(k, v) for k, v in assets), chunks[-1]])


def _is_card_chunk(chunk: tuple[bytes, bytes]) -> bool:
    keyword = _text_keyword(*chunk) or ""
    return keyword in _CARD_KEYWORDS or keyword.startswith(_ASSET_KEYWORD_PREFIX)


def _base64_json(card: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(card, ensure_ascii=False).encode("utf-8")).decode("ascii")


def _as_png(image: bytes) -> bytes | None:
    """`image` as PNG bytes (converted if it is a JPEG, WebP, ...), or None if it cannot be read."""
    try:
        if image.startswith(PNG_SIGNATURE):
            _png_chunks(image)
            return image
        with Image.open(io.BytesIO(image)) as picture:
            out = io.BytesIO()
            picture.save(out, format="PNG")
            return out.getvalue()
    except (CardError, OSError, ValueError, Image.DecompressionBombError):
        log.warning("persona image unreadable; exporting with a placeholder picture")
        return None


def placeholder_png(name: str, size: tuple[int, int] = (400, 600)) -> bytes:
    """A face drawn from `name` (the 2:3 portrait most card sites use) for a persona without a picture."""
    from avatar.expressions.faces import generated_face  # Pillow drawing; only when a picture is missing

    return generated_face(name, size=size)


# On disk ---------------------------------------------------------------------------------------


def import_card(
    source: Path | str | bytes,
    user_personas_dir: Path,
    existing_ids: Iterable[str],
    *,
    filename: str | None = None,
) -> str:
    """Import a card file (a path, or its bytes) as a new user persona; returns the new persona's id."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    else:
        data = read_card_file(Path(source))
        filename = filename or Path(source).name
    return save_card(parse_card(data, filename), user_personas_dir, existing_ids)


def save_card(card: ParsedCard, user_personas_dir: Path, existing_ids: Iterable[str]) -> str:
    """Write a parsed card as <id>.yaml (+ <id>.png, + <id>.card.json): all of them or none."""
    user_personas_dir = Path(user_personas_dir)
    with _import_lock:
        taken = {*existing_ids, *used_stems(user_personas_dir)}
        for _attempt in range(5):
            persona_id = safe_persona_id(card.persona.name, taken)
            persona = card.persona.model_copy(update={"image": f"{persona_id}.png" if card.image else None})
            attachments = {"png": card.image} if card.image else {}
            if not card.extras.is_empty():
                attachments[EXTRAS_SUFFIX] = card.extras.model_dump_json(indent=2).encode("utf-8")
            try:
                # The sprites first and the YAML last: the persona appears only once all of it is there.
                sprite_dir = write_sprite_folder(user_personas_dir, persona_id, card.sprites) if card.sprites else None
                try:
                    save_persona(user_personas_dir, persona_id, persona, attachments=attachments)
                except BaseException:
                    if sprite_dir is not None:
                        shutil.rmtree(sprite_dir, ignore_errors=True)
                    raise
            except FileExistsError:
                taken.add(persona_id)  # another process took the id meanwhile: pick the next one
                continue
            except OSError as error:
                raise AvatarError(f"Could not save the imported persona: {error.strerror or error}.") from None
            log.info("imported a character card as persona %s", persona_id)
            return persona_id
    raise AvatarError("Could not find a free id for the imported persona; try again.")


def read_card_extras(persona_dir: Path, persona_id: str) -> CardExtras | None:
    """The extras saved when the persona was imported, or None (none, or a hand edit broke the file)."""
    path = Path(persona_dir) / f"{persona_id}.{EXTRAS_SUFFIX}"
    try:
        return CardExtras.model_validate_json(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValidationError) as error:
        log.warning("ignoring %s: %s", path.name, str(error).splitlines()[0])
        return None


def legacy_character_note(extras: CardExtras) -> tuple[CardExtras, dict[str, Any]]:
    """(the extras without their depth_prompt, the persona fields it holds) for a sidecar written when
    the Character's Note was kept only there; ({}, the extras as they are) when there is none to read."""
    if NOTE_EXTENSION_KEY not in extras.extensions:
        return extras, {}
    extensions = copy.deepcopy(extras.extensions)
    try:
        fields = _character_note(extensions, [])
    except CardError:
        return extras, {}  # too long to be a note: it stays where it is, unused
    return extras.model_copy(update={"extensions": extensions}), fields


def sidecar_without_note(raw: bytes) -> bytes:
    """<id>.card.json's bytes without a readable depth_prompt: once the persona file has been saved with
    its own character note fields, a copy left in the sidecar could only bring a cleared note back."""
    try:
        extras = CardExtras.model_validate_json(raw)
    except ValidationError:
        return raw  # a hand edit broke it: leave it for the user to see, as read_card_extras does
    stripped, fields = legacy_character_note(extras)
    return stripped.model_dump_json(indent=2).encode("utf-8") if fields else raw


def read_lore(persona_dir: Path, persona_id: str) -> list[LoreEntry]:
    """The imported card's lorebook entries, for the memory feature to store as pinned memories."""
    extras = read_card_extras(persona_dir, persona_id)
    return extras.lore() if extras else []


def export_card(
    persona: PersonaFile,
    out_path: Path,
    persona_dir: Path,
    persona_id: str | None = None,
    *,
    sprites: dict[str, bytes] | None = None,
) -> Path:
    """Write `persona` (whose files are in `persona_dir`) as a card: .png (V2 + V3 chunks, and the
    expression sprites as V3 assets) or .json (V2)."""
    out_path = Path(out_path)
    persona_id = persona_id or getattr(persona, "id", None)
    extras = read_card_extras(persona_dir, persona_id) if persona_id else None
    suffix = out_path.suffix.lower()
    if suffix == ".json":
        data = export_json(persona, extras)
    elif suffix == ".png":
        image_path = persona_image_path(Path(persona_dir), persona)
        data = export_png(persona, image_path.read_bytes() if image_path else None, extras, sprites)
    else:
        raise CardError(f"Cannot export as {suffix or 'a file without extension'}: use .png or .json.")
    atomic_write_bytes(out_path, data)
    return out_path
