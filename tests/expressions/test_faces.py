"""Every character has a face: the shipped ones a portrait and 28 sprites, the others one drawn from the name."""

from __future__ import annotations

import io

from PIL import Image

from avatar.core.settings import PROJECT_ROOT
from avatar.expressions.faces import generated_face
from avatar.expressions.labels import LABELS
from avatar.personas.card_export import export_png
from avatar.personas.cards import parse_card
from avatar.personas.schemas import PersonaFile
from avatar.personas.service import PersonaService


def pixels(png: bytes) -> Image.Image:
    return Image.open(io.BytesIO(png)).convert("RGB")


def test_shipped_characters_have_a_portrait_and_a_sprite_per_label(tmp_path):
    service = PersonaService(PROJECT_ROOT / "personas", tmp_path)
    for persona in service.list():
        portrait = service.image_path(persona)
        assert portrait is not None, f"{persona.id} has no picture"
        assert pixels(portrait.read_bytes()).size == (384, 384)
        sprites = PROJECT_ROOT / "personas" / f"{persona.id}.expressions"
        assert sorted(p.stem for p in sprites.glob("*.png")) == sorted(LABELS)
    assert "CC0" in (PROJECT_ROOT / "personas" / "README.md").read_text()


def test_a_generated_face_is_the_same_for_a_name_and_differs_between_names_and_labels():
    face = generated_face("Seraphina")
    assert face == generated_face("Seraphina")
    assert pixels(face).size == (384, 384)
    assert pixels(face).getcolors(1 << 16) is not None and len(pixels(face).getcolors(1 << 16)) > 3  # not a flat square
    assert face != generated_face("Bob")
    assert face != generated_face("Seraphina", "anger")
    assert generated_face("Seraphina", "joy") != generated_face("Seraphina", "sadness")


def test_a_card_exported_without_a_picture_carries_the_generated_face():
    card = export_png(PersonaFile(name="Nobody"))
    parsed = parse_card(card, "nobody.png")
    assert parsed.image is not None
    assert pixels(parsed.image).size == (400, 600)
    assert pixels(parsed.image).getpixel((200, 300)) != pixels(parsed.image).getpixel((5, 5))
