"""The echo canceller on the avatar's own (Piper) voice fed back 30-120 ms later, 6-20 dB quieter, with real Silero."""

from __future__ import annotations

import numpy as np
import pytest

from avatar.speech.audio import to_mono_16k
from avatar.voice.echo import EchoCanceller
from avatar.voice.endpointing import Endpointer, SpeechStarted
from avatar.voice.overlap import VOICE_OVER_ECHO_MIN_S
from tests.voice.speech_set import SteadyPiper, Voices, trim

pytestmark = pytest.mark.slow

FRAME = 320  # 20 ms at 16 kHz, as the microphone sends
LEAD_S = 0.1  # the server hands each chunk on this long before it plays (playback.LEAD_S): the echo comes later
PART = int(1.5 * 16_000)  # replies_after_silences: each reply's length
REPLY = "Sure. The first thing to know is that it depends on the season. In summer it is warm and bright."


def run(
    canceller: EchoCanceller, reply_48k: np.ndarray, mic: np.ndarray, user: tuple[float, float] = (0, 0)
) -> np.ndarray:
    """Play the reply 20 ms at a time while the microphone sends `mic`, frame for frame; the cleaned microphone.

    `user`: when (s) the user talks, as the handler's VAD tells the canceller."""
    out = []
    for i, start in enumerate(range(0, mic.size, FRAME)):
        chunk = reply_48k[i * 960 : (i + 1) * 960]
        if chunk.size == 960:
            canceller.played(chunk, 48_000, at=i * 0.02)
        talking = user[0] <= i * 0.02 < user[1]
        out.append(canceller.clean(mic[start : start + FRAME], now=i * 0.02, user_speaking=talking))
    return np.concatenate(out)


def onsets(audio: np.ndarray) -> list[float]:
    endpointer = Endpointer()
    found = []
    for start in range(0, audio.size, FRAME):
        if any(isinstance(e, SpeechStarted) for e in endpointer.feed(audio[start : start + FRAME])):
            found.append(start / 16_000)
    return found


def heard_against_said_db(said: np.ndarray, heard: np.ndarray, loud_rms: float) -> np.ndarray:
    """For each 100 ms the user said louder than `loud_rms`: how much louder (dB, < 0: quieter) it was heard."""
    n = said.size // 1600 * 1600
    said_blocks, heard_blocks = said[:n].reshape(-1, 1600), heard[:n].reshape(-1, 1600)
    loud = np.sqrt(np.mean(np.square(said_blocks), axis=1)) > loud_rms
    said_power = np.mean(np.square(said_blocks[loud]), axis=1)
    return 10 * np.log10(np.maximum(np.mean(np.square(heard_blocks[loud]), axis=1), 1e-12) / said_power)


@pytest.fixture(scope="module")
def reply(steady_piper: SteadyPiper) -> tuple[np.ndarray, np.ndarray]:
    """The reply as Piper says it without its random variation (see SteadyPiper): about 1 rendering in 12 left AEC3
    a syllable past its first second at -12 dB. The handler copes with such a syllable (test_turns.py); this file
    checks the canceller on one known rendering."""
    rate, audio = steady_piper.synthesize(REPLY)
    return to_mono_16k(audio, rate, 48_000), to_mono_16k(audio, rate)


def mic_with(reply_16k: np.ndarray, delay_s: float, gain_db: float, seconds: float) -> np.ndarray:
    """The microphone: a real one's hiss, and the reply played LEAD_S after it was handed on, heard `delay_s` later."""
    mic = np.random.default_rng(0).normal(0, 0.001, int(seconds * 16_000)).astype(np.float32)
    start = int((LEAD_S + delay_s) * 16_000)
    end = min(mic.size, start + reply_16k.size)
    mic[start:end] += reply_16k[: end - start] * 10 ** (gain_db / 20)
    return mic


