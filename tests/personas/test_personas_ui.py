"""The Personas tab's handlers, called as Gradio calls them, over the real services (and the fake Ollama)."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import gradio as gr
import yaml
from PIL import Image

from avatar.core.settings import PROJECT_ROOT
from avatar.personas.form import FORM_FIELDS
from avatar.personas.ui import PersonasTab

from .cardkit import b64json, png, png_texts, v2_card

VIEW = [
    "current_id",
    "heading",
    *FORM_FIELDS,
    "gallery",
    "ids",
    "status",
    "confirm",
    "exported",
    "chat",
    "chat_id",
    "rev",
]
BUILTIN = PROJECT_ROOT / "personas"


def view(result) -> dict:
    assert len(result) == len(VIEW)
    return dict(zip(VIEW, result, strict=True))


def form(tab: PersonasTab, persona_id: str | None = None, **changes) -> list:
    persona = tab.ctx.personas.get(persona_id) if persona_id else None
    values = dict(zip(FORM_FIELDS, tab.form_values(persona), strict=True))
    values.update(changes)
    return [values[name] for name in FORM_FIELDS]


def picture(colour=(10, 120, 200), size=(60, 90), kind="PNG") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format=kind)
    return out.getvalue()


def test_load_lists_every_persona_with_a_picture_and_opens_the_first(ctx):
    shown = view(PersonasTab(ctx).load())
    assert shown["ids"] == [p.id for p in ctx.personas.list()]
    items = shown["gallery"]["value"]
    assert [caption for _, caption in items] == [p.name for p in ctx.personas.list()]
    assert all(Image.open(path).format == "PNG" for path, _ in items)  # placeholders for built-ins
    assert shown["current_id"] == ctx.personas.default_id() and shown["gallery"]["selected_index"] == 0
    assert shown["name"] == ctx.personas.list()[0].name


def test_create_a_persona_with_every_field(ctx, settings, tmp_path):
    tab = PersonasTab(ctx)
    blank = view(tab.new())
    assert blank["current_id"] is None and blank["name"] == "" and "New character" in blank["heading"]
    upload = tmp_path / "me.jpg"
    upload.write_bytes(picture(kind="JPEG"))
    values = form(
        tab,
        name="Nova",
        image=str(upload),
        tagline="A pilot.",
        description="{{char}} flies.",
        greeting="Hi {{user}}!",
        alternate_greetings="Yo.\n---\nHey\nthere.",
        style_do="Be brief.\n\nBe warm.",
        style_dont="Lecture.",
        example_dialogues="{{user}}: Hi\n{{char}}: Hey!\n<START>\n{{user}}: Bye\n{{char}}: See you.",
        boundaries="No medical advice.",
        voice_id="en_US-amy-medium",
        voice_rate=1.2,
        model="llama3.1:8b",
        memory_policy="permissive",
        tags="sci-fi, pilot",
        post_history_instructions="Stay brief.",
        creator_notes="Mine.",
    )
    shown = view(tab.save(None, *values))
    assert shown["status"] == "Created Nova." and shown["current_id"] == "nova"
    assert "nova" in shown["ids"] and ("Nova" in [c for _, c in shown["gallery"]["value"]])
    data = yaml.safe_load((settings.user_personas_dir / "nova.yaml").read_text())
    assert data["alternate_greetings"] == ["Yo.", "Hey\nthere."]
    assert data["style"] == {"do": ["Be brief.", "Be warm."], "dont": ["Lecture."]}
    assert data["example_dialogues"] == ["{{user}}: Hi\n{{char}}: Hey!", "{{user}}: Bye\n{{char}}: See you."]
    assert data["voice"] == {"id": "en_US-amy-medium", "rate": 1.2} and data["tags"] == ["sci-fi", "pilot"]
    assert data["post_history_instructions"] == "Stay brief." and data["creator_notes"] == "Mine."
    assert data["image"] == "nova.png" and data["model"] == "llama3.1:8b" and data["memory_policy"] == "permissive"
    with Image.open(settings.user_personas_dir / "nova.png") as stored:
        assert stored.format == "PNG" and stored.size == (60, 90)
    # What the form shows again is what was saved: saving it untouched changes nothing.
    before = (settings.user_personas_dir / "nova.yaml").read_text()
    assert view(tab.save("nova", *form(tab, "nova")))["status"] == "Saved Nova."
    assert (settings.user_personas_dir / "nova.yaml").read_text() == before
    assert (settings.user_personas_dir / "nova.png").exists()
    # Clearing the picture box removes the picture.
    view(tab.save("nova", *form(tab, "nova", image=None)))
    assert ctx.personas.get("nova").image is None and not (settings.user_personas_dir / "nova.png").exists()


def test_editing_a_builtin_saves_the_users_copy_and_delete_brings_the_original_back(ctx, settings):
    tab = PersonasTab(ctx)
    original = (BUILTIN / "aria.yaml").read_text()
    shown = view(tab.open("aria"))
    assert "Comes with the app" in shown["heading"]
    shown = view(tab.save("aria", *form(tab, "aria", tagline="My own Aria.")))
    assert shown["status"] == "Saved your copy of Aria." and "Your copy" in shown["heading"]
    assert (BUILTIN / "aria.yaml").read_text() == original
    copy = yaml.safe_load((settings.user_personas_dir / "aria.yaml").read_text())
    assert copy["tagline"] == "My own Aria." and copy["greeting"] == ctx.personas.get("aria").greeting
    assert not ctx.personas.get("aria").builtin

    confirm, question = tab.ask_delete("aria")
    assert confirm["visible"] and "original that comes with the app comes back" in question
    shown = view(tab.delete("aria"))
    assert "the original is back" in shown["status"] and shown["current_id"] == "aria"
    assert ctx.personas.get("aria").builtin and ctx.personas.get("aria").tagline != "My own Aria."
    assert not (settings.user_personas_dir / "aria.yaml").exists()

    confirm, refusal = tab.ask_delete("aria")
    assert not confirm["visible"] and "comes with the app and cannot be deleted" in refusal
    assert "cannot be deleted" in view(tab.delete("aria"))["status"]
    assert ctx.personas.get("aria").builtin


def test_validation_errors_point_at_the_field_and_keep_the_form(ctx, settings):
    tab = PersonasTab(ctx)
    result = view(tab.save(None, *form(tab, name="   ", tagline="kept")))
    assert result["status"] == "**Name**: must not be empty."
    assert all(result[key] == gr.update() for key in VIEW if key != "status")
    result = view(tab.save("aria", *form(tab, "aria", voice_rate=9)))
    assert result["status"] == "**Speaking rate**: input should be less than or equal to 4."
    result = view(tab.save("aria", *form(tab, "aria", name="x" * 81)))
    assert result["status"].startswith("**Name**: string should have at most 80 characters")
    assert list(settings.user_personas_dir.iterdir()) == []


def test_a_bad_picture_is_refused_with_a_message(ctx, tmp_path):
    tab = PersonasTab(ctx)
    bad = tmp_path / "not.png"
    bad.write_bytes(b"not an image")
    status = view(tab.save(None, *form(tab, name="Pic", image=str(bad))))["status"]
    assert status == "The picture cannot be read: use a PNG, JPEG or WebP image."
    assert "pic" not in [p.id for p in ctx.personas.list()]


def test_duplicate_copies_fields_and_picture_and_deletes_cleanly(ctx, settings, tmp_path):
    tab = PersonasTab(ctx)
    upload = tmp_path / "p.png"
    upload.write_bytes(picture())
    view(tab.save(None, *form(tab, name="Nova", image=str(upload), greeting="Hi!")))
    shown = view(tab.duplicate("nova"))
    assert shown["status"] == "Made a copy: Nova (copy)." and shown["current_id"] == "nova-copy"
    copy = ctx.personas.get("nova-copy")
    assert copy.greeting == "Hi!" and copy.image == "nova-copy.png"
    assert (settings.user_personas_dir / "nova-copy.png").read_bytes() == (
        settings.user_personas_dir / "nova.png"
    ).read_bytes()
    assert view(tab.duplicate("aria"))["current_id"] == "aria-copy"  # built-ins can be duplicated too

    confirm, question = tab.ask_delete("nova-copy")
    assert confirm["visible"] and "Delete Nova (copy)" in question
    shown = view(tab.delete("nova-copy"))
    assert shown["status"] == "Deleted Nova (copy)." and "nova-copy" not in shown["ids"]
    assert sorted(p.name for p in settings.user_personas_dir.iterdir()) == [
        "aria-copy.expressions",  # the shipped characters have portraits and expression sprites
        "aria-copy.png",
        "aria-copy.yaml",
        "nova.png",
        "nova.yaml",
    ]


def test_gallery_click_opens_the_persona_but_a_refresh_keeps_the_notice(ctx):
    tab = PersonasTab(ctx)
    ids = [p.id for p in ctx.personas.list()]
    shown = view(tab.select(ids, ids[0], gr.SelectData(None, {"index": 1, "value": None})))
    assert shown["current_id"] == ids[1]
    same = view(tab.select(ids, ids[1], gr.SelectData(None, {"index": 1, "value": None})))
    assert all(value == gr.update() for value in same.values())


def test_import_and_export_through_the_handlers(ctx, settings, tmp_path):
    tab = PersonasTab(ctx)
    card = tmp_path / "Seraphina.png"
    card.write_bytes(png({"chara": b64json(v2_card())}))
    *result, cleared = tab.import_card(str(card))
    shown = view(result)
    assert cleared is None and shown["current_id"] == "seraphina" and shown["status"].startswith("Imported Seraphina.")
    assert shown["post_history_instructions"] == "Stay in the first person; never speak for {{user}}."
    assert shown["creator_notes"] == "Works best with a warm, descriptive model."
    assert shown["image"] is not None and "seraphina" in shown["ids"]

    files, status = tab.export("seraphina")
    assert files["visible"] and "PNG picture and a JSON file" in status
    png_path, json_path = files["value"]
    assert json.loads(Path(json_path).read_text(encoding="utf-8"))["data"]["name"] == "Seraphina"
    assert "chara" in png_texts(Path(png_path).read_bytes())
    again = view(tab.import_card(png_path)[:-1])
    assert again["current_id"] == "seraphina-2" and again["description"] == shown["description"]

    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    *result, _ = tab.import_card(str(bad))
    assert (
        view(result)["status"]
        == "Could not import bad.json: The card is a JSON array, not an object with the card's fields."
    )
    files, status = tab.export(None)
    assert not files["visible"] and "Save this character first" in status


def test_import_shows_the_cards_warnings(ctx, tmp_path):
    card = v2_card()
    card["data"]["extensions"]["local_avatar"] = {"model": "some-70b-model"}
    path = tmp_path / "w.json"
    path.write_text(json.dumps(card))
    status = view(PersonasTab(ctx).import_card(str(path))[:-1])["status"]
    assert status.startswith("Imported Seraphina.\n- ") and "some-70b-model" in status


def test_preview_chat_talks_to_the_saved_persona_in_a_fresh_conversation(ctx, fake_ollama):
    tab = PersonasTab(ctx)
    fake_ollama.script("Hello from the preview!", "Second answer.")

    async def run(*args):
        return [item async for item in tab.preview_send(*args)]

    yields = asyncio.run(run("Hi there", "aria", None, []))
    box, chat, conversation_id, notice = yields[-1]
    assert box == "" and notice == "" and conversation_id
    assert [m["content"] for m in chat][-2:] == ["Hi there", "Hello from the preview!"]
    assert chat[0]["role"] == "assistant"  # the greeting
    yields = asyncio.run(run("Again", "aria", conversation_id, chat))
    assert yields[-1][1][-1]["content"] == "Second answer." and yields[-1][2] == conversation_id
    assert len(yields[-1][1]) == len(chat) + 2
    assert asyncio.run(run("Hi", None, None, []))[-1][-1] == "Save this character first to try it."
    assert tab.preview_reset() == ([], None, "")


def test_refresh_choices_for_another_tabs_dropdown(ctx):
    tab = PersonasTab(ctx)
    update = tab.refresh_choices("captain-vega")
    assert update["value"] == "captain-vega" and ("Aria", "aria") in update["choices"]
    assert tab.refresh_choices("gone")["value"] == ctx.personas.default_id()
