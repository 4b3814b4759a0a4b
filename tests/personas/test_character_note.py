"""SillyTavern's Character's Note (a card's extensions.depth_prompt): a site card's note becomes the persona's
character_note, reaches the model at its depth on every turn (macros filled, kept when old history is trimmed),
is edited in the Personas tab, and goes back out as extensions.depth_prompt in V2 and V3 cards."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import yaml

from avatar.context import create_context
from avatar.conversations.schemas import MessageStatus
from avatar.core.settings import Settings
from avatar.llm.tokens import message_tokens
from avatar.personas.cards import parse_card
from avatar.personas.ui import PersonasTab

from .cardkit import b64json, decode_b64json, png, png_texts, site_v2_card, site_v3_card
from .test_personas_ui import form, view

NOTE = "{{char}} swears mildly around {{user}}. <BOT> never apologises."
NOTE_FILLED = "Elara Voss swears mildly around Sam. Elara Voss never apologises."
NOTE_STORED = "{{char}} swears mildly around {{user}}. {{char}} never apologises."  # legacy <BOT> converted


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # No recall: the lorebook's pinned entry would only lengthen the system prompt these tests do not look at.
    return settings.model_copy(update={"memory_recall_k": 0})


def site_card(note: dict[str, Any] | None, v3: bool = False, **data: Any) -> bytes:
    """A site's PNG card (SillyTavern's export shape) whose depth_prompt is `note` (None: no depth_prompt)."""
    card = site_v3_card() if v3 else site_v2_card()
    card["data"].update(data)
    card["data"]["extensions"].pop("depth_prompt")
    if note is not None:
        card["data"]["extensions"]["depth_prompt"] = note
    return png({"ccv3" if v3 else "chara": b64json(card)})


def import_card(ctx, card: bytes) -> tuple[str, list[str]]:
    persona, warnings = ctx.personas.import_card(card, filename="Elara Voss.png")
    return persona.id, warnings


def seed(ctx, conversation_id: str, pairs: int, filler: str = "") -> None:
    """Earlier turns, saved as the chat saves them."""
    for index in range(pairs):
        ctx.conversations.add_user_message(conversation_id, f"question {index} {filler}")
        ctx.conversations.add_reply(conversation_id, f"answer {index} {filler}", MessageStatus.complete)


def sent_messages(ctx, fake_ollama, persona_id: str, conversation_id: str, text: str) -> list[dict[str, str]]:
    """The messages the model received for one chat turn."""

    async def run() -> None:
        async for _update in ctx.chat.send(persona_id, conversation_id, text):
            pass

    asyncio.run(run())
    return fake_ollama.chat_requests()[-1].body["messages"]


def depth_prompt_of(card: dict[str, Any]) -> dict[str, Any] | None:
    return card["data"]["extensions"].get("depth_prompt")


# Import ------------------------------------------------------------------------------------------


def test_a_site_cards_note_becomes_the_persona_fields_and_leaves_the_sidecar(ctx, settings):
    persona_id, warnings = import_card(ctx, site_card({"prompt": NOTE, "depth": 2, "role": "system"}))
    persona = ctx.personas.get(persona_id)
    assert (persona.character_note, persona.character_note_depth) == (NOTE_STORED, 2)
    assert warnings == []
    data = yaml.safe_load((settings.user_personas_dir / f"{persona_id}.yaml").read_text())
    assert (data["character_note"], data["character_note_depth"]) == (NOTE_STORED, 2)
    sidecar = json.loads((settings.user_personas_dir / f"{persona_id}.card.json").read_text())
    assert "depth_prompt" not in sidecar["extensions"] and sidecar["extensions"]["world"] == "Kestrel"


@pytest.mark.parametrize(
    ("note", "expected", "warning"),
    [
        ({"prompt": "Be terse.", "depth": 4, "role": "user"}, ("Be terse.", 4), "sent as a system instruction"),
        ({"prompt": "Be terse.", "depth": 1}, ("Be terse.", 1), None),  # no role: SillyTavern's system
        ({"prompt": "Be terse.", "depth": "2", "role": "system"}, ("Be terse.", 2), None),
        ({"prompt": "Be terse."}, ("Be terse.", 4), None),  # SillyTavern's default depth
        ({"prompt": "Be terse.", "depth": -1}, ("Be terse.", 4), "unusable depth"),
        ({"prompt": "Be terse.", "depth": 2.5}, ("Be terse.", 4), "unusable depth"),
        ({"prompt": "Be terse.", "depth": 9999}, ("Be terse.", 100), "at most 100"),
        ({"prompt": "", "depth": 4, "role": "system"}, ("", 4), None),  # what SillyTavern writes for "none"
    ],
)
def test_note_shapes_import_with_a_warning_where_something_changes(note, expected, warning):
    card = parse_card(site_card(note), "card.png")
    assert (card.persona.character_note, card.persona.character_note_depth) == expected
    assert "depth_prompt" not in card.extras.extensions
    if warning is None:
        assert card.warnings == []
    else:
        assert len(card.warnings) == 1 and warning in card.warnings[0]


def test_a_note_without_text_is_kept_unused_and_given_back_as_it_came(tmp_path, ctx):
    odd = {"prompt": ["not", "text"], "depth": 4}
    persona_id, warnings = import_card(ctx, site_card(odd))
    assert ctx.personas.get(persona_id).character_note == "" and "was not imported" in warnings[0]
    out = ctx.personas.export_card(persona_id, tmp_path / "out.json")
    assert depth_prompt_of(json.loads(out.read_text())) == odd


# The prompt the model receives --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("depth", "where"),
    [
        (2, 5),  # system, greeting, q0, a0, q1, NOTE, a1, newest
        (0, 7),  # after the newest message, before the post-history instructions (still the last word)
        (50, 1),  # deeper than the conversation: at its start, right after the system prompt
    ],
)
def test_the_model_gets_the_note_at_its_depth_with_macros_filled(ctx, fake_ollama, depth, where):
    card = site_card({"prompt": NOTE, "depth": depth, "role": "system"}, post_history_instructions="Stay gruff.")
    persona_id, _ = import_card(ctx, card)
    ctx.profile.save("Sam", "")
    conversation_id = ctx.chat.start_conversation(persona_id)
    seed(ctx, conversation_id, 2)
    messages = sent_messages(ctx, fake_ollama, persona_id, conversation_id, "Where do I start?")

    history = [m for index, m in enumerate(messages) if index not in (0, where, len(messages) - 1)]
    assert [m["content"] for m in history] == [
        "*Elara Voss wipes grease off her hands.* So you're Sam. Grab a wrench.",
        "question 0 ",
        "answer 0 ",
        "question 1 ",
        "answer 1 ",
        "Where do I start?",
    ]
    assert messages[where] == {"role": "system", "content": NOTE_FILLED}
    assert messages[-1] == {"role": "system", "content": "Stay gruff."}
    assert sum(NOTE_FILLED in m["content"] for m in messages) == 1  # not in the system prompt as well
    # Every turn: the next one (two messages longer) carries it again, `depth` messages from the end.
    again = sent_messages(ctx, fake_ollama, persona_id, conversation_id, "And then?")
    at = again.index({"role": "system", "content": NOTE_FILLED})
    said = [m for m in again[1:-1] if m["role"] != "system"]  # the conversation (notes are system messages)
    after = [m for m in again[at + 1 : -1] if m["role"] != "system"]
    assert len(after) == min(depth, len(said))


def test_trimming_to_the_context_keeps_the_note_at_its_depth_and_within_the_budget(tmp_path, fake_ollama, embedder):
    settings = Settings(
        data_dir=tmp_path / "data",
        ollama_host=fake_ollama.url,
        model="llama3.2:3b",
        memory_recall_k=0,
        context_tokens=1536,
        reply_tokens=256,
    )
    ctx = create_context(settings, embedder=embedder)
    try:
        long_note = NOTE + " She calls every tool by a pet name." * 10
        persona_id, _ = import_card(ctx, site_card({"prompt": long_note, "depth": 3}))
        ctx.profile.save("Sam", "")
        conversation_id = ctx.chat.start_conversation(persona_id)
        seed(ctx, conversation_id, 12, filler="and the engine room hums along " * 8)
        messages = sent_messages(ctx, fake_ollama, persona_id, conversation_id, "What now?")
    finally:
        ctx.close()

    notes = [index for index, m in enumerate(messages) if m["content"].startswith(NOTE_FILLED)]
    assert len(notes) == 1 and messages[notes[0]]["role"] == "system"
    assert len(messages) - notes[0] == 4  # three history messages after it: depth 3 of what was kept
    assert messages[-1]["content"] == "What now?"
    assert not any(m["content"].startswith("question 0 ") for m in messages)  # the oldest went first
    assert sum(message_tokens(m["content"]) for m in messages) <= 1536 - 256


# The Personas tab ---------------------------------------------------------------------------------


def test_the_form_shows_and_saves_the_note_and_its_depth(ctx, settings):
    tab = PersonasTab(ctx)
    persona_id, _ = import_card(ctx, site_card({"prompt": NOTE, "depth": 2, "role": "system"}))
    shown = view(tab.open(persona_id))
    assert (shown["character_note"], shown["character_note_depth"]) == (NOTE_STORED, 2)

    edits = {"character_note": "  {{char}} hums while she works.  ", "character_note_depth": 0}
    assert view(tab.save(persona_id, *form(tab, persona_id, **edits)))["status"] == "Saved Elara Voss."
    data = yaml.safe_load((settings.user_personas_dir / f"{persona_id}.yaml").read_text())
    assert (data["character_note"], data["character_note_depth"]) == ("{{char}} hums while she works.", 0)

    refused = view(tab.save(persona_id, *form(tab, persona_id, character_note_depth=101)))
    assert refused["status"] == "**Note depth**: input should be less than or equal to 100."
    assert ctx.personas.get(persona_id).character_note_depth == 0  # nothing saved

    blank = view(tab.new())
    assert (blank["character_note"], blank["character_note_depth"]) == ("", 4)
    created = view(tab.save(None, *form(tab, name="Nova", character_note="Short answers.", character_note_depth=None)))
    data = yaml.safe_load((settings.user_personas_dir / f"{created['current_id']}.yaml").read_text())
    assert data["character_note"] == "Short answers." and "character_note_depth" not in data  # the default


# Export --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("v3", [False, True], ids=["v2 card", "v3 card"])
def test_export_gives_the_note_back_in_v2_and_v3_and_round_trips(ctx, tmp_path, v3):
    persona_id, _ = import_card(ctx, site_card({"prompt": NOTE, "depth": 2, "role": "system"}, v3=v3))
    expected = {"prompt": NOTE_STORED, "depth": 2, "role": "system"}
    exported = ctx.personas.export_card(persona_id, tmp_path / "out.png").read_bytes()
    texts = png_texts(exported)
    assert depth_prompt_of(decode_b64json(texts["chara"])) == expected
    assert depth_prompt_of(decode_b64json(texts["ccv3"])) == expected
    json_card = json.loads(ctx.personas.export_card(persona_id, tmp_path / "out.json").read_text())
    assert depth_prompt_of(json_card) == expected

    again_id, warnings = import_card(ctx, exported)
    again = ctx.personas.get(again_id)
    assert (again.character_note, again.character_note_depth) == (NOTE_STORED, 2)
    assert not any("Character's Note" in warning for warning in warnings)
    second = png_texts(ctx.personas.export_card(again_id, tmp_path / "again.png").read_bytes())
    assert depth_prompt_of(decode_b64json(second["chara"])) == expected  # stable: nothing drifts


def test_an_edited_note_is_what_export_writes_and_a_cleared_one_is_not_written(ctx, tmp_path):
    tab = PersonasTab(ctx)
    persona_id, _ = import_card(ctx, site_card({"prompt": NOTE, "depth": 2, "role": "user"}))
    view(tab.save(persona_id, *form(tab, persona_id, character_note="Grease everywhere.", character_note_depth=1)))
    card = decode_b64json(png_texts(ctx.personas.export_card(persona_id, tmp_path / "a.png").read_bytes())["chara"])
    assert depth_prompt_of(card) == {"prompt": "Grease everywhere.", "depth": 1, "role": "system"}
    view(tab.save(persona_id, *form(tab, persona_id, character_note="", character_note_depth=4)))
    card = json.loads(ctx.personas.export_card(persona_id, tmp_path / "b.json").read_text())
    assert depth_prompt_of(card) is None and card["data"]["extensions"]["world"] == "Kestrel"


def test_a_character_imported_before_the_field_existed_gets_its_note_from_the_sidecar(
    ctx, settings, fake_ollama, tmp_path
):
    """Imports made before this field kept the note only in <id>.card.json: it is used, edited and cleared."""
    user_dir = settings.user_personas_dir
    user_dir.mkdir(parents=True, exist_ok=True)
    (user_dir / "old.yaml").write_text("name: Old Timer\n")
    sidecar = {"spec": "chara_card_v2", "extensions": {"fav": True, "depth_prompt": {"prompt": "Grumble.", "depth": 1}}}
    (user_dir / "old.card.json").write_text(json.dumps(sidecar))
    persona = ctx.personas.get("old")
    assert (persona.character_note, persona.character_note_depth) == ("Grumble.", 1)
    messages = sent_messages(ctx, fake_ollama, "old", ctx.chat.start_conversation("old"), "Hi")
    assert messages[-2:] == [{"role": "system", "content": "Grumble."}, {"role": "user", "content": "Hi"}]

    tab = PersonasTab(ctx)
    assert view(tab.open("old"))["character_note"] == "Grumble."
    view(tab.save("old", *form(tab, "old", character_note="")))  # cleared in the editor: it stays cleared
    assert ctx.personas.get("old").character_note == ""
    kept = json.loads((user_dir / "old.card.json").read_text())
    assert kept["extensions"] == {"fav": True}
    card = json.loads(ctx.personas.export_card("old", tmp_path / "old.json").read_text())
    assert depth_prompt_of(card) == {"prompt": "", "depth": 1, "role": "system"}  # the old text stays gone
    assert card["data"]["extensions"]["fav"] is True
