"""Memory of a scene: each character remembers what it witnessed, in its own scope; what the user says about
themselves becomes user-global; the world's lore is recalled in the scene; nothing reaches the others."""

from __future__ import annotations

import asyncio
import json

from avatar.memory.schemas import MemoryKind, MemoryScope
from avatar.memory.ui import ALL, WORDS, MemoryTab
from tests.scenes.conftest import collect, replies
from tests.worlds.worldkit import CONSTANT_TEXT, ENGINE_TEXT, meridian_world_info


def chunks_of(ctx, persona_id: str, scene: str) -> list[str]:
    return [m.text for m in ctx.memory.list(persona_id=persona_id, kind=MemoryKind.chunk) if m.conversation_id == scene]


def test_each_character_remembers_only_what_it_witnessed(ctx, fake_ollama):
    scene = ctx.scenes.start(["aria", "captain-vega"])
    fake_ollama.script("Aye.", "Lovely!", "Noted, rookie.", "Oh wow.")
    collect(ctx.scenes.send(scene, "Vega, I keep a secret map of the nebula."))
    collect(ctx.scenes.send(scene, "Aria, my dog Biscuit loves the ship."))
    ctx.scenes.scenes.add_member(scene, "professor-quill")  # joins: hears what follows only
    ctx.scenes.scenes.remove_member(scene, "captain-vega")  # leaves: hears nothing more
    fake_ollama.script("Fascinating, a violinist!", "I doodle, mostly.", "Bach, surely?", "Show me!")
    collect(ctx.scenes.send(scene, "Professor Quill, I play the violin on Sundays."))
    collect(ctx.scenes.send(scene, "Aria, do you play anything?"))
    collect(ctx.scenes.send(scene, "Quill, guess my favourite composer."))
    collect(ctx.scenes.send(scene, "Aria, want to see my drawings?"))  # chunks are cut once 6 messages wait
    assert ctx.memory.wait_for_writes(60)

    vega, aria, quill = (" ".join(chunks_of(ctx, p, scene)) for p in ("captain-vega", "aria", "professor-quill"))
    assert "secret map" in vega and "violin" not in vega  # Vega left before the violin
    assert "secret map" in aria and "violin" in aria  # Aria was there throughout
    assert "violin" in quill and "secret map" not in quill and "Biscuit" not in quill  # Quill came later
    assert "Captain Vega: Aye." in vega and "User: Vega, I keep a secret map" in vega  # each line says who spoke
    every = ctx.memory.list(kind=MemoryKind.chunk)
    assert {m.persona_id for m in every} == {"aria", "captain-vega", "professor-quill"}
    assert all(m.scope is MemoryScope.persona for m in every)  # excerpts stay with the characters who saw them

    # The Memory tab says which scene a memory came from, and who said each of its messages.
    tab = MemoryTab(ctx)
    owners = {row[2] for row in tab.view(ALL, "chunk", ALL, "", WORDS)[2]}
    assert (
        "Captain Vega · from the scene “Vega, I keep a secret map of the nebula.” (Aria, Captain Vega, Professor Quill)"
        in owners
    )
    vega_chunk = next(m for m in ctx.memory.list(persona_id="captain-vega", kind=MemoryKind.chunk))
    who = [row[1] for row in tab.sources_rows(vega_chunk, ctx.memory.sources(vega_chunk.id))]
    assert who[:3] == ["Aria", "You", "Captain Vega"]
    assert "from the scene “Vega, I keep a secret map" in tab.info(vega_chunk)

    # Quill never recalls what it did not witness; Vega does.
    assert not [r for r in ctx.memory.recall("secret map of the nebula", "professor-quill", wait_for_model=True)]
    recalled = ctx.memory.recall("secret map", "captain-vega", wait_for_model=True)
    hit = next(r for r in recalled if "secret map" in r.memory.text)
    # A witness's excerpt has a vector per line (memory_lines) as any chat's: recall brings the line that matched.
    assert hit.lines and "secret map" in hit.text and len(hit.text) < len(hit.memory.text)


