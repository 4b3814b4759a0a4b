"""A three-character scene over the fake model server: who answers, what each speaker is sent, "let them
talk" and its cap, Stop, Regenerate, and each reply saved with its speaker."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest

from avatar.chat.speculation import Speculation
from avatar.conversations.schemas import MessageStatus, Role
from avatar.scenes.exceptions import InvalidScene
from tests.scenes.conftest import CAST, collect, replies

ARIA_GREETING = "Hey you! I was just sketching and thought of you. How's your day been, User?"


def sent(fake_ollama, index: int = -1) -> list[dict]:
    return fake_ollama.chat_requests()[index].body["messages"]


def test_a_scene_opens_with_its_first_characters_greeting_and_knows_its_cast(ctx, scene):
    (greeting,) = ctx.conversations.messages(scene)
    assert (greeting.role, greeting.speaker_id, greeting.content) == (Role.assistant, "aria", ARIA_GREETING)
    assert ctx.scenes.scenes.get(scene).members == CAST
    assert ctx.conversations.get(scene).is_scene
    with pytest.raises(InvalidScene, match="2 to 5 characters"):
        ctx.scenes.start(["aria"])
    with pytest.raises(InvalidScene, match="once"):
        ctx.scenes.start(["aria", "aria"])


def test_the_character_addressed_by_name_answers_with_its_own_prompt(ctx, scene, fake_ollama):
    fake_ollama.script("Steady as she goes, rookie. Heading two-seven-zero.")
    (answer,) = replies(collect(ctx.scenes.send(scene, "Vega, what's our heading?")))
    assert (answer.speaker_id, answer.status) == ("captain-vega", MessageStatus.complete)
    saved = ctx.conversations.messages(scene)[-1]
    assert (saved.speaker_id, saved.content) == ("captain-vega", "Steady as she goes, rookie. Heading two-seven-zero.")

    vega = sent(fake_ollama)
    system = vega[0]["content"]
    assert system.startswith("You are Captain Vega.")
    assert "- Aria: A warm, curious friend" in system and "- Professor Quill: An enthusiastic old tutor" in system
    assert "write only Captain Vega's own reply" in system
    assert {"role": "user", "content": f"Aria: {ARIA_GREETING}"} in vega  # the others' lines carry their names
    assert vega[-1] == {"role": "user", "content": "User: Vega, what's our heading?"}

    fake_ollama.script("Ah, the stars! A story about navigation.", "Two-seven-zero sounds lovely.")
    answers = replies(collect(ctx.scenes.send(scene, "Professor Quill and Aria, what do you make of it?")))
    assert [a.speaker_id for a in answers] == ["professor-quill", "aria"]  # each named one, in the order named
    aria = sent(fake_ollama)
    assert aria[0]["content"].startswith("You are Aria.")
    assert {"role": "assistant", "content": ARIA_GREETING} in aria  # her own line is hers
    assert {"role": "user", "content": "Captain Vega: Steady as she goes, rookie. Heading two-seven-zero."} in aria
    assert aria[-1] == {"role": "user", "content": "Professor Quill: Ah, the stars! A story about navigation."}
    speakers = [(m.role.value, m.speaker_id) for m in ctx.conversations.messages(scene)]
    assert speakers[-3:] == [("user", None), ("assistant", "professor-quill"), ("assistant", "aria")]


def test_let_them_talk_stops_at_its_cap_and_never_has_one_speak_twice_in_a_row(ctx, scene, fake_ollama):
    fake_ollama.script("One.", "Two.", "Three.", "Four.", "Five.")
    updates = collect(ctx.scenes.carry_on(scene, replies=3))
    answers = replies(updates)
    assert [a.reply for a in answers] == ["One.", "Two.", "Three."]
    assert len(fake_ollama.chat_requests()) == 3  # the cap: no fourth request
    speakers = ["aria", *(a.speaker_id for a in answers)]  # Aria said the greeting
    assert all(a != b for a, b in itertools.pairwise(speakers))
    assert {u.speaker_id for u in updates if not u.done} <= set(CAST)
    saved = ctx.conversations.messages(scene)[-3:]
    assert [(m.speaker_id, m.content) for m in saved] == [(a.speaker_id, a.reply) for a in answers]


def test_stop_ends_the_reply_and_the_ones_still_to_come(ctx, scene, fake_ollama):
    fake_ollama.token_delay_s = 0.05
    fake_ollama.script("Well now, let me tell you a long story about the old days on the frontier routes.")

    async def talk_then_stop() -> list:
        updates = []
        async for update in ctx.scenes.carry_on(scene, replies=4):
            updates.append(update)
            if update.reply.count(" ") >= 3 and not update.done and len(updates) < 3:
                assert ctx.scenes.stop(scene)
        return updates

    answers = replies(asyncio.run(talk_then_stop()))
    assert len(answers) == 1 and answers[0].status is MessageStatus.partial
    assert len(fake_ollama.chat_requests()) == 1  # nobody spoke after the Stop
    assert ctx.conversations.messages(scene)[-1].status is MessageStatus.partial


def speculative_scene_turn(ctx, scene: str, text: str, commit: bool) -> tuple[Speculation, list]:
    """A voice turn started before the user is surely done: committed (or discarded) at the first piece."""
    speculation = Speculation()

    async def run() -> list:
        updates = []
        async for update in ctx.scenes.send(scene, text, speculation=speculation):
            updates.append(update)
            if len(updates) == 1 and not commit:
                speculation.discard()  # the user went on talking
                ctx.scenes.stop(scene)
            elif len(updates) == 1:
                assert speculation.commit()
        return updates

    return speculation, asyncio.run(run())


def test_a_speculative_scene_turn_the_user_talked_through_leaves_nothing_and_no_one_else_speaks(
    ctx, scene, fake_ollama
):
    fake_ollama.token_delay_s = 0.05
    fake_ollama.script("Steady as she goes, rookie. Heading two-seven-zero.")
    speculation, updates = speculative_scene_turn(ctx, scene, "Vega, then Professor Quill: our heading?", False)
    assert speculation.discarded and updates[-1].done and not updates[-1].status
    assert len(fake_ollama.chat_requests()) == 1  # Quill, named second, was never asked
    assert [m.speaker_id for m in ctx.conversations.messages(scene)] == ["aria"]  # the opening only

    fake_ollama.script("Two-seven-zero.", "By the stars, yes.")
    speculation, updates = speculative_scene_turn(ctx, scene, "Vega, then Professor Quill: our heading?", True)
    assert speculation.committed and updates[0].user_message_id == speculation.user_message_id
    saved = [(m.role.value, m.speaker_id, m.content) for m in ctx.conversations.messages(scene)[1:]]
    assert saved == [
        ("user", None, "Vega, then Professor Quill: our heading?"),
        ("assistant", "captain-vega", "Two-seven-zero."),
        ("assistant", "professor-quill", "By the stars, yes."),
    ]


def test_a_speculative_scene_turn_cancelled_before_anyone_answers_leaves_no_user_message(
    ctx, scene, fake_ollama, monkeypatch
):
    """The voice handler discards the turn and cancels its task when the user goes on at once: that may land
    while the scene is still choosing who answers, before any reply (and its cleanup) has begun."""
    chosen = asyncio.Event()
    choose = ctx.scenes.chooser.answering

    def slow_choice(moment):
        time.sleep(0.3)  # an embedding of the moment, on a busy machine
        return choose(moment)

    monkeypatch.setattr(ctx.scenes.chooser, "answering", slow_choice)
    speculation = Speculation()

    async def run() -> None:
        async def turn() -> None:
            async for _ in ctx.scenes.send(scene, "Vega, then Professor Quill", speculation=speculation):
                chosen.set()

        task = asyncio.create_task(turn())
        await asyncio.sleep(0.1)  # the words are saved; the chooser is at work
        assert [m.role.value for m in ctx.conversations.messages(scene)] == ["assistant", "user"]
        speculation.discard()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(run())
    assert not chosen.is_set() and fake_ollama.chat_requests() == []
    assert [m.speaker_id for m in ctx.conversations.messages(scene)] == ["aria"]  # the opening only


def test_regenerate_has_the_same_character_say_it_again(ctx, scene, fake_ollama):
    fake_ollama.script("Coffee first.", "Course first, then coffee.")
    collect(ctx.scenes.send(scene, "Vega, coffee or the course?"))
    (again,) = replies(collect(ctx.scenes.regenerate(scene)))
    assert again.speaker_id == "captain-vega"
    newest = ctx.conversations.messages(scene)
    assert [m.content for m in newest[-2:]] == ["Vega, coffee or the course?", "Course first, then coffee."]
    assert newest[-1].speaker_id == "captain-vega"


def test_ask_a_character_and_a_reply_keeps_to_its_speakers_lines(ctx, scene, fake_ollama):
    fake_ollama.script("Quill: Splendid question!\nAria: Oh, I love this.\nUser: Me too.")
    (answer,) = replies(collect(ctx.scenes.ask(scene, "professor-quill")))
    assert (answer.speaker_id, answer.reply) == ("professor-quill", "Splendid question!")
    assert ctx.conversations.messages(scene)[-1].content == "Splendid question!"
    fake_ollama.script("And another thing about that question.")
    collect(ctx.scenes.ask(scene, "professor-quill"))  # right after its own reply: it goes on
    assert sent(fake_ollama)[-1] == {"role": "system", "content": "Professor Quill goes on, adding something new."}


def test_characters_join_and_leave_mid_scene(ctx, fake_ollama):
    scene = ctx.scenes.start(["aria", "captain-vega"])
    ctx.scenes.scenes.add_member(scene, "professor-quill")
    assert ctx.scenes.scenes.get(scene).members == CAST
    ctx.scenes.scenes.remove_member(scene, "aria")
    assert ctx.scenes.scenes.get(scene).members == ["captain-vega", "professor-quill"]
    with pytest.raises(InvalidScene, match="at least 2"):
        ctx.scenes.scenes.remove_member(scene, "captain-vega")
    with pytest.raises(InvalidScene, match="not in this scene"):
        collect(ctx.scenes.ask(scene, "aria"))
    fake_ollama.script("Welcome aboard, Professor.")
    (answer,) = replies(collect(ctx.scenes.send(scene, "Aria left. Vega, say hi to the professor.")))
    assert answer.speaker_id == "captain-vega"
    system = sent(fake_ollama)[0]["content"]
    assert "- Professor Quill:" in system and "- Aria:" not in system  # who is here now