def replies_after_silences(
    reply_16k: np.ndarray, starts: list[float], seconds: float, seed: int, gain_db: float = -12, delay_s: float = 0.08
) -> np.ndarray:
    """The microphone hearing replies of 1.5 s that start at `starts` (s): reply n is the reply from n * 0.75 s on
    (so each starts on different words), played LEAD_S after it was handed on and heard `delay_s` later."""
    mic = np.random.default_rng(seed).normal(0, 0.001, int(seconds * 16_000)).astype(np.float32)
    for n, start in enumerate(starts):
        at = int((start + LEAD_S + delay_s) * 16_000)
        mic[at : at + PART] += reply_16k[n * PART // 2 :][:PART] * 10 ** (gain_db / 20)
    return mic


def hand_on_replies(
    canceller: EchoCanceller, reply_48k: np.ndarray, starts: list[float], mic: np.ndarray
) -> np.ndarray:
    """Hand the replies of `replies_after_silences` on as the server does, 20 ms at a time; the cleaned microphone."""
    out = []
    for frame in range(mic.size // FRAME):
        clock = frame * FRAME / 16_000
        for n, start in enumerate(starts):
            index = round((clock - start) / 0.02)
            if 0 <= index < PART // 320:
                offset = n * PART // 2 * 3 + index * 960
                canceller.played(reply_48k[offset : offset + 960], 48_000, at=clock)
        out.append(canceller.clean(mic[frame * FRAME : (frame + 1) * FRAME], now=clock))
    return np.concatenate(out)


@pytest.mark.parametrize("delay_s, gain_db", [(0.08, -12), (0.12, -12), (0.12, -20)])
def test_the_avatars_echo_is_not_heard_as_speech(reply, delay_s, gain_db):
    """(Louder or quicker echo, -6 dB or 30 ms, can leave a syllable the VAD hears while AEC3 converges: the handler holds the
    avatar a moment and carries on, see test_turns.py.)"""
    reply_48k, reply_16k = reply
    mic = mic_with(reply_16k, delay_s, gain_db, reply_16k.size / 16_000 + 1)
    assert onsets(mic), "without the canceller the echo sounds like someone talking"
    heard = onsets(run(EchoCanceller(), reply_48k, mic))
    # Once AEC3 has converged, nothing; while it converges (the echo's first second) Piper's take on the reply
    # leaves a syllable the VAD hears about 1 time in 12 at -12 dB: at most one, which the handler holds and
    # resumes (test_turns.py: no self-interruption).
    assert len(heard) <= 1 and all(t < 1.2 for t in heard), heard


def test_the_user_talking_over_the_echo_is_still_heard(reply, voices: Voices):
    reply_48k, reply_16k = reply
    mic = mic_with(reply_16k, 0.08, -12, reply_16k.size / 16_000 + 1)
    user = voices.say("espeak", "Wait, stop for a moment.")
    at = int(2.0 * 16_000)
    mic[at : at + user.size] += user
    heard = [t for t in onsets(run(EchoCanceller(), reply_48k, mic)) if t >= 1.9]
    assert heard and 2.0 <= heard[0] <= 2.3, heard


def test_without_echo_the_microphone_passes_untouched(reply, voices: Voices):
    """Headphones, or the browser already cancelled it: AEC3 would damp the first syllables of the user."""
    reply_48k, reply_16k = reply
    mic = mic_with(reply_16k, 0.08, -120, reply_16k.size / 16_000 + 1)
    user = voices.say("piper", "Stop please.")
    at = int(2.5 * 16_000)
    mic[at : at + user.size] += user
    canceller = EchoCanceller()
    cleaned = run(canceller, reply_48k, mic, user=(2.55, 2.5 + user.size / 16_000))
    assert not canceller.echo_heard()
    assert np.allclose(cleaned[at : at + user.size], mic[at : at + user.size], atol=1e-4)


def test_the_user_talking_as_the_call_starts_is_heard_whole(reply, tts):
    """No echo, and the user starts talking just as the avatar starts its greeting: before anything is known,
    AEC3 took their voice for echo (60-80 dB down: the question was never heard), and the two voices rising
    together looked like echo to the canceller's own check: in 1 rendering in 10 (Piper's voice varies from one
    rendering to the next) it believed in echo and silenced 200-700 ms of the user's words. Eight renderings,
    starting 0-140 ms into the greeting."""
    reply_48k, reply_16k = reply
    for attempt in range(8):
        rate, audio = tts.synthesize("What is the capital of France?")
        user = trim(to_mono_16k(audio, rate))
        mic = mic_with(reply_16k, 0.08, -120, 4.0)
        starts_s = LEAD_S + 0.02 * attempt  # as the greeting starts playing, or a little after
        at = int(starts_s * 16_000)
        mic[at : at + user.size] += user
        canceller = EchoCanceller()
        cleaned = run(canceller, reply_48k, mic, user=(starts_s + 0.25, starts_s + user.size / 16_000))
        assert not canceller.echo_heard()
        # Every 100 ms of their voice about as loud as they said it (high-passed; AEC3 alone took 12 dB to all).
        ratio_db = heard_against_said_db(mic[at : at + user.size], cleaned[at : at + user.size], loud_rms=0.01)
        assert ratio_db.size > 5 and np.abs(ratio_db).max() < 6.0, (attempt, ratio_db)


def test_each_new_reply_starts_without_echo_heard_however_late_the_microphone_is_processed(reply):
    """Replies with pauses between them, and microphone frames handled 10-150 ms late, by a different amount
    each time (the event loop shares the cores with whisper and Piper): the echo of each reply's start is
    not heard as speech. (Pairing frames as they came made AEC3 find the delay again at every start.)"""
    reply_48k, reply_16k = reply
    part = int(1.5 * 16_000)
    starts = [0.0, 2.1, 4.2]  # three replies of 1.5 s, 0.6 s apart
    mic = np.random.default_rng(1).normal(0, 0.001, int(6.5 * 16_000)).astype(np.float32)
    events: list[tuple[float, int, int]] = []  # (clock, 0 = a chunk handed on / 1 = a mic frame handled, index)
    for start in starts:
        at = int((start + LEAD_S + 0.08) * 16_000)  # played LEAD_S after it was handed on, heard 80 ms later
        mic[at : at + part] += reply_16k[:part] * 10 ** (-12 / 20)
        events += [(start + i * 0.02, 0, i) for i in range(part // 320)]
    late = [0.01, 0.15, 0.06]  # how late the microphone's frames are handled, from one reply to the next
    for frame in range(mic.size // FRAME):
        heard_at = (frame + 1) * FRAME / 16_000
        events.append((heard_at + late[sum(heard_at > s + 1.8 for s in starts[:-1])], 1, frame))
    canceller, out = EchoCanceller(), []
    for clock, kind, index in sorted(events):
        if kind == 0:
            canceller.played(reply_48k[index * 960 : (index + 1) * 960], 48_000, at=clock)
        else:
            out.append(canceller.clean(mic[index * FRAME : (index + 1) * FRAME], now=clock))
    assert [t for t in onsets(mic) if t > 2.0], "without the canceller each reply's echo sounds like someone"
    assert [t for t in onsets(np.concatenate(out)) if t > 2.0] == []  # (the first reply: AEC3 converges)


def test_after_resting_through_a_silence_the_next_replies_echo_is_still_taken_out(reply, voices: Voices):
    """The avatar quiet for 2 s: AEC3 rests (nothing can echo, so it is not run). The user talking in that silence
    is heard, and the echo of the replies after it is not."""
    reply_48k, reply_16k = reply
    starts = [0.0, 3.5, 7.0]  # three replies of 1.5 s, 2 s apart
    mic = replies_after_silences(reply_16k, starts, seconds=9.5, seed=2)
    question = voices.say("espeak", "What time is it?")
    at = int(2.5 * 16_000)  # in the first silence, with AEC3 at rest
    mic[at : at + question.size] += question
    heard = onsets(hand_on_replies(EchoCanceller(), reply_48k, starts, mic))
    assert [t for t in onsets(mic) if t > 3.0], "without the canceller the later replies' echo sounds like someone"
    assert [t for t in heard if 2.4 < t < 3.2], "the user in the silence is heard"
    assert [t for t in heard if t > 3.2] == []


def test_the_user_talking_as_the_avatar_starts_its_next_sentence_is_not_silenced(reply, voices: Voices):
    """For 500 ms after the avatar starts talking again, frames no louder than its echo can be are silenced (AEC3
    finds the echo anew then). That bound once took the avatar's loudest moment in the last 400 ms, whenever its
    echo could arrive: a user who said "Wait, stop for a moment" as a new sentence began lost a word to it (here
    "Wait": the cleaned microphone was zeros for 300 ms; in the app whisper then heard "Wait, I'm gonna roll it").
    With the echo's delay measured, only the avatar's voice that can be arriving now counts."""
    reply_48k, reply_16k = reply
    gap = 0.4  # between two sentences: the avatar silent long enough for AEC3 to find the echo anew
    first = int(1.8 * 16_000)
    reply_16k = np.concatenate([reply_16k[:first], np.zeros(int(gap * 16_000), np.float32), reply_16k[first:]])
    reply_48k = np.concatenate(
        [reply_48k[: first * 3], np.zeros(int(gap * 48_000), np.float32), reply_48k[first * 3 :]]
    )
    mic = mic_with(reply_16k, 0.08, -12, reply_16k.size / 16_000 + 1)
    user = voices.say("espeak", "Wait, stop for a moment.")
    starts_s = 1.8 + gap + LEAD_S + 0.08 + 0.05  # 50 ms into the echo of the next sentence
    at = int(starts_s * 16_000)
    mic[at : at + user.size] += user
    cleaned = run(EchoCanceller(), reply_48k, mic, user=(starts_s + 0.25, starts_s + user.size / 16_000))
    # No 100 ms of their voice after the first is silenced (AEC3 itself damps the first ~100 ms of talk over the
    # echo, 40 dB and more): each comes through, if damped (0-15 dB). Silenced was -90 to -100 dB for the next 200 ms.
    skip = 1600
    ratio_db = heard_against_said_db(user[skip:], cleaned[at + skip : at + user.size], loud_rms=0.03)
    assert ratio_db.size > 5 and ratio_db.min() > -20, ratio_db.round(1)


@pytest.mark.parametrize("delay_s, gain_db", [(0.03, -6), (0.08, -12), (0.12, -20)])
def test_the_echo_alone_is_never_taken_for_someone_talking_over_it(reply, delay_s, gain_db):
    """What AEC3 leaves of the echo (most at a reply's start) the VAD can take for speech and whisper for words
    ("Brest from." for "breeze from" stopped a reply in the bench). The microphone's loudness against what the
    avatar said, at the echo's measured delay and level, tells the echo from someone talking: replies after
    silences, each one's start heard as it would be again."""
    reply_48k, reply_16k = reply
    starts = [0.0, 2.1, 4.2]
    mic = replies_after_silences(reply_16k, starts, seconds=6.5, seed=3, gain_db=gain_db, delay_s=delay_s)
    canceller = EchoCanceller()
    hand_on_replies(canceller, reply_48k, starts, mic)
    assert canceller.echo_heard()
    assert canceller.voice_over_echo_s(mic.size / 16_000 - 0.5) < VOICE_OVER_ECHO_MIN_S


@pytest.mark.parametrize("text", ["Stop.", "Wait."])
def test_a_quiet_user_saying_one_word_over_the_echo_is_louder_than_it(reply, voices: Voices, text):
    """The test voice 5 dB over the echo (a quiet user) says one word as the app hears it: the avatar talks on
    until it holds its voice (about 350 ms in), and what it had handed on still plays and echoes. Enough of the
    word is louder than the echo can be."""
    reply_48k, reply_16k = reply
    user = voices.say("espeak", text)
    starts_s = 2.0
    held_s = starts_s + 0.35
    mic = np.random.default_rng(4).normal(0, 0.001, int(3.5 * 16_000)).astype(np.float32)
    echo_from, echo_to = int((LEAD_S + 0.08) * 16_000), int((held_s + LEAD_S + 0.08) * 16_000)
    mic[echo_from:echo_to] += reply_16k[: echo_to - echo_from] * 10 ** (-12 / 20)
    at = int(starts_s * 16_000)
    mic[at : at + user.size] += user
    canceller = EchoCanceller()
    for frame in range(mic.size // FRAME):
        clock = frame * FRAME / 16_000
        if clock < held_s:  # (handed on LEAD_S before it plays: what was handed on plays out)
            canceller.played(reply_48k[frame * 960 : (frame + 1) * 960], 48_000, at=clock)
        canceller.clean(mic[frame * FRAME : (frame + 1) * FRAME], now=clock)
    assert canceller.voice_over_echo_s(mic.size / 16_000 - starts_s + 0.3) >= VOICE_OVER_ECHO_MIN_S
