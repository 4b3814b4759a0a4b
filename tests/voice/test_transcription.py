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


def test_a_pass_started_at_a_gap_between_words_gives_way_when_the_user_goes_on(voice_models, speech: Speech):
    """The first silent window starts whisper (the user may be done). They were not: the next words make that
    pass stale, and it is told to stop (whisper.cpp stops after its encoder), while the new pass is whole."""
    transcriber = LiveTranscriber(voice_models, lambda text: None)
    audio = speech.at(QUESTION, before_s=0, after_s=0)

    async def gap_then_more() -> tuple[Transcript, Transcript]:
        transcriber.at_pause((1, 1000, 0), audio)  # a gap between words
        gap_pass = transcriber._pass
        await asyncio.sleep(0.02)
        transcriber.maybe_live((1, 1100, 0), 0.3, lambda: audio)  # more speech: that pass is stale
        stale = await asyncio.wait_for(gap_pass.task, 30)
        final = await asyncio.wait_for(transcriber.final((1, 1100, 0), audio), 30)
        return stale, final

    stale, final = asyncio.run(gap_then_more())
    assert stale.aborted and stale.text == ""  # never taken for the turn's words
    assert not final.aborted and "capital" in final.text.lower()


def test_a_pass_a_turn_waits_for_is_never_aborted(voice_models, speech: Speech):
    transcriber = LiveTranscriber(voice_models, lambda text: None)
    audio = speech.at(QUESTION, before_s=0, after_s=0)

    async def final_then_newer() -> Transcript:
        transcriber.at_pause((1, 1000, 0), audio)
        final = asyncio.ensure_future(transcriber.final((1, 1000, 0), audio))
        await asyncio.sleep(0.02)
        transcriber.at_pause((2, 500, 0), audio)  # the next utterance's gap: must not take this turn's words
        return await asyncio.wait_for(final, 30)

    result = asyncio.run(final_then_newer())
    assert not result.aborted and "capital" in result.text.lower()
