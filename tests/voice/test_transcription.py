"""Live transcription: passes while the user talks, and the live words kept for when the final pass is guesswork."""

from __future__ import annotations

import asyncio

from avatar.speech.stt import Transcript
from avatar.voice.transcription import LiveTranscriber
from tests.voice.conftest import QUESTION, Speech


def test_the_newest_believable_live_words_stand_until_the_next_utterance(voice_models, speech: Speech):
    shown: list[str] = []
    transcriber = LiveTranscriber(voice_models, shown.append)
    audio = speech.at(QUESTION, before_s=0, after_s=0)

    async def live_pass() -> None:
        transcriber.maybe_live((1, 1, 0), audio.size / 16_000, lambda: audio)
        await asyncio.wait_for(transcriber._pass.task, 30)

    asyncio.run(live_pass())
    assert shown and transcriber.live_words() == shown[-1]
    assert "capital" in transcriber.live_words().lower()
    transcriber.reset()  # the user starts a new utterance: those words are not its words
    assert transcriber.live_words() == ""

    # A live result whisper was guessing at (p=0.2) is not words either.
    transcriber._live_heard = (Transcript("I'm not a good one. I'm not a good one.", 0.2), 1.0)
    assert transcriber.live_words() == ""
