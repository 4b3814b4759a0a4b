"""The running app's Voice tab over real WebRTC: an aiortc client connects as the page does and talks.

One app per module (it takes seconds to start); each test is its own browser session. A scene's tests
come last: the named API's /scene, and a scene spoken with each character's voice.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import time

import numpy as np
import pytest
from gradio_client import Client

from avatar.conversations.schemas import MessageStatus
from avatar.conversations.service import ConversationService
from avatar.core.db import open_database
from avatar.core.settings import PROJECT_ROOT, Settings
from avatar.worlds.cli import import_world_command
from tests.conftest import REAL_TIME
from tests.voice.conftest import INTERRUPTION, QUESTION, Speech, resampled
from tests.voice.rtc_client import GradioSession, Microphone, VoiceCall, wait_until
from tests.voice.test_scene_voice import CAST, QUESTION_TO_BOTH, QUILL_VOICE, stand_in_voice
from tests.worlds.worldkit import meridian_world_info

pytestmark = [pytest.mark.slow, REAL_TIME]

LONG_REPLY = " ".join(f"Here is sentence number {i} of a very long story." for i in range(60))


def words(text: str) -> list[str]:
    return re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split()


def answered_row(call: VoiceCall) -> list | None:
    """The newest latency row of a turn that was answered (a start dropped as the user went on has no audio)."""
    return next((row for row in call.latency_rows() if row[5] is not None), None)


def conversations(app) -> ConversationService:
    return ConversationService(open_database(app.data_dir / "avatar.db"))


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 120))


async def say(call: VoiceCall, audio) -> float:
    """Speak into the microphone; returns once all of it was sent. A new chat's call opens with the
    greeting, which the words talk over: what the avatar says after this moment is its answer."""
    await call.play_and_wait(audio)
    return time.monotonic()


def user_messages(app, text_fragment: str, besides: set[str] = frozenset()) -> list:
    """(conversation, message) of the user's messages holding `text_fragment`, in conversations not in `besides`
    (the module shares one app: a retried test must not find the message its first try saved)."""
    service = conversations(app)
    found = []
    for conversation in service.list():
        if conversation.id in besides:
            continue
        for message in service.messages(conversation.id):
            if message.role.value == "user" and text_fragment in message.content.lower():
                found.append((conversation.id, message))
    return found


def listed_conversation(call: VoiceCall) -> str | None:
    """The conversation the Chat tab's list was last set to by the call."""
    listed = [o[5]["value"] for o in call.outputs if isinstance(o[5], dict) and o[5].get("value")]
    return listed[-1] if listed else None


def test_a_new_chat_opens_with_the_greeting_heard_and_a_second_call_does_not(voice_app, ollama):
    async def scenario():
        session = GradioSession(voice_app.url)  # one browser tab: the second call is in the same chat
        call = await VoiceCall(session, persona_id="aria").connect()
        try:
            await wait_until(lambda: call.inputs_sent, 10, "the page to send its inputs")
            await wait_until(lambda: call.audio_heard_since(0) > 1.0, 30, "the greeting")
            conversation_id = await wait_until(lambda: listed_conversation(call), 10, "the Chat tab's list")
        finally:
            await call.close()  # hanging up in the middle of the greeting
        again = await VoiceCall(session, persona_id="aria").connect()
        try:
            await wait_until(lambda: again.inputs_sent, 10, "the page to send its inputs")
            await wait_until(lambda: again.statuses(), 10, "the call's first status")
            await asyncio.sleep(2.0)  # the first call's greeting was heard well within this
            return call, again, conversation_id
        finally:
            await again.close()
            await session.close()

    call, again, conversation_id = run(scenario())
    assert [s for s in call.statuses() if s.startswith("Speaking")]
    (greeting,) = conversations(voice_app).messages(conversation_id)  # shown in the Chat tab's list, as a chat
    assert greeting.role.value == "assistant" and greeting.content.startswith("Hey you! I was just sketching")
    assert greeting.status is MessageStatus.complete  # saved whole though the call hung up over it
    # The second call continues that conversation: nobody says hello again.
    assert again.audio_heard_since(0) == 0 and not [s for s in again.statuses() if s.startswith("Speaking")]
    assert len(conversations(voice_app).messages(conversation_id)) == 1


