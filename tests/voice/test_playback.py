"""Outgoing audio: real-time release of 20 ms chunks, and the text the user heard when interrupted."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

from avatar.voice.playback import CHUNK, CHUNK_S, LEAD_S, OUTPUT_RATE, PLAYOUT_DELAY_S, Playback
from avatar.voice.reply import Speaker


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def tone(seconds: float) -> np.ndarray:
    return np.full(int(seconds * OUTPUT_RATE), 0.1, np.float32)


def queue_reply(playback: Playback, sentences: list[tuple[str, float]]) -> int:
    generation = playback.begin()
    for text, seconds in sentences:
        index = playback.add_sentence(generation, text)
        playback.add_audio(generation, index, tone(seconds))
    return generation


async def release_all(playback: Playback, clock: Clock) -> int:
    """Take every chunk out as the WebRTC track would, the clock moving 20 ms per chunk."""
    count = 0
    while (await playback.next_chunk(0)) is not None:
        count += 1
        clock.now += CHUNK_S
    return count


def test_spoken_text_is_what_was_heard():
    clock = Clock()
    playback = Playback(clock)
    queue_reply(playback, [("Hello there.", 1.0), ("*smiles*", 0.0), ("How was your day today?", 2.0), ("Bye.", 0.5)])
    start = clock.now

    async def scenario() -> list[str]:
        # Release 1.5 s of audio as the track would while the clock runs, then look back at moments.
        for _ in range(75):
            assert await playback.next_chunk(0.01) is not None
            clock.now += CHUNK_S
        heard = []
        for at in (0.4, 1.0, 1.5):
            clock.now = start + PLAYOUT_DELAY_S + at
            heard.append(playback.spoken_text())
        assert not playback.cut_short
        heard.append(playback.stop())
        assert not playback.busy() and await playback.next_chunk(0) is None
        assert playback.cut_short and playback.audible_until() <= clock.now  # (its echo is the user's concern now)
        return heard

    # 0.4 s of a two-word, 1 s sentence is less than a word's share; 1.5 s is a quarter into the third.
    assert asyncio.run(scenario()) == [
        "",
        "Hello there.",
        "Hello there. *smiles* How",
        "Hello there. *smiles* How",
    ]


def test_everything_heard_includes_a_silent_ending():
    clock = Clock()
    playback = Playback(clock)
    queue_reply(playback, [("Goodbye!", 0.4), ("*waves*", 0.0)])
    start = clock.now
    assert asyncio.run(release_all(playback, clock)) == 20
    clock.now = start + 0.4 + PLAYOUT_DELAY_S
    assert playback.spoken_text() == "Goodbye! *waves*"
    assert not playback.busy() and not playback.cut_short  # played to its end: its last words may still echo


def test_audio_is_padded_to_whole_chunks_and_old_replies_are_dropped():
    clock = Clock()
    playback = Playback(clock)

    async def scenario() -> None:
        old = queue_reply(playback, [("Old reply.", 1.0)])
        new = queue_reply(playback, [("New.", 0.01)])
        assert new == old + 1
        chunk = await playback.next_chunk(0)
        assert chunk is not None and chunk[0] == new and chunk[1].shape == (CHUNK,)
        assert await playback.next_chunk(0) is None
        playback.add_audio(old, 0, tone(1.0))  # a late sentence of the old reply
        assert await playback.next_chunk(0) is None

    asyncio.run(scenario())


def test_chunks_leave_in_real_time_a_little_ahead():
    playback = Playback()
    queue_reply(playback, [("A second of talk.", 1.0)])
    times = []

    async def take_all() -> None:
        while (chunk := await playback.next_chunk(0.2)) is not None:
            times.append(time.monotonic())
            assert chunk[1].shape == (CHUNK,)

    started = time.monotonic()
    asyncio.run(take_all())
    assert len(times) == 50
    # The first chunks go at once (LEAD_S ahead), then one every 20 ms: 1 s of audio takes ~0.9 s.
    assert times[int(LEAD_S / CHUNK_S) - 1] - started < 0.05
    assert times[-1] - started == pytest.approx(1.0 - LEAD_S - CHUNK_S, abs=0.08)


def test_a_hold_goes_quiet_and_resumes_where_it_stopped():
    clock = Clock()
    playback = Playback(clock)
    queue_reply(playback, [("One two three four.", 1.0), ("Five six.", 0.5)])

    async def scenario() -> tuple[int, str, int]:
        for _ in range(20):  # 0.4 s released
            assert await playback.next_chunk(0) is not None
            clock.now += CHUNK_S
        playback.hold()
        held_heard = playback.spoken_text()
        assert await playback.next_chunk(0) is None and playback.busy()  # quiet, but the reply goes on
        playback.resume()
        rest = await release_all(playback, clock)
        return rest, held_heard, len(playback.sentences)

    rest, held_heard, sentences = asyncio.run(scenario())
    # What was handed on but not heard yet (LEAD_S ahead) is played again after the hold: nothing is lost.
    assert 20 + rest > 75 - 1 and held_heard == "One"
    assert sentences == 2


@pytest.mark.slow
def test_a_replys_first_sentence_is_queued_from_its_first_sound(tts):
    """Piper opens a sentence that starts with a vowel with 30-40 ms of silence: the listener waiting for the
    reply hears the voice in the first chunk instead (the later sentences keep theirs: a natural pause)."""
    rate, raw = tts.synthesize("Oh, I see what you mean.")
    lead_s = np.flatnonzero(np.abs(raw) > 0.01)[0] / rate
    assert lead_s >= 0.025  # what Piper itself starts with

    async def first_chunks() -> list[np.ndarray]:
        playback = Playback()
        generation = playback.begin()
        sentences: asyncio.Queue[str | None] = asyncio.Queue()
        for text in ("Oh, I see what you mean.", "Oh, and one more thing.", None):
            sentences.put_nowait(text)
        speaking = asyncio.create_task(Speaker(playback).speak(generation, tts, None, sentences, lambda: False))
        while len(playback.sentences) < 2 or not playback.sentences[1].synthesized:
            await asyncio.sleep(0.01)
        first = playback._chunks[0][2]
        second = next(chunk for _, index, chunk, _ in playback._chunks if index == 1)
        playback.stop()
        await speaking
        return [first, second]

    first, second = asyncio.run(first_chunks())
    assert np.abs(first[: int(0.011 * OUTPUT_RATE)]).max() > 0.01  # the voice within 10 ms
    assert np.abs(second[: int(0.025 * OUTPUT_RATE)]).max() <= 0.01  # later sentences: as Piper says them


@pytest.mark.slow
def test_piper_keeps_only_a_few_seconds_of_a_long_reply_ahead_of_what_plays(tts):
    """A long reply was synthesized minutes ahead, both cores busy, while whisper had to judge a "mm-hmm" said
    over it; now Piper waits while more than SYNTHESIZED_AHEAD_S is queued, and goes on as the reply plays."""
    from avatar.voice.reply import SYNTHESIZED_AHEAD_S

    story = [f"This is sentence number {i} of a long story about the sea." for i in range(8)]

    async def scenario() -> tuple[int, float, int]:
        clock = Clock()
        playback = Playback(clock)
        generation = playback.begin()
        sentences: asyncio.Queue[str | None] = asyncio.Queue()
        for text in [*story, None]:
            sentences.put_nowait(text)
        speaking = asyncio.create_task(Speaker(playback).speak(generation, tts, None, sentences, lambda: False))
        while playback.queued_s() <= SYNTHESIZED_AHEAD_S and len(playback.sentences) < len(story):  # nothing plays
            await asyncio.sleep(0.01)
        await asyncio.sleep(1.0)  # time enough for several more sentences, were they made
        ahead_s, made_while_waiting = playback.queued_s(), len(playback.sentences)
        while not speaking.done():  # now the reply plays (the clock moving 20 ms a chunk): the rest follows
            played = await playback.next_chunk(0) is not None
            clock.now += CHUNK_S
            if not played:
                await asyncio.sleep(0.01)  # (Piper at work on the next sentence)
        return made_while_waiting, ahead_s, len(playback.sentences)

    made_while_waiting, ahead_s, made = asyncio.run(scenario())
    assert made_while_waiting < len(story) and ahead_s < SYNTHESIZED_AHEAD_S + 4  # one sentence (3.3 s) over at most
    assert made == len(story)  # and all of it was spoken in the end
