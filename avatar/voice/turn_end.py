"""Whether a paused utterance is finished: Smart Turn's ear for how it sounded, and the words themselves.

Smart Turn v3 hears prosody; it is right most of the time, but it can take a clause said with a
falling voice ("I went to the shop and") for a finished sentence. The words catch what it misses:
nobody ends a turn on "the", "and" or "if", and whisper marks a voice trailing off with "...". The
reply cannot start before the transcript anyway, so reading it costs no time.

It errs the other way too: a long question that ends level ("Could you tell me what the weather will be
like tomorrow afternoon?") scored 0.02-0.3 in both test voices, and "What time is it in Tokyo?" 0.04 in one,
so a finished question waited for the long pause (1 s) in 3-5 of the bench's 20. A question whisper heard
clearly, with its question mark, is finished whatever the sound: of the labelled first halves cut by a
thinking pause (20, two voices), whisper wrote a question mark after one, which Smart Turn already took for
finished ("Can you tell me about that?" for "... about the").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from avatar.speech.turn import COMPLETE

# Words a finished sentence does not end on: articles, conjunctions, possessives, subject pronouns, fillers.
# Kept to words that end a sentence almost never ("to", "from", "so" do: "Where are you from?").
DANGLING = frozenset(
    {"a", "an", "the", "and", "or", "but", "nor", "because", "if", "although", "though", "whether", "than"}
    | {"my", "your", "our", "their", "i", "we", "they", "he", "she", "um", "uh", "er", "erm", "maybe"}
)
_TRAILING_OFF = re.compile(r"(\.\.\.|…|[,;:\-–—])\s*$")
_LAST_WORD = re.compile(r"([\w']+)\W*$")
_WORD = re.compile(r"[\w']+")
# A question mark counts only on a clear transcript of a few words: whisper's guesses at garbled speech end
# in "?" too ("What time it didn't talk at all?", p 0.56), and "What?" alone may open a question.
QUESTION_CONFIDENCE = 0.8
QUESTION_MIN_WORDS = 3


def words_unfinished(text: str) -> bool:
    """Whether a transcript reads as cut off mid-sentence (or whisper heard the voice trail off)."""
    text = text.strip()
    if not text:
        return False  # nothing to read: the sound alone decides
    if _TRAILING_OFF.search(text):
        return True
    match = _LAST_WORD.search(text)
    return match is not None and match.group(1).lower() in DANGLING


def asks_a_question(text: str, confidence: float) -> bool:
    """Whether whisper clearly heard a whole question (its `confidence`: the transcript's probability)."""
    text = text.strip()
    return (
        text.endswith("?")
        and confidence >= QUESTION_CONFIDENCE
        and len(_WORD.findall(text)) >= QUESTION_MIN_WORDS
        and not words_unfinished(text)
    )


@dataclass(frozen=True)
class Verdict:
    probability: float  # Smart Turn's, that the speaker is done
    unfinished_words: bool
    question: bool = False  # the words are a whole question, clearly heard

    @property
    def complete(self) -> bool:
        return not self.unfinished_words and (self.probability >= COMPLETE or self.question)


def judge(probability: float, transcript: str, confidence: float = 0.0) -> Verdict:
    """Smart Turn's `probability` and whisper's `transcript` (heard with `confidence`) together."""
    return Verdict(probability, words_unfinished(transcript), asks_a_question(transcript, confidence))
