"""Telling words from whisper's inventions, backchannels from turns, and unfinished sentences from finished ones."""

from __future__ import annotations

import pytest

from avatar.speech.stt import Transcript
from avatar.voice.turn_end import judge, words_unfinished
from avatar.voice.words import heard_words, is_backchannel, is_echo
from tests.voice.speech_set import INTERRUPTIONS


@pytest.mark.parametrize(
    "text, p, speech_s, kept",
    [
        ("What is the capital of France?", 0.9, 1.6, True),
        ("Stop.", 0.8, 0.3, True),
        ("I'm not a good one. I'm not a good one. I'm not a good one.", 0.7, 1.0, False),  # a 1 s "mm-hmm"
        ("Thank you.", 0.3, 0.4, False),  # unsure: a breath
        ("", 0.9, 1.0, False),
    ],
)
def test_heard_words(text, p, speech_s, kept):
    assert bool(heard_words(Transcript(text, p), speech_s)) is kept


def test_over_the_avatar_short_speech_must_be_clearer():
    mumble = Transcript("in my mom.", 0.55)  # "mm-hmm" over Opus
    assert heard_words(mumble, 0.4) and not heard_words(mumble, 0.4, over_avatar=True)
    assert heard_words(Transcript("Wait, stop for a moment.", 0.85), 1.2, over_avatar=True)


def test_over_the_avatar_a_hum_read_as_three_quick_words_is_not_words():
    """tiny.en heard a 0.45 s "Mm-hmm." as "And I'm up." at p 0.82; the VAD measures a little more than the sound."""
    assert not heard_words(Transcript("And I'm up.", 0.82), 0.52, over_avatar=True)
    assert heard_words(Transcript("Hang on.", 0.75), 0.43, over_avatar=True)  # real short interruptions still are
    assert heard_words(Transcript("Wait a second.", 0.95), 0.69, over_avatar=True)


def test_only_the_start_of_a_word_is_not_words():
    """Echo cut short by a hold came out "S-" (p 0.99) and "To-" (p 0.85): taken for "Stop", they stopped replies."""
    for fragment in ("S-", "To-", "Th- th-"):
        assert not heard_words(Transcript(fragment, 0.99), 0.7, over_avatar=True)
        assert not heard_words(Transcript(fragment, 0.99), 0.7)
    assert heard_words(Transcript("St- stop.", 0.9), 0.7, over_avatar=True)
    assert heard_words(Transcript("I-it-stop for a moment.", 0.8), 1.5, over_avatar=True)  # (tiny.en over echo)


HUMS = ["Mm-hmm.", "MMMM.", "Mm-hm.", "Mm-ma.", "Uh-huh.", "Uh-fuh.", "Ow."]  # (as tiny.en spells them)


@pytest.mark.parametrize("text", [*HUMS, "Yeah", "Okay.", "Right.", "I see.", "oh wow"])
def test_backchannels(text):
    assert is_backchannel(text)


@pytest.mark.parametrize(
    "text", ["Wait.", "Stop please.", "No, that is wrong.", "Yeah but what about Rome?", "Ma?", "Mama.", ""]
)
def test_not_backchannels(text):
    assert not is_backchannel(text)


def test_echo_is_the_avatars_own_words():
    said = "Sure. The first thing to know is that it depends on the season."
    assert is_echo("the first thing", said) and not is_echo("wait a second", said)


def test_echo_misheard_by_a_letter_is_still_the_avatars_words():
    """What AEC3 leaves of the echo, whisper hears a sound off: a long word a letter away still counts; a short
    word must match ("Stop." is not the avatar's "step"), and any word the avatar did not say makes it the user."""
    said = "Tomorrow afternoon looks sunny and warm. The next step is easy."
    assert is_echo("Looks funny.", said) and is_echo("afternon looks sunny", said)
    assert not is_echo("Stop.", said) and not is_echo("Wait, that's funny.", said)
    assert not is_echo("Looks funky.", said)  # two letters off


def test_echo_that_sounds_like_the_avatars_word_is_its_echo():
    """AEC3's leftovers blur consonants: the bench's reply "...a light breeze from the west" came back "Please." and
    stopped it. A long word that sounds like one the avatar said (b/p, l/r) counts; the user's own words still don't."""
    said = "Tomorrow afternoon looks sunny and warm. There is a light breeze from the west."
    assert is_echo("Please.", said) and is_echo("Brest from.", said)
    assert not is_echo("Please stop.", said)  # "stop": a short word the avatar did not say
    story = " ".join(f"This is sentence number {i} of a long story about the sea." for i in range(3))
    for interruption in [*INTERRUPTIONS, "Stop.", "Hang on.", "Sorry.", "Really?", "What about the mountains?"]:
        assert not is_echo(interruption, story) and not is_echo(interruption, said)


@pytest.mark.parametrize(
    "text, unfinished",
    [
        ("I went to the shop and...", True),
        ("Yesterday my sister and I", True),
        ("Can you tell me about the", True),
        ("I was wondering if.", True),
        ("My favorite color is,", True),
        ("What is the capital of France?", False),
        ("Where are you from?", False),
        ("I think so.", False),
        ("", False),
    ],
)
def test_words_that_leave_a_sentence_unfinished(text, unfinished):
    assert words_unfinished(text) is unfinished


def test_a_turn_is_over_when_it_sounds_and_reads_finished():
    assert judge(0.9, "What is the capital of France?").complete
    assert not judge(0.9, "I went to the shop and").complete  # Smart Turn heard a falling voice; the words disagree
    assert not judge(0.2, "I think so.").complete  # sounds unfinished: wait for the limit


def test_a_whole_question_clearly_heard_is_over_however_it_sounds():
    # Smart Turn scored this 0.02-0.3 in both test voices: the voice stays level to the end.
    assert judge(0.05, "Could you tell me what the weather will be like tomorrow afternoon?", 0.95).complete
    assert not judge(0.05, "What time it didn't talk at all?", 0.56).complete  # garbled: whisper guessed
    assert not judge(0.05, "Can you tell me about the?", 0.9).complete  # the words still dangle
    assert not judge(0.05, "What?", 0.95).complete  # too short to be the whole question
    assert not judge(0.05, "I would like to.", 0.95).complete  # not a question: the sound decides