def test_spoken_question_is_saved_and_answered_with_audio(voice_app, ollama, speech: Speech):
    ollama.script("Paris is the capital of France. It is a beautiful city.")
    earlier = {c.id for c in conversations(voice_app).list()}

    async def scenario():
        session = GradioSession(voice_app.url)
        call = await VoiceCall(session, persona_id="aria").connect()
        try:
            await wait_until(lambda: call.inputs_sent, 10, "the page to send its inputs")
            said_at = await say(call, speech.at(QUESTION, 48_000))
            await wait_until(lambda: call.audio_heard_since(said_at) > 1.0, 30, "the avatar's voice")
            # (what whisper makes of it is checked below; here: the turn was saved)
            found = await wait_until(lambda: user_messages(voice_app, "capital", earlier), 30, "the transcript")
            await wait_until(lambda: answered_row(call), 15, "the answered turn's latency row")
            return call, found
        finally:
            await call.close()
            await session.close()

    call, found = run(scenario())
    ((conversation_id, message),) = found
    # (Said over the greeting, which the echo canceller works on until it knows there is no echo: tiny.en
    # heard "What's" once. That the question was saved is the app's; its exact words are whisper's.)
    assert {"capital", "france"} <= set(words(message.content)), message.content
    messages = conversations(voice_app).messages(conversation_id)
    assert messages[-1].role.value == "assistant", [(m.role.value, m.content) for m in messages]
    assert messages[-1].content == "Paris is the capital of France. It is a beautiful city."
    # The Chat tab's list and chat show the voice conversation; the Voice tab got the latency row.
    assert any(isinstance(o[5], dict) and o[5].get("value") == conversation_id for o in call.outputs)
    shown = [m["content"] for m in call.outputs[-1][4]] if isinstance(call.outputs[-1][4], list) else []
    assert any(isinstance(o[4], list) and o[4][-1]["content"].startswith("Paris") for o in call.outputs), shown
    row = answered_row(call)
    transcript_ms, first_token_ms, first_audio_ms = row[3], row[4], row[5]
    # 0: the live transcript had everything when the turn ended (whisper ran while the user spoke).
    assert 0 <= transcript_ms <= first_token_ms <= first_audio_ms, row


def test_voice_continues_the_text_chat_conversation(voice_app, ollama, speech: Speech):
    ollama.script("Noted: you like kites.", "Kites, as you told me.")

    async def scenario():
        session = GradioSession(voice_app.url)
        # Type in the Chat tab first (same session, as in one browser tab): that sets its conversation.
        box = session.component_id("message-box")
        picker = next(c["id"] for c in session.config["components"] if c.get("props", {}).get("label") == "Character")
        send = session.fn_index(box, "submit")
        done = await session.call(
            send, ["I like kites", picker and "aria", None, 0]
        )  # text, character, conversation, greeting
        assert done["success"], done
        ((typed_conversation, _),) = user_messages(voice_app, "i like kites")
        call = await VoiceCall(session, persona_id="aria").connect()
        try:
            await wait_until(lambda: call.inputs_sent, 10, "the page to send its inputs")
            said_at = await call.play_and_wait(speech.at("What do I like?", 48_000))
            await wait_until(lambda: call.audio_heard_since(said_at) > 0.5, 30, "the avatar's voice")
            # The reply is saved once it has been heard to the end (hanging up earlier would cut it).
            service = conversations(voice_app)
            await wait_until(lambda: len(service.messages(typed_conversation)) == 5, 15, "the spoken reply")
        finally:
            await call.close()
            await session.close()
        return typed_conversation

    conversation_id = run(scenario())
    contents = [m.content for m in conversations(voice_app).messages(conversation_id)]
    assert contents[1:3] == ["I like kites", "Noted: you like kites."]
    assert words(contents[3]) == ["what", "do", "i", "like"]
    assert contents[4] == "Kites, as you told me."
    sent = [m["content"] for m in ollama.chat_requests()[-1].body["messages"]]
    assert "I like kites" in sent  # the voice turn saw the typed history


