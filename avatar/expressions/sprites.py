"""Expression sprites: one picture per emotion label, laid out as SillyTavern's character expressions.

On disk a persona's sprites are `<persona dir>/<id>.expressions/<label>.png`. A pack to import is a
folder or a zip of `<label>.png` files (also `<label>-2.png` and .webp/.jpg/.gif, as SillyTavern
accepts; the first file for a label wins), at its top or inside one folder. Imports land in the
user's personas folder, also for a built-in character, whose shipped sprites are used for the labels
the user has not replaced (unless the user gave their copy a picture of its own: then the shipped
sprites would show someone else).

A pack is read whole and every picture checked before anything is written; the new folder is then
built beside the old one and swapped in, so an import is all there or not at all.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import re
import secrets
import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from avatar.core import scratch
from avatar.core.errors import InvalidInputError
from avatar.core.files import atomic_write_bytes
from avatar.expressions.faces import generated_face
from avatar.expressions.labels import LABELS, NEUTRAL
from avatar.personas.images import InvalidImage, normalise_image
from avatar.personas.repository import expressions_dir
from avatar.personas.schemas import Persona
from avatar.personas.service import PersonaService

log = logging.getLogger(__name__)

PICTURE_SUFFIXES = {".png", ".webp", ".jpg", ".jpeg", ".gif"}
MAX_PACK_FILES = 500
MAX_PACK_BYTES = 200 * 1024 * 1024  # unpacked; a zip bomb is refused before it is inflated
_NAME = re.compile(r"^(?P<label>[a-z]+)(?:[-_ ]?\d+)?$")


class SpritePackError(InvalidInputError):
    """A sprite pack that cannot be imported; the message says why in one line."""


@dataclass
class PackImport:
    labels: list[str]  # the labels imported
    skipped: list[str] = field(default_factory=list)  # file names that are not one of the 28 labels

    def summary(self) -> str:
        text = f"{len(self.labels)} of the {len(LABELS)} expressions imported"
        if missing := [label for label in LABELS if label not in self.labels]:
            text += f" (the others show the portrait: {', '.join(missing[:6])}{'…' if len(missing) > 6 else ''})"
        if self.skipped:
            text += f". Skipped, not an expression label: {', '.join(self.skipped[:6])}"
        return text + "."


def read_pack(source: Path | bytes | list[Path]) -> tuple[dict[str, bytes], list[str]]:
    """({label: raw picture bytes}, skipped names) from a folder, a zip (path or bytes), or loose pictures
    (a list of files, as the page uploads them; a zip among them is read as a pack)."""
    entries: list[tuple[str, bytes]] = []
    if isinstance(source, list):
        for path in source[:MAX_PACK_FILES]:
            if path.suffix.lower() == ".zip":
                entries += _zip_entries(_read(path))
            elif _is_picture(path.name):
                entries.append((path.name, _read(path)))
    elif isinstance(source, Path) and source.is_dir():
        files = [p for p in sorted(source.rglob("*")) if p.is_file()]
        if len(files) > MAX_PACK_FILES:
            raise SpritePackError(f"The folder holds {len(files)} files; a sprite pack has at most {MAX_PACK_FILES}.")
        entries = [(p.relative_to(source).as_posix(), p.read_bytes()) for p in files if _is_picture(p.name)]
    else:
        data = source if isinstance(source, bytes) else _read(source)
        entries = _zip_entries(data)
    sprites: dict[str, bytes] = {}
    skipped: list[str] = []
    for name, data in entries:
        path = PurePosixPath(name)
        if len(path.parts) > 2 or any(part.startswith((".", "__MACOSX")) for part in path.parts):
            continue  # deeper folders and the Finder's leftovers are not part of a pack
        match = _NAME.match(path.stem.lower())
        label = match.group("label") if match else ""
        if label not in LABELS:
            skipped.append(path.name)
        elif label not in sprites:
            sprites[label] = data
    return sprites, skipped


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise SpritePackError(f"{path} does not exist: give a folder of <label>.png files or a .zip of one.") from None
    except OSError as error:
        raise SpritePackError(f"{path} cannot be read: {error.strerror or error}.") from None


def _zip_entries(data: bytes) -> list[tuple[str, bytes]]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise SpritePackError("Not a sprite pack: give a folder of <label>.png files or a .zip of one.") from None
    with archive:
        infos = [info for info in archive.infolist() if not info.is_dir() and _is_picture(info.filename)]
        if len(infos) > MAX_PACK_FILES:
            raise SpritePackError(f"The zip holds {len(infos)} pictures; a sprite pack has at most {MAX_PACK_FILES}.")
        if sum(info.file_size for info in infos) > MAX_PACK_BYTES:
            raise SpritePackError("The zip unpacks to more than 200 MB: that is not a sprite pack.")
        try:
            return [(info.filename, archive.read(info)) for info in infos]
        except (zipfile.BadZipFile, OSError, EOFError) as error:
            raise SpritePackError(f"The zip is damaged: {error}.") from None


def _is_picture(name: str) -> bool:
    return PurePosixPath(name).suffix.lower() in PICTURE_SUFFIXES


class SpriteStore:
    """Finds, imports and exports the sprites of the personas that `personas` knows."""

    def __init__(self, personas: PersonaService) -> None:
        self.personas = personas

    # -- finding ---------------------------------------------------------------------------------
    def sprite_path(self, persona: Persona, label: str) -> Path | None:
        for folder in self.personas.expression_folders(persona):
            _recover(folder)
            path = folder / f"{label}.png"
            if path.is_file():
                return path
        return None

    def labels(self, persona: Persona) -> list[str]:
        return [label for label in LABELS if self.sprite_path(persona, label) is not None]

    def face(self, persona: Persona | None, label: str | None = None) -> Path | None:
        """A file the page can show for the persona with `label`: its sprite, else its portrait, else a
        face drawn from its name (with that expression). Copied into the run's scratch folder, which
        Gradio serves (the persona folders are not served)."""
        if persona is None:
            return None
        label = label if label in LABELS else None
        source = self.sprite_path(persona, label) if label else None
        source = source or self.personas.image_path(persona)
        if source is not None:
            try:
                return served_copy(source.read_bytes())
            except OSError:
                log.warning("persona %s: picture %s unreadable; drawing a face", persona.id, source.name)
        drawn = (persona.name, label or NEUTRAL)
        if drawn not in _drawn or not _drawn[drawn].exists():
            _drawn[drawn] = served_copy(generated_face(*drawn))
        return _drawn[drawn]

    # -- changing --------------------------------------------------------------------------------
    def import_pack(self, persona_id: str, source: Path | bytes | list[Path]) -> PackImport:
        """Import a SillyTavern sprite pack for the persona: its labels replace the ones it had."""
        persona = self.personas.get(persona_id)
        raw, skipped = read_pack(source)
        if not raw:
            raise SpritePackError(
                "No expression sprites found: name the pictures after the labels (joy.png, anger.png, …)"
                + (f"; found {', '.join(skipped[:4])}." if skipped else ".")
            )
        sprites: dict[str, bytes] = {}
        for label, data in raw.items():
            try:
                sprites[label] = normalise_image(data)
            except InvalidImage as error:
                raise SpritePackError(f"{label}: {error.message}") from None
        self.write(persona.id, sprites)
        log.info("persona %s: imported %d expression sprites", persona.id, len(sprites))
        return PackImport(labels=[label for label in LABELS if label in sprites], skipped=skipped)

    def write(self, persona_id: str, sprites: dict[str, bytes]) -> None:
        """Add (or replace) sprites in the user's folder for the persona, all at once."""
        folder = expressions_dir(self.personas.user_dir, persona_id)
        _recover(folder)
        staging = folder.with_name(f"{folder.name}.new-{secrets.token_hex(4)}")
        try:
            shutil.copytree(folder, staging) if folder.is_dir() else staging.mkdir(parents=True)
            for label, data in sprites.items():
                atomic_write_bytes(staging / f"{label}.png", data)
            _swap(staging, folder)
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def _swap(new: Path, folder: Path) -> None:
    """Put `new` in place of `folder`. A crash between the two renames leaves `<folder>.old`, which
    _recover() puts back: a reader never sees half of an import."""
    old = folder.with_name(f"{folder.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if folder.is_dir():
        folder.rename(old)
    new.rename(folder)
    shutil.rmtree(old, ignore_errors=True)


def _recover(folder: Path) -> None:
    old = folder.with_name(f"{folder.name}.old")
    if not old.is_dir():
        return
    with contextlib.suppress(OSError):
        if folder.is_dir():
            shutil.rmtree(old)  # the swap had finished: the old one is garbage
        else:
            old.rename(folder)  # interrupted between the renames: the previous sprites come back


_drawn: dict[tuple[str, str], Path] = {}  # drawing a face takes ~10 ms: once per name and label


def served_copy(data: bytes) -> Path:
    """`data` as a file in the run's scratch folder (which Gradio serves), named by its content."""
    name = hashlib.sha256(data).hexdigest()[:32]
    path = scratch.folder("faces") / f"{name}.png"
    if not path.exists():
        atomic_write_bytes(path, data)
    return path
