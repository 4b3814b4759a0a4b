"""Each reply gets one of the 28 labels, after it is saved: in the turn's last update and on the message."""

from __future__ import annotations

import asyncio
from pathlib import Path

from avatar.expressions.ui import Faces
from tests.test_chat_flow import run_turn


def test_each_reply_is_labelled_after_it_is_saved(ctx, fake_ollama):
    fake_ollama.script(
        "You passed? That is fantastic, I am so happy for you!",
        "Oh no, I am so sorry. That is really sad news.",
        "How dare he say that to you! I am furious.",
    )
    first = asyncio.run(run_turn(ctx, "I passed my exam!"))
    conversation_id = first[-1].conversation_id
    assert [u.emotion for u in first] == [None] * (len(first) - 1) + ["joy"]  # only the last update has it
    second = asyncio.run(run_turn(ctx, "My cat is ill.", conversation_id))[-1]
    third = asyncio.run(run_turn(ctx, "My boss yelled at me.", conversation_id))[-1]
    assert (second.emotion, third.emotion) == ("sadness", "anger")
    saved = ctx.conversations.messages(conversation_id)
    assert [m.emotion for m in saved] == [None, None, "joy", None, "sadness", None, "anger"]  # greeting first


def test_a_reply_while_the_embedding_model_still_loads_is_labelled_in_the_background(settings, fake_ollama):
    from avatar.context import create_context
    from avatar.memory.embedder import Embedder
    from tests.conftest import packaged_embedding_model_dir

    embedder = Embedder(packaged_embedding_model_dir())  # not loaded yet
    ctx = create_context(settings, embedder=embedder)
    try:
        fake_ollama.script("You passed? That is fantastic, I am so happy for you!")
        # In a test process torch is imported already and the model loads in ~0.3 s; in a new app it is
        # ~10 s: the load is held back for the length of the turn, as a first start's load lasts.
        with embedder._load_lock:
            final = asyncio.run(run_turn(ctx, "I passed my exam!"))[-1]
        assert final.emotion is None  # the reply's last update did not wait for the model to load
        assert ctx.memory.wait_for_writes(120)
        assert ctx.conversations.messages(final.conversation_id)[-1].emotion == "joy"
    finally:
        ctx.close()


def test_the_chat_face_follows_the_newest_reply(ctx, fake_ollama):
    fake_ollama.script("How dare he say that to you! I am furious.")
    conversation_id = asyncio.run(run_turn(ctx, "My boss yelled at me."))[-1].conversation_id
    avatars, face, caption = Faces(ctx).for_chat("aria", conversation_id)
    assert face.endswith(".png") and caption.startswith("<small>Aria · *anger*<br>mood: ")
    shipped = ctx.settings.builtin_personas_dir / "aria.expressions" / "anger.png"
    assert Path(face).read_bytes() == shipped.read_bytes()
    assert avatars["avatar_images"] == (None, face)  # no picture of yours yet: none beside your messages
    ctx.profile.save_picture(shipped.read_bytes())
    assert Faces(ctx).for_chat("aria", None)[0]["avatar_images"][0] is not None