def test_barge_in_stops_the_audio_and_the_model(voice_app, ollama, speech: Speech):
    ollama.token_delay_s = 0.08  # a slow model: still writing when the user talks over it
    ollama.script(LONG_REPLY)

    async def scenario():
        session = GradioSession(voice_app.url)
        call = await VoiceCall(session, persona_id="captain-vega").connect()
        try:
            await wait_until(lambda: call.inputs_sent, 10, "the page to send its inputs")
            said_at = await say(call, speech.at("Tell me a long story.", 48_000))
            await wait_until(lambda: call.audio_heard_since(said_at) > 1.5, 30, "the avatar to be talking")
            talk_from = time.monotonic()
            before = len(user_messages(voice_app, "moment"))
            talking_s = speech.at(INTERRUPTION, 48_000, before_s=0.0, after_s=0.0).size / 48_000
            call.microphone.play(speech.at(INTERRUPTION, 48_000, before_s=0.0))
            onset = await wait_until(lambda: call.onset_after(talk_from), 5, "the interruption's onset")
            # Past the end of the words, before the pause that ends the turn (and before any answer to it).
            await asyncio.sleep(talking_s + 0.3)
            stopped_at = call.last_audio_at()
            # (a hold becomes a barge-in once whisper has the words: seconds on a busy machine)
            closed = await asyncio.to_thread(ollama.wait_for_event, "chat_closed_by_client", 20)
            found = await wait_until(lambda: user_messages(voice_app, "moment")[before:], 20, "the interruption")
            return onset, stopped_at, talking_s, closed, found
        finally:
            await call.close()
            await session.close()

    onset, stopped_at, talking_s, closed, found = run(scenario())
    # How fast is bench/bench_voice.py's job; here: the avatar went quiet while the user was still talking.
    print(f"BARGE {1000 * (stopped_at - onset):.0f} ms")
    assert stopped_at - onset < talking_s, f"audio went on {1000 * (stopped_at - onset):.0f} ms after the user spoke"
    assert closed, "the model's stream was not closed"
    conversation_id = found[0][0]
    messages = conversations(voice_app).messages(conversation_id)
    interrupted = [m for m in messages if m.status is MessageStatus.interrupted]
    assert len(interrupted) == 1  # the reply; the greeting it opened with is the card's text, saved whole
    heard = interrupted[0].content
    assert heard and LONG_REPLY.startswith(heard) and len(heard) < len(LONG_REPLY) / 4, heard


