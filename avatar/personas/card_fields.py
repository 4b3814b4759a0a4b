"""A card's fields -> a persona file and the extras it cannot hold (cards.py's docstring has the mapping).

Every field is checked for type and length; legacy macros become {{user}}/{{char}}."""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Iterable
from typing import Any

from pydantic import ValidationError

from avatar.personas.card_assets import EMOTION_ASSET_TYPES
from avatar.personas.card_format import (
    EXTENSION_KEY,
    LONG_PERSONA_CHARS,
    MAX_LIST_ITEMS,
    MAX_LORE_ENTRIES,
    MAX_NAME_CHARS,
    MAX_TAG_CHARS,
    MAX_TEXT_CHARS,
    NOTE_EXTENSION_KEY,
    OUR_FIELDS,
    TALKATIVENESS_KEY,
    CardError,
    CardExtras,
    json_kind,
)
from avatar.personas.repository import (
    _describe_validation_error,
)
from avatar.personas.schemas import DEFAULT_CHARACTER_NOTE_DEPTH, MAX_CHARACTER_NOTE_DEPTH, PersonaFile

_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LEGACY_MACROS = re.compile(r"<(user|bot|char)>", re.IGNORECASE)
_ORIGINAL_MACRO = re.compile(r"\{\{original\}\}", re.IGNORECASE)
_START = re.compile(r"<start>", re.IGNORECASE)


# A name that walks up folders or starts at a drive or root is an attack on a file name, not a name;
# one slash inside a name ("AC/DC", "Jekyll/Hyde") is a name, and the id made from it is safe anyway.
_PATH_LIKE = re.compile(r"(^|[/\\])\.\.([/\\]|$)|^[/\\~]|^[A-Za-z]:[/\\]|\x00")


def looks_like_a_path(name: str) -> bool:
    return bool(_PATH_LIKE.search(name))


def persona_from_card(data: dict[str, Any], spec: str, warnings: list[str]) -> tuple[PersonaFile, CardExtras]:
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
    note_fields = character_note(extensions, warnings)
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
        raise CardError(f"Card field '{key}' must be text, not a JSON {json_kind(value)}.")
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
        raise CardError(f"Card field '{key}' must be an object, not a JSON {json_kind(value)}.")
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
    fields = {key: value[key] for key in OUR_FIELDS if key in value}
    for key, item in fields.items():
        _check_nested_size(item, key)
    if value.get("model"):
        # A model name is particular to the machine that made the card: using it here would most
        # likely fail, or make the app fetch a model the user never chose.
        warnings.append(f"The card was made with the model {str(value['model'])[:80]!r}; the app's model is used.")
    return fields


def character_note(extensions: dict[str, Any], warnings: list[str]) -> dict[str, Any]:
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
