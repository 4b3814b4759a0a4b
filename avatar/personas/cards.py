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

This module reads card files and imports and exports them on disk; the rest is by job: card_format.py (limits,
keys, CardExtras, LoreEntry, ParsedCard), card_fields.py (the mapping above), card_png.py (the PNG chunks),
card_export.py (persona -> card), card_assets.py (V3 emotion assets).
"""

from __future__ import annotations

import copy
import logging
import shutil
import stat
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from avatar.core.errors import AvatarError
from avatar.core.files import atomic_write_bytes
from avatar.personas.card_assets import emotion_sprites
from avatar.personas.card_export import (
    export_json,
    export_png,
)
from avatar.personas.card_fields import (
    character_note,
    persona_from_card,
)
from avatar.personas.card_format import (
    EXTRAS_SUFFIX,
    MAX_CARD_BYTES,
    NOTE_EXTENSION_KEY,
    PNG_SIGNATURE,
    CardError,
    CardExtras,
    LoreEntry,
    ParsedCard,
    load_json,
)
from avatar.personas.card_png import (
    card_from_png,
)
from avatar.personas.files import safe_persona_id
from avatar.personas.repository import (
    persona_image_path,
    save_persona,
    used_stems,
    write_sprite_folder,
)
from avatar.personas.schemas import PersonaFile

log = logging.getLogger(__name__)


_V1_FIELDS = ("name", "description", "personality", "scenario", "first_mes", "mes_example")
# Older Pygmalion/TavernAI exports used these names for the same six fields.
_V1_ALIASES = {
    "char_name": "name",
    "char_persona": "description",
    "world_scenario": "scenario",
    "char_greeting": "first_mes",
    "example_dialogue": "mes_example",
}

_import_lock = threading.Lock()


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
        card, image, assets = card_from_png(data, warnings)
    elif filename and filename.lower().endswith((".png", ".apng")):
        raise CardError(f"{label} is not a PNG image (it does not start with the PNG signature).")
    elif data.startswith(b"PK\x03\x04"):
        raise CardError("CHARX (zip) cards are not supported yet: export the card as PNG or JSON.")
    elif data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"{", b"[") or (filename or "").lower().endswith(".json"):
        card = load_json(data, "The card")
    else:
        raise CardError(f"{label} is not a character card: expected a PNG card or a JSON card.")
    spec, fields = _unwrap(card, warnings)
    sprites = emotion_sprites(fields, assets, warnings)
    persona, extras = persona_from_card(fields, spec, warnings)
    return ParsedCard(persona=persona, extras=extras, image=image, warnings=warnings, sprites=sprites)


def _too_large(label: str, size: int, limit: int) -> str:
    return f"{label} is {size / 1_048_576:.1f} MB; a character card may be at most {limit / 1_048_576:.0f} MB."


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
        fields = character_note(extensions, [])
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