@pytest.mark.parametrize(
    "name, rate, channels, frame_samples",
    [
        ("stereo 48 kHz", 48_000, 2, None),
        ("44.1 kHz", 44_100, 1, None),
        ("7-sample frames", 48_000, 1, 7),  # (1-sample frames: the same path, 20 s of aiortc overhead)
    ],
)
def test_odd_microphones_still_work(voice_app, ollama, speech: Speech, name, rate, channels, frame_samples):
    ollama.script(f"I heard you fine over the {name} microphone.")
    marker = {
        "stereo 48 kHz": "the sky is blue",
        "44.1 kHz": "the grass is green",
        "7-sample frames": "ocean is very deep",
    }
    sentence = f"I think {marker[name]}."
    before = {conversation.id for conversation in conversations(voice_app).list()}  # a retry's first try's

    async def scenario():
        session = GradioSession(voice_app.url)
        microphone = Microphone(rate=rate, channels=channels, frame_samples=frame_samples)
        call = await VoiceCall(session, persona_id="aria", microphone=microphone).connect()
        try:
            await wait_until(lambda: call.inputs_sent, 10, "the page to send its inputs")
            # Silence and noise first: neither may start a turn or break the session.
            noise = np.random.default_rng(0).normal(0, 0.05, rate).astype(np.float32)
            await call.play_and_wait(np.concatenate([np.zeros(rate // 2, np.float32), noise]))
            if frame_samples == 1:
                microphone.frame_samples = rate // 50  # the sentence itself in ordinary frames
            said_at = await say(call, resampled(speech.at(sentence), rate))
            await wait_until(lambda: call.audio_heard_since(said_at) > 0.5, 30, "the avatar's voice")
            return await wait_until(lambda: user_messages(voice_app, marker[name], before), 10, "the transcript")
        finally:
            await call.close()
            await session.close()

    found = run(scenario())
    assert len(found) == 1
    assert not user_messages(voice_app, "[")  # no non-speech annotations saved as messages


# -- scenes, in the same app (placed last: they add a world, a scene and a voice to it) -------------


def face_of(persona_id: str, shown: str) -> bool:
    """Whether the call screen's face `shown` is one of the persona's pictures (a copy named by its content)."""
    pictures = [PROJECT_ROOT / "personas" / f"{persona_id}.png"]
    pictures += (PROJECT_ROOT / "personas" / f"{persona_id}.expressions").glob("*.png")
    return any(hashlib.sha256(p.read_bytes()).hexdigest()[:32] in shown for p in pictures)


def test_the_named_api_runs_a_scene_turn_and_says_who_spoke(voice_app, ollama, tmp_path):
    world_file = tmp_path / "Meridian.json"
    world_file.write_text(json.dumps(meridian_world_info()))
    assert import_world_command(Settings(data_dir=voice_app.data_dir), world_file) == 0  # as `app.py import-world`
    client = Client(voice_app.url, verbose=False)
    assert [w["name"] for w in client.predict(api_name="/worlds")] == ["Meridian"]

    ollama.script("Heading for the comet, rookie.")
    updates = list(client.submit("Vega, where are we going?", CAST, "Meridian", "", 1, api_name="/scene"))
    summary = updates[-1]
    assert summary["turn_done"] is True and summary["spoke"] == ["captain-vega"]
    assert summary["replies"][0]["reply"] == "Heading for the comet, rookie."
    assert summary["replies"][0]["speaker_name"] == "Captain Vega"
    growing = [u for u in updates[:-1] if not u["done"]]
    assert growing and {u["speaker_id"] for u in growing} == {"captain-vega"}  # streamed, with its speaker
    scene = summary["conversation_id"]
    sent = ollama.chat_requests()[-1].body["messages"]
    assert "## The world: Meridian" in sent[0]["content"]  # imported by the CLI while the app runs

    ollama.script("Comets are dirty snowballs!", "Can I paint one?")
    summary = list(client.submit("", [], "", scene, 2, api_name="/scene"))[-1]  # let them talk: two replies
    assert len(summary["spoke"]) == 2 and summary["spoke"][0] != "captain-vega"
    assert summary["spoke"][0] != summary["spoke"][1]
    saved = conversations(voice_app).messages(scene)
    assert [m.speaker_id for m in saved[-2:]] == summary["spoke"]

    with pytest.raises(Exception, match="2 to 5 characters"):
        client.predict("Hi", ["aria"], "", "", 1, api_name="/scene")


def test_a_scene_by_voice_each_reply_in_its_speakers_voice(voice_app, ollama, speech: Speech, piper_voice_path):
    stand_in_voice(voice_app.data_dir / "models", QUILL_VOICE, piper_voice_path)
    # Each speaker's answer stands (a reply started at a pause and dropped when the user went on uses none up).
    ollama.answer_when("You are Professor Quill.", "Paris, my dear, on the Seine.")
    ollama.answer_when("You are Aria.", "Paris is lovely in spring!")

    service = conversations(voice_app)
    earlier = {c.id for c in service.list()}  # a retried run must not pick up the scene of the first try

    async def scenario():
        session = GradioSession(voice_app.url)
        start = session.fn_index(session.component_id("scene-start"), "click")
        started = await session.call(start, [["aria", "professor-quill"], ""])  # the Chat tab's Start the scene
        assert started["success"], started
        [scene] = [c.id for c in service.list() if c.id not in earlier and c.is_scene]
        call = await VoiceCall(session, persona_id="aria").connect()
        try:
            await wait_until(lambda: call.inputs_sent, 10, "the page to send its inputs")
            await wait_until(lambda: call.audio_heard_since(0) > 1.0, 30, "the scene's opening line")
            # (a whole second of quiet: under load, a gap between two sentences can pass half a second)
            await wait_until(lambda: not call.audio_heard_since(time.monotonic() - 1.0), 30, "the opening's end")
            question = speech.at(QUESTION_TO_BOTH, 48_000)
            said_at = await call.play_and_wait(question)
            heard = lambda: any("capital of france" in m.content.lower() for m in service.messages(scene))
            await wait_until(heard, 15, "the transcript")
            try:
                await wait_until(lambda: len(service.messages(scene)) >= 4, 60, "both replies heard and saved")
            except TimeoutError:
                saved = [(m.speaker_id or m.role.value, m.status.value, m.content) for m in service.messages(scene)]
                raise AssertionError(f"the scene saved only {saved}") from None
            await wait_until(lambda: answered_row(call), 15, "the answered turn's latency row")
            return call, said_at, scene
        finally:
            await call.close()
            await session.close()

    call, said_at, scene = asyncio.run(asyncio.wait_for(scenario(), 150))
    opening, question, first, second = conversations(voice_app).messages(scene)
    assert (opening.speaker_id, question.role.value) == ("aria", "user")
    assert [(m.speaker_id, m.content) for m in (first, second)] == [
        ("professor-quill", "Paris, my dear, on the Seine."),  # the ones named, in the order named
        ("aria", "Paris is lovely in spring!"),
    ]
    assert call.audio_heard_since(said_at) > 2.0  # both replies came back as sound over WebRTC
    # Each in its own voice: Quill's (a stand-in for en_GB-alan-medium), Aria's (the app's voice).
    assert f"professor-quill speaks in {QUILL_VOICE}.onnx" in voice_app.output
    assert f"aria speaks in {piper_voice_path.name}" in voice_app.output
    # The call screen's face follows the speaker: Quill's, then Aria's (served as copies named by content).
    faces = [json.dumps(o[7]) for o in call.outputs if isinstance(o[7], dict) and o[7].get("path")]
    assert any(face_of("professor-quill", shown) for shown in faces) and face_of("aria", faces[-1]), faces
    row = answered_row(call)
    assert 0 <= row[3] <= row[4] <= row[5], row  # transcript <= first token <= first audio, as in any call
