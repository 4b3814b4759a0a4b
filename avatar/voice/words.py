"""Whether what whisper heard is words the user said, or whisper inventing words on a short or non-speech sound.

Whisper, tiny.en most of all, writes fluent text for a breath, a cough or a hum ("Thank you.", "I'm not
a good one. I'm not a good one."). Three signals tell these apart: how sure whisper was (the mean
probability of its tokens), and how much speech the VAD measured: a transcript far longer than
the speech it came from (a loop, an invented sentence) was made up.
"""

from __future__ import annotations

import re

from avatar.speech.stt import Transcript

MIN_PROBABILITY = 0.45  # below this, tiny.en is guessing (real words score ~0.7-0.95, inventions ~0.2-0.5)
WORDS_PER_SECOND_MAX = 6.0  # nobody says more words than this per second of speech


def word_count(text: str) -> int:
    return len(re.findall(r"[\w']+", text))


def heard_words(transcript: Transcript, speech_s: float) -> str:
    """The transcript's text if it is believable as what was said in `speech_s` seconds of speech, else ""."""
    text = transcript.text.strip()
    words = word_count(text)
    if not words:
        return ""
    if transcript.probability < MIN_PROBABILITY:
        return ""
    if words > WORDS_PER_SECOND_MAX * speech_s + 2:
        return ""
    return text
