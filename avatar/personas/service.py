"""The personas the app knows: built-ins from personas/, the user's own from <data-dir>/personas/.

A user's file with the same id as a built-in overrides it (that is how editing a built-in works:
the edit is saved as the user's copy, and deleting that copy brings the built-in back). Files are
re-read when they change on disk, so hand edits show up without a restart.
"""

from __future__ import annotations

import enum
import logging
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

from avatar.core.errors import AvatarError
from avatar.expressions.labels import LABELS
from avatar.personas.card_format import EXTRAS_SUFFIX, CardExtras, LoreEntry
from avatar.personas.cards import (
    export_card,
    legacy_character_note,
    parse_card,
    read_card_extras,
    read_card_file,
    read_lore,
    save_card,
    sidecar_without_note,
)
from avatar.personas.exceptions import BuiltinPersonaError, PersonaNotFound
from avatar.personas.files import safe_persona_id
from avatar.personas.images import normalise_image
from avatar.personas.repository import (
    delete_persona_files,
    expressions_dir,
    load_persona,
    persona_files,
    persona_image_path,
    save_persona,
    used_stems,
)
from avatar.personas.schemas import Persona, PersonaFile, PersonaLoadError, PersonaSummary

log = logging.getLogger(__name__)

COPY_SUFFIX = " (copy)"


class Deleted(enum.Enum):
    persona = "persona"  # the user's own persona is gone
    override = "override"  # the user's copy of a built-in is gone; the built-in is back


