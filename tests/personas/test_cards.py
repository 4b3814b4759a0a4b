"""Cards in and out: V1/V2/V3 JSON and PNG cards map to persona fields; exports follow the spec and round-trip."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image

from avatar.core.settings import PROJECT_ROOT
from avatar.llm.prompt import HistoryItem, build_prompt
from avatar.personas.card_export import card_v2, card_v3, export_json, export_png
from avatar.personas.card_format import EXTENSION_KEY, CardExtras
from avatar.personas.cards import parse_card
from avatar.personas.repository import LEGACY_POST_HISTORY_HEADING, load_persona
from avatar.personas.schemas import Persona, PersonaFile, StyleRules, VoiceSettings

from .cardkit import (
    V2_DATA_FIELDS,
    V2_REQUIRED,
    V3_REQUIRED,
    b64json,
    decode_b64json,
    png,
    png_texts,
    v1_card,
    v2_card,
    v3_card,
)

SHIPPED = sorted((PROJECT_ROOT / "personas").glob("*.yaml"))


def as_json(card: dict) -> bytes:
    return json.dumps(card).encode("utf-8")


def persona_fields(persona: PersonaFile) -> dict:
    return persona.model_dump(include=set(PersonaFile.model_fields) - {"image"})


def full_persona() -> PersonaFile:
    """A persona using every field we have, in the canonical form an import produces."""
    return PersonaFile(
        name="Doctor Lin",
        tagline="A calm ship's doctor.",
        description="Lin runs the infirmary.\nShe hums while she works.",
        personality="calm, dry humour",
        scenario="{{user}} limps into the infirmary.",
        system_prompt="Keep it short.",
        post_history_instructions="Never give real medical advice.",
        character_note="{{char}} is calm, whatever {{user}} says.",
        character_note_depth=2,
        style=StyleRules(do=["Ask how {{user}} feels."], dont=["Lecture."]),
        example_dialogues=["{{user}}: Ow.\n{{char}}: Sit. Let me look.", "{{user}}: Thanks.\n{{char}}: Anytime."],
        greeting="What did you break this time, {{user}}?",
        alternate_greetings=["Back again?"],
        boundaries=["Suggests a real doctor for real injuries."],
        voice=VoiceSettings(id="en_US-amy-medium", rate=1.1),
        memory_policy="permissive",
        tags=["sci-fi", "doctor"],
        creator_notes="Made for a space campaign.",
    )


# Reading ---------------------------------------------------------------------------------------


def test_v2_json_card_maps_to_persona_fields():
    card = parse_card(as_json(v2_card()), "seraphina.json")
    persona = card.persona
    assert persona.name == "Seraphina"
    assert persona.description.startswith("{{char}} is the guardian")
    assert persona.personality == "kind, protective, quietly funny"
    assert persona.scenario == "{{user}} wakes up in {{char}}'s glade after a storm."
    assert persona.greeting == "*Seraphina smiles.* You're awake, {{user}}. How do you feel?"
    assert persona.example_dialogues == [
        "{{user}}: Who are you?\n{{char}}: I'm Seraphina, keeper of this forest.",
        "{{user}}: Where am I?\n{{char}}: Somewhere safe, in my glade.",
    ]
    assert persona.alternate_greetings == ["Oh! You're up already.", "Rest a little longer, {{user}}."]
    assert persona.tags == ["fantasy", "guardian"]
    # {{original}} (the app's own system prompt, which we always send) is dropped, not sent literally.
    assert persona.system_prompt == "Write one vivid paragraph per reply."
    assert persona.post_history_instructions == "Stay in the first person; never speak for {{user}}."
    assert persona.creator_notes == "Works best with a warm, descriptive model."
    assert (persona.character_note, persona.character_note_depth) == ("Be gentle.", 4)  # extensions.depth_prompt
    assert card.image is None
    extras = card.extras
    assert extras.spec == "chara_card_v2"
    assert extras.creator_notes == ""  # in the persona now, not in the sidecar
    assert (extras.creator, extras.character_version) == ("cardmaker", "1.2")
    assert extras.extensions == {"talkativeness": "0.5"}  # depth_prompt lives in the persona's fields now


def test_post_history_instructions_reach_the_prompt_and_creator_notes_do_not():
    persona = parse_card(as_json(v2_card())).persona
    built = build_prompt(
        Persona(**persona.model_dump(), id="seraphina"),
        [HistoryItem("user", "Hello?")],
        user_name="Sam",
        context_tokens=4096,
        reply_tokens=256,
    )
    last = built.messages[-1]
    assert (last.role, last.content) == ("system", "Stay in the first person; never speak for Sam.")
    everything = "\n".join(m.content for m in built.messages)
    assert "Works best with a warm" not in everything
    assert "{{original}}" not in everything and "<BOT>" not in everything


def test_a_file_from_the_old_import_gets_its_post_history_instructions_back(tmp_path):
    path = tmp_path / "old.yaml"
    path.write_text(
        "name: Old\nsystem_prompt: |\n  Be brief.\n\n  " + LEGACY_POST_HISTORY_HEADING + "\n  Never break character.\n"
    )
    persona = load_persona(path, builtin=False)
    assert persona.system_prompt == "Be brief."
    assert persona.post_history_instructions == "Never break character.\n"
    only = tmp_path / "only.yaml"
    only.write_text("name: Only\nsystem_prompt: |\n  " + LEGACY_POST_HISTORY_HEADING + "\n  Stay kind.\n")
    persona = load_persona(only, builtin=False)
    assert (persona.system_prompt, persona.post_history_instructions) == ("", "Stay kind.\n")


def test_old_sidecar_creator_notes_are_still_read_and_exported(tmp_path):
    from avatar.personas.service import PersonaService

    user = tmp_path / "user"
    user.mkdir()
    (user / "old.yaml").write_text("name: Old\n")
    (user / "old.card.json").write_text(json.dumps({"spec": "chara_card_v2", "creator_notes": "From the sidecar."}))
    service = PersonaService(tmp_path / "none", user)
    persona = service.get("old")
    assert persona.creator_notes == "From the sidecar."
    out = service.export_card("old", tmp_path / "old.json")
    assert json.loads(out.read_text())["data"]["creator_notes"] == "From the sidecar."


def test_character_book_becomes_lore_entries_for_memory():
    card = parse_card(as_json(v2_card()))
    lore = card.lore
    assert [entry.content for entry in lore] == [
        "The glade is hidden from outsiders by old magic.",
        "Seraphina never lies to a guest.",  # decorators trimmed, as V3 asks
    ]  # the disabled entry is not among them
    glade, honesty = lore
    assert glade.keys == ["glade", "clearing"] and glade.name == "The glade" and not glade.constant
    assert honesty.constant and honesty.name == "honesty" and honesty.insertion_order == 5
    # The raw book is kept whole, unknown keys included, so that export loses nothing.
    assert card.extras.character_book["entries"][2]["extensions"] == {"x_app": {"keep": True}}
    assert card.extras.character_book["scan_depth"] == 4


def test_v3_json_card():
    card = parse_card(as_json(v3_card()), "seraphina.json")
    assert card.persona.name == "Seraphina Three"
    assert card.extras.spec == "chara_card_v3"
    assert card.extras.v3 == {
        "nickname": "Sera",
        "source": ["https://example.invalid/cards/seraphina"],
        "group_only_greetings": ["Hello, everyone."],
        "creator_notes_multilingual": {
            "en": "Works best with a warm, descriptive model.",
            "fr": "Un modèle chaleureux.",
        },
        "creation_date": 1_700_000_000,
    }
    assert any("nickname" in warning for warning in card.warnings)
    assert len(card.lore) == 2


def test_v3_newer_version_is_imported_with_a_warning():
    card = v3_card()
    card["spec_version"] = "3.1"
    parsed = parse_card(as_json(card))
    assert parsed.persona.name == "Seraphina Three"
    assert any("newer spec version (3.1)" in warning for warning in parsed.warnings)


def test_v1_flat_card_and_legacy_macros():
    persona = parse_card(as_json(v1_card()), "old.json").persona
    assert persona.name == "Old Timer"
    assert persona.description == "A V1 card: {{char}} talks to {{user}}."
    assert persona.greeting == "Get off my lawn, {{user}}."
    assert persona.example_dialogues == ["{{user}}: Hi\n{{char}}: Hmph."]


def test_v2_png_card_and_its_picture():
    data = png({"chara": b64json(v2_card()), "Comment": "kept"}, size=(40, 60))
    card = parse_card(data, "seraphina.png")
    assert card.persona.name == "Seraphina"
    assert card.image is not None
    texts = png_texts(card.image)
    assert "chara" not in texts and texts.get("Comment") == "kept"  # only the card data is taken out
    with Image.open(io.BytesIO(card.image)) as image:
        assert image.size == (40, 60)
        assert image.convert("RGB").getpixel((0, 0)) == (200, 100, 50)


def test_png_with_both_chunks_prefers_ccv3():
    data = png({"chara": b64json(v2_card(name="Two")), "ccv3": b64json(v3_card(name="Three"))})
    assert parse_card(data, "card.png").persona.name == "Three"


def test_png_with_a_broken_ccv3_falls_back_to_chara_with_a_warning():
    data = png({"chara": b64json(v2_card(name="Two")), "ccv3": "!!! not base64 !!!"})
    parsed = parse_card(data, "card.png")
    assert parsed.persona.name == "Two"
    assert any("'ccv3'" in warning for warning in parsed.warnings)


def test_compressed_itxt_card_chunk_is_read():
    data = png({"chara": b64json(v2_card(name="Zipped"))}, itxt=True)
    assert parse_card(data, "card.png").persona.name == "Zipped"


def test_model_from_a_card_is_not_applied():
    card = v2_card()
    card["data"]["extensions"][EXTENSION_KEY] = {"model": "some-70b-model", "tagline": "hi"}
    parsed = parse_card(as_json(card))
    assert parsed.persona.model is None and parsed.persona.tagline == "hi"
    assert any("some-70b-model" in warning for warning in parsed.warnings)


def test_windows_line_ends_and_control_characters_are_cleaned():
    parsed = parse_card(as_json(v2_card(description="line one\r\nline two\x07", name=" Spaced\x00 ")))
    assert parsed.persona.description == "line one\nline two"
    assert parsed.persona.name == "Spaced"
    assert parse_card(as_json(v2_card(name="Elara\n## System\tVoss"))).persona.name == "Elara ## System Voss"


# Writing ---------------------------------------------------------------------------------------


def test_v2_json_export_follows_the_spec():
    persona = full_persona()
    card = json.loads(export_json(persona))
    assert card["spec"] == "chara_card_v2" and card["spec_version"] == "2.0"
    data = card["data"]
    assert set(V2_REQUIRED) <= set(data) <= set(V2_DATA_FIELDS)
    assert isinstance(data["extensions"], dict)
    for key in ("alternate_greetings", "tags"):
        assert isinstance(data[key], list)
    for key in set(V2_REQUIRED) - {"alternate_greetings", "tags", "extensions"}:
        assert isinstance(data[key], str), key
    assert data["first_mes"] == persona.greeting
    assert data["mes_example"] == (
        "<START>\n{{user}}: Ow.\n{{char}}: Sit. Let me look.\n<START>\n{{user}}: Thanks.\n{{char}}: Anytime.\n"
    )
    assert data["system_prompt"] == "Keep it short."
    assert data["post_history_instructions"] == "Never give real medical advice."
    assert data["creator_notes"] == "Made for a space campaign."
    assert data["extensions"][EXTENSION_KEY] == {
        "tagline": "A calm ship's doctor.",
        "style": {"do": ["Ask how {{user}} feels."], "dont": ["Lecture."]},
        "boundaries": ["Suggests a real doctor for real injuries."],
        "voice": {"id": "en_US-amy-medium", "rate": 1.1},
        "memory_policy": "permissive",
    }


def test_png_export_carries_v2_and_v3_cards():
    persona = full_persona()
    data = export_png(persona)  # no picture: a plain placeholder
    texts = png_texts(data)
    v2, v3 = decode_b64json(texts["chara"]), decode_b64json(texts["ccv3"])
    assert v2 == card_v2(persona)
    assert v3["spec"] == "chara_card_v3" and v3["spec_version"] == "3.0"
    assert set(V3_REQUIRED) <= set(v3["data"])
    assert v3["data"]["group_only_greetings"] == []
    assert isinstance(v3["data"]["modification_date"], int)
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "PNG" and image.size == (400, 600)


def test_png_export_uses_the_persona_picture_and_replaces_stale_card_chunks():
    picture = png({"chara": b64json(v2_card(name="Stale"))}, size=(30, 45))
    data = export_png(full_persona(), picture)
    parsed = parse_card(data, "out.png")
    assert parsed.persona.name == "Doctor Lin"
    with Image.open(io.BytesIO(data)) as image:
        assert image.size == (30, 45)


def test_png_export_converts_a_jpeg_picture():
    out = io.BytesIO()
    Image.new("RGB", (32, 48), (10, 120, 200)).save(out, format="JPEG")
    data = export_png(full_persona(), out.getvalue())
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "PNG" and image.size == (32, 48)


def test_lorebook_entries_get_use_regex_in_v3():
    card = parse_card(as_json(v2_card()))
    v3 = card_v3(card.persona, card.extras)
    assert all(entry["use_regex"] is False for entry in v3["data"]["character_book"]["entries"])
    assert "use_regex" not in card.extras.character_book["entries"][0]  # the saved copy is untouched


# Round trips -----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
@pytest.mark.parametrize("kind", ["json", "png"])
def test_shipped_personas_round_trip(path, kind):
    persona = load_persona(path, builtin=True)
    exported = export_json(persona) if kind == "json" else export_png(persona)
    again = parse_card(exported, f"{persona.id}.{kind}").persona
    expected = persona_fields(persona)
    # Example blocks are trimmed on import: "<START>" separates them, so outer whitespace cannot survive.
    expected["example_dialogues"] = [block.strip() for block in expected["example_dialogues"]]
    expected["model"] = None  # never taken from a card
    assert persona_fields(again) == expected


@pytest.mark.parametrize("kind", ["json", "png"])
def test_full_persona_round_trips_exactly(kind):
    persona = full_persona()
    exported = export_json(persona) if kind == "json" else export_png(persona)
    assert persona_fields(parse_card(exported, f"x.{kind}").persona) == persona_fields(persona)


@pytest.mark.parametrize("source", ["v2", "v3"])
def test_imported_card_exports_back_without_losing_anything(source):
    original = v2_card() if source == "v2" else v3_card()
    first = parse_card(png({"chara": b64json(original)} if source == "v2" else {"ccv3": b64json(original)}))
    exported = export_png(first.persona, first.image, first.extras)
    second = parse_card(exported, "again.png")
    assert persona_fields(second.persona) == persona_fields(first.persona)
    # Creator notes, unknown extensions, the lorebook and the V3 fields all come back. The PNG's
    # ccv3 chunk is read first, so a V2 card returns as V3, with the use_regex V3 requires.
    assert second.extras.spec == "chara_card_v3"
    again = second.extras.model_dump(exclude={"spec"})
    for entry in again["character_book"]["entries"]:
        if "use_regex" not in original["data"]["character_book"]["entries"][0]:
            assert entry.pop("use_regex") is False
    assert again == first.extras.model_dump(exclude={"spec"})
    v2 = decode_b64json(png_texts(exported)["chara"])["data"]
    assert v2["extensions"]["depth_prompt"] == original["data"]["extensions"]["depth_prompt"]
    assert v2["creator_notes"] == original["data"]["creator_notes"]
    assert v2["post_history_instructions"] == original["data"]["post_history_instructions"]


def test_extras_survive_json_serialisation():
    extras = parse_card(as_json(v3_card())).extras
    assert CardExtras.model_validate_json(extras.model_dump_json()) == extras
