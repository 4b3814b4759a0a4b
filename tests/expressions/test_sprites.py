"""SillyTavern sprite packs in, cards with their sprites out and back in, and the face each view shows."""

from __future__ import annotations

import io
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from avatar.core.settings import PROJECT_ROOT, Settings
from avatar.expressions.labels import LABELS
from avatar.expressions.sprites import SpritePackError, SpriteStore
from avatar.personas.cards import parse_card
from avatar.personas.schemas import PersonaFile
from avatar.personas.service import PersonaService


def sprite(label: str, colour: tuple[int, int, int] | None = None) -> bytes:
    """A 64x96 picture whose colour says which label it is."""
    index = LABELS.index(label)
    out = io.BytesIO()
    Image.new("RGB", (64, 96), colour or (index * 9, 255 - index * 9, 128)).save(out, format="PNG")
    return out.getvalue()


def colour_of(png: bytes) -> tuple[int, ...]:
    return Image.open(io.BytesIO(png)).convert("RGB").getpixel((5, 5))


def sillytavern_pack(tmp_path: Path) -> Path:
    """A zip as SillyTavern users share them: a folder named after the character, <label>.png inside,
    plus what such zips also carry (a second sprite for a label, a custom label, the Finder's leftovers)."""
    path = tmp_path / "Seraphina.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for label in LABELS:
            archive.writestr(f"Seraphina/{label}.png", sprite(label))
        archive.writestr("Seraphina/joy-2.png", sprite("joy", (1, 2, 3)))  # SillyTavern's second joy sprite
        archive.writestr("Seraphina/smug.png", sprite("pride"))  # a custom label: not one of the 28
        archive.writestr("__MACOSX/Seraphina/._joy.png", b"\x00\x05\x16\x07")
    return path


@pytest.fixture
def personas(tmp_path) -> PersonaService:
    service = PersonaService(PROJECT_ROOT / "personas", tmp_path / "user")
    service.create(PersonaFile(name="Seraphina", greeting="Hello."))
    return service


def test_a_sillytavern_zip_imports_all_28_and_says_what_it_skipped(personas, tmp_path):
    store = SpriteStore(personas)
    result = store.import_pack("seraphina", sillytavern_pack(tmp_path))
    assert result.labels == list(LABELS) and result.skipped == ["smug.png"]
    seraphina = personas.get("seraphina")
    assert store.labels(seraphina) == list(LABELS)
    for label in ("joy", "anger", "surprise"):
        assert colour_of(store.sprite_path(seraphina, label).read_bytes()) == colour_of(sprite(label))
    assert sorted(p.name for p in (tmp_path / "user").iterdir()) == ["seraphina.expressions", "seraphina.yaml"]


def test_a_folder_with_some_labels_adds_to_the_set_and_the_rest_falls_back_to_the_portrait(personas, tmp_path):
    store = SpriteStore(personas)
    store.import_pack("seraphina", sillytavern_pack(tmp_path))
    folder = tmp_path / "more"
    folder.mkdir()
    (folder / "Joy.png").write_bytes(sprite("joy", (200, 10, 10)))  # names are read case-blind
    result = store.import_pack("seraphina", folder)
    seraphina = personas.get("seraphina")
    assert result.labels == ["joy"]
    assert colour_of(store.sprite_path(seraphina, "joy").read_bytes()) == (200, 10, 10)
    assert store.sprite_path(seraphina, "anger") is not None  # the earlier pack's other sprites stay