class PersonaService:
    def __init__(self, builtin_dir: Path, user_dir: Path) -> None:
        self.builtin_dir = builtin_dir
        self.user_dir = user_dir
        self._personas: dict[str, Persona] = {}
        self._errors: list[PersonaLoadError] = []
        self._fingerprint: tuple = ()
        self._write_lock = threading.Lock()
        # Called with a persona id whose card lorebook may have changed (imported, copied, deleted);
        # the app wires the memory feature here to keep lore memories in step (avatar/context.py).
        self.lore_listeners: list[Callable[[str], object]] = []
        self.reload_if_changed()

    def _current_fingerprint(self) -> tuple[tuple[str, bool, int, int], ...]:
        """(path, builtin, mtime, size) of every persona file, built-ins first: what to load, and when again."""
        stamps = []
        for directory, builtin in ((self.builtin_dir, True), (self.user_dir, False)):
            for path in persona_files(directory):
                try:
                    info = path.stat()
                except FileNotFoundError:
                    continue  # deleted since it was listed (by another handler, an editor): it is gone
                stamps.append((str(path), builtin, info.st_mtime_ns, info.st_size))
        return tuple(stamps)

    def reload_if_changed(self) -> None:
        fingerprint = self._current_fingerprint()
        if fingerprint == self._fingerprint:
            return
        personas: dict[str, Persona] = {}
        errors: list[PersonaLoadError] = []
        for name, builtin, _mtime, _size in fingerprint:  # a user's file comes after the built-in it overrides
            path = Path(name)
            loaded = load_persona(path, builtin=builtin)
            if isinstance(loaded, PersonaLoadError):
                if not path.exists():
                    continue  # deleted while being read: gone, not broken
                log.error("persona file skipped: %s", loaded.message)
                errors.append(loaded)
            else:
                personas[loaded.id] = _with_legacy_card_fields(loaded, path.parent)
        self._personas = dict(sorted(personas.items(), key=lambda item: item[1].name.lower()))
        self._errors = errors
        # Files that changed while they were read (caught half-saved, deleted, added) are read again next time.
        self._fingerprint = fingerprint if self._current_fingerprint() == fingerprint else ()

    def list(self) -> list[Persona]:
        self.reload_if_changed()
        return list(self._personas.values())

    def summaries(self) -> list[PersonaSummary]:
        return [PersonaSummary(id=p.id, name=p.name) for p in self.list()]

    def errors(self) -> list[PersonaLoadError]:
        self.reload_if_changed()
        return list(self._errors)

    def get(self, persona_id: str) -> Persona:
        self.reload_if_changed()
        persona = self._personas.get(persona_id)
        if persona is None:
            raise PersonaNotFound(persona_id)
        return persona

    def default_id(self) -> str | None:
        personas = self.list()
        return personas[0].id if personas else None

    # -- where a persona's files are ----------------------------------------------------------
    def is_builtin_id(self, persona_id: str) -> bool:
        """Whether the app ships a persona with this id (the user's file may be overriding it)."""
        return any((self.builtin_dir / f"{persona_id}.{suffix}").is_file() for suffix in ("yaml", "yml"))

    def directory_of(self, persona: Persona) -> Path:
        return self.builtin_dir if persona.builtin else self.user_dir

    def image_path(self, persona: Persona) -> Path | None:
        return persona_image_path(self.directory_of(persona), persona)

    def expression_folders(self, persona: Persona) -> list[Path]:
        """Where the persona's expression sprites are looked for, the user's own first. A built-in's shipped
        sprites count for the user's copy of it only while that copy keeps the shipped picture (they show
        that face)."""
        folders = [expressions_dir(self.user_dir, persona.id)]
        if persona.builtin or (self.is_builtin_id(persona.id) and self._keeps_shipped_picture(persona)):
            folders.append(expressions_dir(self.builtin_dir, persona.id))
        return folders

    def _keeps_shipped_picture(self, persona: Persona) -> bool:
        own = self.image_path(persona)
        shipped = self.builtin_dir / f"{persona.id}.png"
        try:
            return own is not None and shipped.is_file() and own.read_bytes() == shipped.read_bytes()
        except OSError:
            return False

    def expression_sprites(self, persona: Persona) -> dict[str, bytes]:
        """label -> PNG bytes of every expression sprite the persona has (for a card export)."""
        found: dict[str, bytes] = {}
        for folder in reversed(self.expression_folders(persona)):  # the user's own win
            if folder.is_dir():
                found |= {p.stem: p.read_bytes() for p in sorted(folder.glob("*.png")) if p.stem in LABELS}
        return {label: found[label] for label in LABELS if label in found}

    def card_extras(self, persona: Persona) -> CardExtras | None:
        return read_card_extras(self.directory_of(persona), persona.id)

    def lore(self, persona_id: str) -> list[LoreEntry]:
        """The persona's card lorebook entries; none for a persona without one, or one that is gone."""
        try:
            persona = self.get(persona_id)
        except PersonaNotFound:
            return []
        return read_lore(self.directory_of(persona), persona.id)

    def _lore_changed(self, persona_id: str) -> None:
        for listener in self.lore_listeners:
            listener(persona_id)

    # -- changes (all of them land in the user's directory) -------------------------------------
    def create(self, persona: PersonaFile, *, image: bytes | None = None) -> Persona:
        """Save a new persona under a fresh id made from its name; `image` is an uploaded picture."""
        attachments = {"png": normalise_image(image)} if image is not None else {}
        return self._save_new(persona, attachments)

    def update(
        self, persona_id: str, persona: PersonaFile, *, image: bytes | None = None, remove_image: bool = False
    ) -> Persona:
        """Replace the persona's fields. A built-in is saved as the user's copy with the same id.

        `image` replaces the picture, `remove_image` drops it; otherwise the picture stays (a
        built-in's picture and card extras are copied beside the user's copy).
        """
        with self._write_lock:
            current = self.get(persona_id)
            source = self.directory_of(current)
            old_image = persona_image_path(source, current)
            attachments: dict[str, bytes] = {}
            if image is not None:
                attachments["png"] = normalise_image(image)
                image_name: str | None = f"{persona_id}.png"
            elif remove_image or old_image is None:
                image_name = None
            elif current.builtin:
                suffix = old_image.name.split(".", 1)[-1].lower() if "." in old_image.name else "png"
                attachments[suffix] = old_image.read_bytes()
                image_name = f"{persona_id}.{suffix}"
            else:
                image_name = current.image
            extras = source / f"{persona_id}.{EXTRAS_SUFFIX}"
            if extras.is_file():
                raw = extras.read_bytes()
                # The form showed (and now saves) the note an old sidecar held; the sidecar lets go of it.
                kept = sidecar_without_note(raw)
                if current.builtin or kept != raw:
                    attachments[EXTRAS_SUFFIX] = kept
            saved = persona.model_copy(update={"image": image_name})
            self._write(persona_id, saved, attachments, replace=True)
            # Only a picture named after this persona is its own; a hand-edited file may share another's.
            replaced = not current.builtin and old_image is not None and current.image != image_name
            if replaced and old_image.name.startswith(f"{persona_id}."):
                old_image.unlink(missing_ok=True)
        return self.get(persona_id)

    def duplicate(self, persona_id: str) -> Persona:
        """A new user persona with the same fields, picture and card extras, named "<name> (copy)"."""
        original = self.get(persona_id)
        name = original.name[: 80 - len(COPY_SUFFIX)].rstrip() + COPY_SUFFIX
        copy = PersonaFile.model_validate(original.model_dump(include=set(PersonaFile.model_fields)) | {"name": name})
        attachments: dict[str, bytes] = {}
        image = self.image_path(original)
        if image is not None:
            attachments["png"] = normalise_image(image.read_bytes())
        extras = self.directory_of(original) / f"{original.id}.{EXTRAS_SUFFIX}"
        if extras.is_file():
            attachments[EXTRAS_SUFFIX] = sidecar_without_note(extras.read_bytes())  # the copy's file has the note
        duplicate = self._save_new(copy, attachments)
        self._copy_sprites(original, duplicate.id)
        self._lore_changed(duplicate.id)
        return duplicate

    def delete(self, persona_id: str) -> Deleted:
        """Delete the user's persona, or the user's copy of a built-in. A built-in itself is refused."""
        with self._write_lock:
            persona = self.get(persona_id)
            if persona.builtin:
                raise BuiltinPersonaError(
                    f"{persona.name} comes with the app and cannot be deleted. Edit it to make your own version."
                )
            try:
                delete_persona_files(self.user_dir, persona.id, persona.image)
            except OSError as error:
                raise AvatarError(f"Could not delete {persona.name}: {error.strerror or error}.") from None
            self._fingerprint = ()
        log.info("deleted persona %s", persona_id)
        self._lore_changed(persona_id)  # gone, or the built-in (with its own card) is back
        return Deleted.override if self.is_builtin_id(persona_id) else Deleted.persona

    def import_card(self, source: Path | bytes, filename: str | None = None) -> tuple[Persona, list[str]]:
        """Import a character card (a path, or its bytes) as a new user persona; (persona, warnings)."""
        if isinstance(source, (bytes, bytearray)):
            data = bytes(source)
        else:
            data = read_card_file(Path(source))
            filename = filename or Path(source).name
        card = parse_card(data, filename)
        persona_id = save_card(card, self.user_dir, {p.id for p in self.list()} | self._builtin_stems())
        self._fingerprint = ()
        self._lore_changed(persona_id)
        return self.get(persona_id), card.warnings

    def export_card(self, persona_id: str, out_path: Path) -> Path:
        """Write the persona as a card file: .png (V2 + V3 chunks) or .json (V2)."""
        persona = self.get(persona_id)
        sprites = self.expression_sprites(persona) if out_path.suffix.lower() == ".png" else {}
        return export_card(persona, out_path, self.directory_of(persona), persona.id, sprites=sprites)

    # -- internals ------------------------------------------------------------------------------
    def _copy_sprites(self, original: Persona, new_id: str) -> None:
        """A copy looks like the original: its expression sprites (the user's, over the shipped ones) go too."""
        target = expressions_dir(self.user_dir, new_id)
        for folder in (
            expressions_dir(self.directory_of(original), original.id),
            expressions_dir(self.user_dir, original.id),
        ):
            if folder.is_dir():
                shutil.copytree(folder, target, dirs_exist_ok=True)

    def _builtin_stems(self) -> set[str]:
        return used_stems(self.builtin_dir)

    def _save_new(self, persona: PersonaFile, attachments: dict[str, bytes]) -> Persona:
        with self._write_lock:
            taken = {p.id for p in self.list()} | used_stems(self.user_dir) | self._builtin_stems()
            for _attempt in range(5):
                persona_id = safe_persona_id(persona.name, taken)
                image_name = f"{persona_id}.png" if "png" in attachments else None
                try:
                    self._write(
                        persona_id, persona.model_copy(update={"image": image_name}), attachments, replace=False
                    )
                except FileExistsError:
                    taken.add(persona_id)  # another writer took the id meanwhile: pick the next one
                    continue
                break
            else:
                raise AvatarError("Could not find a free id for the new persona; try again.")
        log.info("created persona %s", persona_id)
        return self.get(persona_id)

    def _write(self, persona_id: str, persona: PersonaFile, attachments: dict[str, bytes], *, replace: bool) -> None:
        try:
            save_persona(self.user_dir, persona_id, persona, attachments=attachments, replace=replace)
        except FileExistsError:
            raise
        except OSError as error:
            raise AvatarError(f"Could not save {persona.name}: {error.strerror or error}.") from None
        finally:
            self._fingerprint = ()  # re-read on the next call even if the clock did not move


def _with_legacy_card_fields(persona: Persona, directory: Path) -> Persona:
    """Creator notes and the Character's Note of a card imported before personas had those fields:
    they sat in <id>.card.json (the note as extensions.depth_prompt)."""
    if persona.creator_notes and persona.character_note:
        return persona
    if not (directory / f"{persona.id}.{EXTRAS_SUFFIX}").is_file():
        return persona
    extras = read_card_extras(directory, persona.id)
    if extras is None:
        return persona
    update: dict[str, object] = {}
    if not persona.creator_notes and extras.creator_notes:
        update["creator_notes"] = extras.creator_notes
    if not persona.character_note:
        _, note_fields = legacy_character_note(extras)
        if note_fields.get("character_note"):
            update |= note_fields
    return persona.model_copy(update=update) if update else persona