def test_cards_are_each_witnesses_and_what_the_user_says_about_themselves_is_user_global(ctx, fake_ollama):
    scene = ctx.scenes.start(["aria", "captain-vega"])
    fake_ollama.script("Aye.", "Lovely!", "Hm.")
    collect(ctx.scenes.send(scene, "Vega, my dog Biscuit is a beagle."))
    collect(ctx.scenes.send(scene, "Aria, isn't Biscuit the cutest?"))
    collect(ctx.scenes.send(scene, "Vega, can he come to the bridge?"))
    assert ctx.memory.wait_for_writes(60)
    assert {m.persona_id for m in ctx.memory.list(kind=MemoryKind.chunk)} == {"aria", "captain-vega"}
    about_user = {"type": "fact", "scope": "profile", "text": "The user has a beagle named Biscuit."}
    fake_ollama.script_structured(
        json.dumps({"cards": [about_user, {"type": "event", "scope": "persona", "text": "Aria saw Biscuit's photo."}]}),
        json.dumps(
            {"cards": [about_user, {"type": "event", "scope": "persona", "text": "Vega allowed the dog on board."}]}
        ),
    )
    job = ctx.scenes.card_job(scene)
    asyncio.run(ctx.memory.make_cards(scene, persona_id=job.persona_id, witnesses=job.witnesses))
    cards = ctx.memory.list(kind=MemoryKind.card)
    assert [(m.scope, m.persona_id) for m in cards if "beagle" in m.text] == [(MemoryScope.profile, None)]  # merged
    events = {m.persona_id: m.text for m in cards if m.card_type and m.card_type.value == "event"}
    assert set(events) == {"aria", "captain-vega"} and "Aria" in events["aria"] and "Vega" in events["captain-vega"]
    prompts = [r.body["messages"][-1]["content"] for r in fake_ollama.structured_requests()]
    assert len(prompts) == 2  # one distillation per witness


def test_a_scene_in_a_world_recalls_its_lore(ctx, fake_ollama):
    world, _ = ctx.worlds.import_world(json.dumps(meridian_world_info()).encode(), "Meridian.json")
    ctx.memory.wait_for_writes(60)
    lore_rows = MemoryTab(ctx).view(ALL, ALL, "world", "", WORDS)[2]
    assert {row[2] for row in lore_rows} == {"World: Meridian"} and len(lore_rows) == 3
    ctx.memory.embedder.load()
    scene = ctx.scenes.start(["aria", "captain-vega"], world_id=world.id)
    fake_ollama.script("She purrs at full torch.")
    (answer,) = replies(collect(ctx.scenes.send(scene, "Vega, how is the engine torch today?")))
    assert answer.speaker_id == "captain-vega"
    sent = fake_ollama.chat_requests()[-1].body["messages"]
    assert "## The world: Meridian" in sent[0]["content"]
    note = sent[-2]["content"]
    assert sent[-2]["role"] == "system" and "from the world's lore" in note
    assert json.dumps(CONSTANT_TEXT) in note and json.dumps(ENGINE_TEXT) in note
    recalled = {r.memory.text for r in ctx.chat.last_recall[scene]}
    assert CONSTANT_TEXT in recalled
    # Not in the world: a one-character chat with Vega never sees it.
    collect(ctx.chat.send("captain-vega", None, "How is the engine torch today?"))
    assert "Meridian is a deep-space" not in str(fake_ollama.chat_requests()[-1].body["messages"])


def test_a_stop_before_a_scenes_memory_write_gives_each_witness_its_excerpt_at_the_next_start(
    settings, embedder, fake_ollama
):
    from avatar.context import create_context

    first = create_context(settings, embedder=embedder)
    first.memory.writer.close()  # the app stopped before its writes ran
    scene = first.scenes.start(["aria", "captain-vega"])
    fake_ollama.script("Aye.", "Lovely!", "Noted, rookie.", "Oh wow.", "Steady.", "Ha!")
    collect(first.scenes.send(scene, "Vega, I keep a secret map of the nebula."))
    collect(first.scenes.send(scene, "Aria, my dog Biscuit loves the ship."))
    collect(first.scenes.send(scene, "Both of you: where next?"))
    first.close()

    again = create_context(settings, embedder=embedder)
    try:
        again.warm_up()
        assert again.memory.wait_for_writes(60)
        assert "secret map" in " ".join(chunks_of(again, "captain-vega", scene))
        assert "secret map" in " ".join(chunks_of(again, "aria", scene))  # each witness, not the scene's first
    finally:
        again.close()