def test_a_pack_with_nothing_usable_or_a_broken_picture_changes_nothing(personas, tmp_path):
    store = SpriteStore(personas)
    empty = tmp_path / "empty.zip"
    with zipfile.ZipFile(empty, "w") as archive:
        archive.writestr("readme.txt", "hi")
        archive.writestr("happy.png", sprite("joy"))
    with pytest.raises(SpritePackError, match="name the pictures after the labels"):
        store.import_pack("seraphina", empty)
    broken = tmp_path / "broken.zip"
    with zipfile.ZipFile(broken, "w") as archive:
        archive.writestr("joy.png", sprite("joy"))
        archive.writestr("anger.png", b"not a picture")
    with pytest.raises(SpritePackError, match="anger: The picture cannot be read"):
        store.import_pack("seraphina", broken)
    with pytest.raises(SpritePackError, match="Not a sprite pack"):
        store.import_pack("seraphina", b"plain bytes")
    assert store.labels(personas.get("seraphina")) == []
    assert not (tmp_path / "user" / "seraphina.expressions").exists()


def test_faces_fall_back_from_sprite_to_portrait_to_a_face_drawn_from_the_name(personas, tmp_path):
    store = SpriteStore(personas)
    aria = personas.get("aria")
    assert store.face(aria, "anger").read_bytes() == (PROJECT_ROOT / "personas/aria.expressions/anger.png").read_bytes()
    assert store.face(aria, None).read_bytes() == (PROJECT_ROOT / "personas/aria.png").read_bytes()
    seraphina = personas.get("seraphina")  # no picture, no sprites
    drawn_joy, drawn_anger = store.face(seraphina, "joy"), store.face(seraphina, "anger")
    assert drawn_joy.read_bytes() != drawn_anger.read_bytes()
    assert drawn_joy == store.face(seraphina, "joy")  # drawn once
    # A user's copy of Aria with a picture of its own no longer shows the shipped Aria's sprites.
    personas.update("aria", PersonaFile(name="Aria"), image=sprite("neutral", (0, 0, 255)))
    assert (
        store.face(personas.get("aria"), "anger").read_bytes() == personas.image_path(personas.get("aria")).read_bytes()
    )


def test_card_export_carries_the_sprites_and_importing_it_brings_them_back(personas, tmp_path):
    store = SpriteStore(personas)
    store.import_pack("seraphina", sillytavern_pack(tmp_path))
    card = personas.export_card("seraphina", tmp_path / "seraphina.png")
    parsed = parse_card(card.read_bytes(), card.name)
    assert sorted(parsed.sprites) == sorted(LABELS) and parsed.warnings == []
    again, warnings = personas.import_card(card)
    assert warnings == [] and again.id == "seraphina-2"
    assert store.labels(again) == list(LABELS)
    assert colour_of(store.sprite_path(again, "fear").read_bytes()) == colour_of(sprite("fear"))
    # The shipped characters' cards carry their 28 sprites too.
    vega = parse_card(personas.export_card("captain-vega", tmp_path / "vega.png").read_bytes(), "vega.png")
    assert len(vega.sprites) == 28


def test_duplicating_and_deleting_take_the_sprites_along(personas, tmp_path):
    store = SpriteStore(personas)
    store.import_pack("seraphina", sillytavern_pack(tmp_path))
    copy = personas.duplicate("seraphina")
    assert store.labels(copy) == list(LABELS)
    personas.delete(copy.id)
    assert not (tmp_path / "user" / f"{copy.id}.expressions").exists()
    assert store.labels(personas.get("seraphina")) == list(LABELS)


def test_import_expressions_command(tmp_path):
    data = tmp_path / "data"
    settings = Settings(data_dir=data)
    pack = sillytavern_pack(tmp_path)
    run = [sys.executable, str(PROJECT_ROOT / "app.py"), "import-expressions", str(pack), "--data-dir", str(data)]
    done = subprocess.run([*run, "--persona", "aria"], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "28 of the 28 expressions imported" in done.stdout and "smug.png" in done.stdout
    assert (settings.user_personas_dir / "aria.expressions" / "joy.png").is_file()
    missing = subprocess.run([*run, "--persona", "nobody"], capture_output=True, text=True, timeout=60, check=False)
    assert missing.returncode == 2 and "there is no persona 'nobody'" in missing.stderr
