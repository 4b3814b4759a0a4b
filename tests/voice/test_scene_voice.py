"""A scene by voice: each reply in its speaker's voice, talking over one stops it and the replies to come.

The tests on the running app over real WebRTC (the named API, a scene spoken in two voices) are in
test_webrtc.py, sharing its app; the helpers they use are here.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest

from avatar.conversations.schemas import MessageStatus
from avatar.conversations.service import ConversationService
from avatar.core.db import open_database
from avatar.voice.handler import VoiceHandler
from avatar.voice.state import VoiceInputs
from tests.conftest import REAL_TIME
from tests.voice.conftest import INTERRUPTION, Speech
from tests.voice.harness import Harness

pytestmark = [pytest.mark.slow, REAL_TIME]

CAST = ["aria", "captain-vega", "professor-quill"]
QUILL_VOICE = "en_GB-alan-medium"  # Professor Quill's voice (personas/professor-quill.yaml)
# (Unprompted, whisper tiny hears the test voice's "Aria" as "area": the call prompts it with the names.)
QUESTION_TO_BOTH = "Professor Quill, then Aria: what is the capital of France?"
STORY = " ".join(f"This is sentence {n} of the story." for n in ("one", "two", "three", "four", "five", "six"))


def scene_with(app, fragment: str) -> str | None:
    """The scene of the running `app` where the user said `fragment`."""
    service = ConversationService(open_database(app.data_dir / "avatar.db"))
    for conversation in service.list():
        said = [m for m in service.messages(conversation.id) if m.role.value == "user"]
        if conversation.is_scene and any(fragment in m.content.lower() for m in said):
            return conversation.id
    return None


def stand_in_voice(models_dir: Path, voice_id: str, piper_voice_path: Path, length_scale: float = 2.0) -> Path:
    """A "downloaded" Piper voice `voice_id`: the test voice speaking slower, so it can be told apart."""
    folder = models_dir / "piper"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{voice_id}.onnx"
    shutil.copyfile(piper_voice_path, path)
    config = json.loads(Path(f"{piper_voice_path}.json").read_text())
    config["inference"]["length_scale"] = length_scale
    Path(f"{path}.json").write_text(json.dumps(config))
    return path


def test_whisper_is_prompted_with_the_names_in_the_call(voice_ctx, voice_models):
    handler = VoiceHandler(voice_ctx, voice_models)
    scene = voice_ctx.scenes.start(["aria", "professor-quill"])
    handler.apply_inputs(VoiceInputs(persona_id="aria", conversation_id=scene))
    user = voice_ctx.profile.user_name()
    assert handler.names_in_call() == f"Aria, Professor Quill, {user}."
    handler.apply_inputs(VoiceInputs(persona_id="captain-vega", conversation_id=None))
    assert handler.names_in_call() == f"Captain Vega, {user}."


def test_talking_over_a_reply_in_a_scene_stops_it_and_the_replies_to_come(
    voice_ctx, voice_models, fake_ollama, speech: Speech
):
    scene = voice_ctx.scenes.start(["aria", "professor-quill"])
    fake_ollama.script(STORY)  # Quill's, long; Aria's would follow, but she is not asked any more

    async def scenario() -> Harness:
        async with Harness(VoiceHandler(voice_ctx, voice_models)) as h:
            await h.page(persona="aria", conversation=scene)
            h.start()
            await h.started(60)  # the scene's opening line, spoken in Aria's voice
            opened = h.audio_seconds()
            await h.say(speech.at(QUESTION_TO_BOTH))
            await h.until(lambda: h.audio_seconds() > opened + 2.5, 60, what="Quill talking")
            await h.say(speech.at(INTERRUPTION, before_s=0), realtime=True)
            await h.until(lambda: len(h.handler.latencies) == 2, 60, what="the interruption answered")
            await h.idle()
            return h

    h = asyncio.run(scenario())
    assert opened_aloud(h)
    # The call screen showed Quill's face once Quill was about to be heard (the face comes with an expression).
    assert any(e.persona_id == "professor-quill" and e.emotion for e in h.events)
    (barge_in,) = h.handler.barge_ins
    saved = voice_ctx.conversations.messages(scene)
    assert [(m.role.value, m.speaker_id) for m in saved[:4]] == [
        ("assistant", "aria"),  # the opening
        ("user", None),
        ("assistant", "professor-quill"),
        ("user", None),  # the interruption: Aria, named second, never spoke over it
    ]
    assert saved[2].status is MessageStatus.interrupted and saved[2].content == barge_in.spoken_text
    assert STORY.startswith(saved[2].content) and saved[2].content != STORY
    assert saved[4].status is MessageStatus.complete  # and the interruption got its answer
    assert [t.outcome for t in h.handler.latencies] == ["interrupted", "complete"]
    assert h.handler.latencies[0].speculative == "used"  # started before the turn was sure, as in any call


def opened_aloud(h: Harness) -> bool:
    """The call's first audio came before anything was said: the opening line."""
    return bool(h.audio) and any(e.persona_id == "aria" and e.emotion for e in h.events)
