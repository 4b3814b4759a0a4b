"""The 32 ms endpointer on real Silero VAD and real (Piper) speech."""

from __future__ import annotations

import numpy as np
import pytest

from avatar.speech.audio import SAMPLE_RATE
from avatar.voice.endpointing import Endpointer, EndpointOptions, NotSpeech, Pause, Quiet, SpeechStarted, Utterance
from tests.voice.conftest import QUESTION, Speech

RATE = SAMPLE_RATE


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * RATE), np.float32)


def feed(
    endpointer: Endpointer, audio: np.ndarray, frame: int = 320, pauses: bool = False
) -> list[tuple[float, object]]:
    """Events with the time (s into `audio`) at which they came out (short pauses and quiets only if asked)."""
    events = []
    for start in range(0, audio.size, frame):
        for event in endpointer.feed(audio[start : start + frame]):
            if pauses or not isinstance(event, (Quiet, Pause)):
                events.append(((start + frame) / RATE, event))
    return events


def loud(audio: np.ndarray, level: float = 0.01) -> np.ndarray:
    """Indexes of the 10 ms frames of `audio` above `level` RMS."""
    frames = audio[: audio.size // 160 * 160].reshape(-1, 160)
    return np.flatnonzero(np.sqrt((frames**2).mean(axis=1)) > level)


def speech_start(audio: np.ndarray) -> float:
    return loud(audio)[0] * 160 / RATE


def speech_end(audio: np.ndarray) -> float:
    return (loud(audio)[-1] + 1) * 160 / RATE


def test_onset_is_quick_and_the_pause_ends_the_utterance(speech: Speech):
    audio = speech.at(QUESTION, before_s=0.5, after_s=1.5)
    events = feed(Endpointer(EndpointOptions(min_silence_ms=600)), audio)
    kinds = [type(e).__name__ for _, e in events]
    assert kinds == ["SpeechStarted", "Utterance"]
    (onset_at, _), (end_at, utterance) = events
    spoken_from = speech_start(audio)
    assert 0 < onset_at - spoken_from <= 0.2, "speech onset should be noticed within 200 ms"
    spoken_until = speech_end(audio)
    assert 0.55 <= end_at - spoken_until <= 0.9, "the utterance ends one pause after the last word"
    assert isinstance(utterance, Utterance) and utterance.reason == "pause"
    # The whole sentence is in it, the first syllable too (pre-roll), without the long pause after.
    assert utterance.audio.size / RATE == pytest.approx(spoken_until - spoken_from + 0.4, abs=0.35)
    said = speech.at(QUESTION, before_s=0, after_s=0)
    assert utterance.audio.size >= said.size


def test_how_much_has_been_heard_is_known_without_gathering_the_audio(speech: Speech):
    """`heard_s` (asked every 20 ms while the avatar holds its voice) is the length of `audio_so_far()`."""
    endpointer = Endpointer(EndpointOptions(min_silence_ms=600))
    audio = speech.at(QUESTION, before_s=0.5, after_s=1.5)
    lengths = []
    for start in range(0, audio.size, 320):
        endpointer.feed(audio[start : start + 320])
        lengths.append((endpointer.heard_s, endpointer.audio_so_far().size / SAMPLE_RATE))
    assert any(heard > 1.0 for heard, _ in lengths) and lengths[-1] == (0.0, 0.0)
    assert all(heard == pytest.approx(gathered) for heard, gathered in lengths)


def test_silence_and_noise_are_not_speech():
    endpointer = Endpointer()
    noise = np.random.default_rng(1).normal(0, 0.02, 3 * RATE).astype(np.float32)
    hum = (0.3 * np.sin(2 * np.pi * 50 * np.arange(3 * RATE) / RATE)).astype(np.float32)
    assert feed(endpointer, np.concatenate([silence(2), noise, hum, silence(1)])) == []


def test_a_short_sound_is_dropped(speech: Speech):
    word = speech.at("Hi.", before_s=0, after_s=0)[: int(0.2 * RATE)]
    endpointer = Endpointer(EndpointOptions(min_speech_ms=400))
    kinds = [type(e) for _, e in feed(endpointer, np.concatenate([silence(0.3), word, silence(1.0)]))]
    assert NotSpeech in kinds and Utterance not in kinds


def test_a_short_pause_does_not_split_the_utterance(speech: Speech):
    first = speech.at("I went to the shop.", before_s=0.3, after_s=0.3)
    second = speech.at("Then I came home.", before_s=0, after_s=1.2)
    events = feed(Endpointer(EndpointOptions(min_silence_ms=700)), np.concatenate([first, second]))
    assert [type(e) for _, e in events] == [SpeechStarted, Utterance]


def test_overlong_speech_is_cut_and_the_rest_until_a_pause_is_not_a_new_utterance(speech: Speech):
    endpointer = Endpointer(EndpointOptions(max_utterance_s=3.0))
    talk = np.concatenate([speech.at(QUESTION, before_s=0, after_s=0.1)] * 4)
    events = [e for _, e in feed(endpointer, talk)]
    assert [type(e) for e in events] == [SpeechStarted, Utterance]
    assert events[1].reason == "max_length"
    assert events[1].audio.size / RATE == pytest.approx(3.0, abs=0.05)
    # After a pause the user is heard again.
    events = [e for _, e in feed(endpointer, np.concatenate([silence(1.0), speech.at("Sorry.", after_s=1.0)]))]
    assert [type(e) for e in events] == [SpeechStarted, Utterance]


def test_push_to_talk_ends_on_release_not_on_pauses(speech: Speech):
    endpointer = Endpointer(EndpointOptions(end_on_pause=False))
    audio = np.concatenate([speech.at("Hello there.", after_s=1.5), speech.at("How are you?", after_s=1.5)])
    events = feed(endpointer, audio)
    assert [type(e) for _, e in events] == [SpeechStarted]
    released = endpointer.finish("released")
    assert isinstance(released, Utterance) and released.reason == "released"
    assert released.audio.size / RATE > 3.5  # both sentences and the pause between them
    assert endpointer.finish() is None


@pytest.mark.parametrize("frame", [1, 7, 320, 513, 4000])
def test_any_frame_size_gives_the_same_result(speech: Speech, frame: int):
    audio = speech.at(QUESTION, after_s=1.0)
    events = feed(Endpointer(), audio, frame=frame)
    assert [type(e) for _, e in events] == [SpeechStarted, Utterance]


def test_a_short_pause_is_reported_and_can_end_the_turn_at_once(speech: Speech):
    audio = speech.at(QUESTION, before_s=0.3, after_s=1.5)
    endpointer = Endpointer(EndpointOptions(pause_ms=200, min_silence_ms=1000))
    events = feed(endpointer, audio[: int((speech_end(audio) + 0.4) * RATE)], pauses=True)
    assert [type(e) for _, e in events] == [SpeechStarted, Quiet, Pause]
    quiet_at, paused_at, pause = events[1][0], events[2][0], events[2][1]
    assert 0.06 <= quiet_at - speech_end(audio) <= paused_at - speech_end(audio), "quiet (whisper starts) comes first"
    # (~200 ms after the last word, plus Silero's lag in calling a fading word silence: up to 350 ms seen, and
    # exactly 350 once in a full run with Piper's random rendering; 0.4 leaves room for that, not for a bug.)
    assert 0.15 <= paused_at - speech_end(audio) <= 0.4, "the short pause is reported ~200 ms after the last word"
    assert pause.audio.size / RATE == pytest.approx(paused_at - speech_start(audio) + 0.35, abs=0.2)
    assert endpointer.end_turn(pause.number + 1) is None  # not the pause the caller judged
    utterance = endpointer.end_turn(pause.number)
    assert isinstance(utterance, Utterance) and utterance.reason == "pause" and utterance.pause_s >= 0.2
    assert endpointer.end_turn(pause.number) is None and not endpointer.in_speech
    assert feed(endpointer, audio[int((speech_end(audio) + 0.4) * RATE) :]) == []  # the rest is silence


def test_a_pause_the_user_talks_through_cannot_end_the_turn(speech: Speech):
    first = speech.at("I would like", before_s=0.3, after_s=0.4)
    second = speech.at("a cup of coffee.", before_s=0, after_s=1.2)
    endpointer = Endpointer(EndpointOptions(pause_ms=200, min_silence_ms=1000))
    events = [e for _, e in feed(endpointer, np.concatenate([first, second]), pauses=True)]
    pause = events[2]
    assert isinstance(pause, Pause) and endpointer.end_turn(pause.number) is None  # two pauses since
    assert [type(e) for e in events] == [SpeechStarted, Quiet, Pause, Quiet, Pause, Utterance]
