"""Persona -> card: Character Card V2 and V3 objects, and the JSON or PNG card file a persona exports as."""

from __future__ import annotations

import base64
import copy
import json
import time
from typing import Any

from avatar.personas.card_assets import emotion_asset_chunks
from avatar.personas.card_fields import (
    join_examples,
)
from avatar.personas.card_format import (
    EXTENSION_KEY,
    NOTE_EXTENSION_KEY,
    OUR_FIELDS,
    TALKATIVENESS_KEY,
    CardExtras,
)
from avatar.personas.card_png import (
    as_png,
    build_png,
    is_card_chunk,
    placeholder_png,
    png_chunks,
    text_chunk,
)
from avatar.personas.schemas import DEFAULT_CHARACTER_NOTE_DEPTH, PersonaFile


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
    fields = persona.model_dump(mode="json", include={*OUR_FIELDS, "model"})
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
    picture = as_png(image) if image else None
    chunks = png_chunks(picture or placeholder_png(persona.name))
    chunks = [c for c in chunks if not is_card_chunk(c)]
    v3 = card_v3(persona, extras)
    assets = emotion_asset_chunks(v3, sprites or {})
    cards = [
        text_chunk("chara", _base64_json(card_v2(persona, extras))),
        text_chunk("ccv3", _base64_json(v3)),
    ]
    return build_png([*chunks[:-1], *cards, *(text_chunk(k, v) for k, v in assets), chunks[-1]])


def _base64_json(card: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(card, ensure_ascii=False).encode("utf-8")).decode("ascii")
