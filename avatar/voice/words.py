"""Whether what whisper heard is words the user said, or whisper inventing words on a short or non-speech sound.

Whisper, tiny.en most of all, writes fluent text for a breath, a cough or a hum ("Thank you.", "I'm not
a good one. I'm not a good one."). Three signals tell these apart: how sure whisper was (the mean
probability of its tokens), and how much speech the VAD measured: a transcript far longer than
the speech it came from (a loop, an invented sentence) was made up.
"""

from __future__ import annotations

import re
from functools import lru_cache

import jellyfish

from avatar.speech.stt import MAX_WORDS_PER_SECOND, Transcript, word_count

MIN_PROBABILITY = 0.45  # below this, tiny.en is guessing (real words score ~0.7-0.95, inventions ~0.2-0.5)
# Over the avatar's voice, short speech must be clearer words to count: "mm-hmm" over Opus became "in my mom."
OVER_AVATAR_PROBABILITY = 0.6
OVER_AVATAR_WORDS_PER_SECOND = 4.0
# ...plus this many words. tiny.en reads a hum's nasal onset as "And": "And I'm up." (p 0.82) for a 0.45 s
# "Mm-hmm."; with 1 word of slack, 3 words passed once the VAD measured 0.5 s, and stopped the avatar in CI.
# Real short interruptions stay well inside it: "Hang on." (2 words) at 0.43 s, "Wait a second." (3) at 0.69 s.
OVER_AVATAR_SLACK = 0.5


def heard_words(transcript: Transcript, speech_s: float, over_avatar: bool = False) -> str:
    """The transcript's text if it is believable as what was said in `speech_s` seconds of speech, else "".

    `over_avatar`: said while the avatar spoke, where a hum more easily comes out as words: stricter."""
    text = transcript.text.strip()
    words = word_count(text)
    probability, per_second, slack = MIN_PROBABILITY, MAX_WORDS_PER_SECOND, 2.0
    if over_avatar:
        probability, per_second, slack = OVER_AVATAR_PROBABILITY, OVER_AVATAR_WORDS_PER_SECOND, OVER_AVATAR_SLACK
    if not words or transcript.probability < probability or words > per_second * speech_s + slack:
        return ""
    if all(_CUT_OFF.match(word) for word in _spoken_words(text)):
        return ""  # only the start of a word: nothing anyone could answer
    return text


# A word whisper heard only the start of. Over the avatar these were its echo cut short by a hold: "To-" (p 0.85),
# and "S-" (p 0.99) on a loaded machine, each taken for a short interruption that stopped the reply and was saved.
_CUT_OFF = re.compile(r"^[a-z']*-+$")


def _spoken_words(text: str) -> list[str]:
    """The words of a transcript, lower case, hyphens kept ("mm-hmm", "s-")."""
    return re.findall(r"[a-z'-]+", text.lower())


# What a listener says to keep the speaker going, not to take the turn (whisper spells hums many ways).
BACKCHANNELS = frozenset(
    {"yeah", "yes", "yep", "yup", "okay", "ok", "right", "sure", "alright", "cool", "nice", "wow", "oh", "ah"}
    | {"i", "see", "got", "it", "true", "exactly", "indeed", "really", "uh-huh", "huh", "aha"}
    | {"ow"}  # (tiny.en's reading of Piper's "Uh-huh." in 2 of 80 renderings, at p 0.72-0.78)
)
# ("Mm-ma.": tiny.en's reading of Piper's "Mm-hmm." in one full test run out of two, which stopped the avatar;
# "Uh-fuh.": its reading of espeak's "Uh-huh." over WebRTC, which did so twice in a 20-backchannel bench.)
_HUM = re.compile(r"^(?:[mh]+(?:-?[mh]+)*(?:-m+a+h?)?|u+h+(?:-?[a-z]?u+h+)?|a+h+|o+h+)$")


# Whisper's prompt (after the names) for speech that starts over the avatar: a prompt sets how whisper spells, and
# unprompted tiny.en wrote a hum as "NMM.", "In M-Lum.", "And my mom." or "Oh." (5 in 7 renderings of "Mm-hmm."
# and "Uh-huh." in two voices, 2 of them taken for words). With it: "Mm-hm." and "Uh-huh."/"Uh.", 35 of 35 let
# through, while 42 of 42 real interruptions ("Stop.", "Hold on.", "Wait, stop for a moment.") kept their words.
# The second "Mm-hmm." counts: on 424 renderings of hums (mostly Piper's "Mm-hmm."), "Mm-hmm. Uh-huh." still
# let 6 through as words ("And Emma.", "In Emma.", "And I'm...", "Ow."), this prompt 2 (both "Ow."), and 140 of
# 140 short interruptions ("Stop.", "Hang on.", "What?", "Wait, stop.") kept their words with either.
HUM_SPELLINGS = "Mm-hmm. Uh-huh. Mm-hmm."


def is_backchannel(text: str) -> bool:
    """Whether `text` is only a listener's "mm-hmm", "yeah", "okay", "right", "I see" (a few words at most)."""
    words = _spoken_words(text)
    return 0 < len(words) <= 3 and all(w in BACKCHANNELS or _HUM.match(w) for w in words)


# Whisper hears the echo AEC3 leaves of the avatar's voice a sound off ("looks sunny" came back "Looks funny." and
# stopped a reply in a bench run): a word this long may differ from one the avatar said by one letter, or sound
# like it. Shorter words must match exactly ("stop" is one letter from "step" and sounds like it).
ECHO_FUZZY_MIN_LETTERS = 5
# How a word sounds: its Metaphone key (jellyfish), with the consonants AEC3's leftovers blur taken as one: voiced
# and unvoiced lips (b/p), l/r, s/sh. The reply's "breeze" came back "Please." (PLS / BRS) and stopped it in a bench
# run: four letters off, one sound class apart at each place. "Brest" (BRST) for "breeze" is one sound more.
_SOUND_CLASSES = str.maketrans({"B": "P", "R": "L", "X": "S"})
_MIN_SOUNDS = 2  # a key this short (two consonants) must match exactly; one sound off needs three


def is_echo(text: str, said: str) -> bool:
    """Whether every word of `text` is among the words the avatar was just saying (its own voice came back)."""
    heard = re.findall(r"[a-z']+", text.lower())
    spoken = set(re.findall(r"[a-z']+", said.lower()))
    return bool(heard) and all(w in spoken or _misheard(w, spoken) for w in heard)


def _misheard(word: str, spoken: set[str]) -> bool:
    return len(word) >= ECHO_FUZZY_MIN_LETTERS and any(
        len(other) >= ECHO_FUZZY_MIN_LETTERS and (_one_edit_apart(word, other) or _sounds_alike(word, other))
        for other in spoken
    )


def _sounds_alike(a: str, b: str) -> bool:
    """Whether two words have the same consonants, as a listener hears them, or one sound changed, added or left out."""
    key_a, key_b = _sound_key(a), _sound_key(b)
    if min(len(key_a), len(key_b)) < _MIN_SOUNDS:
        return False
    return key_a == key_b or (min(len(key_a), len(key_b)) > _MIN_SOUNDS and _one_edit_apart(key_a, key_b))


@lru_cache(maxsize=4096)
def _sound_key(word: str) -> str:
    return jellyfish.metaphone(word).translate(_SOUND_CLASSES)


def _one_edit_apart(a: str, b: str) -> bool:
    """Whether one letter changed, added or left out turns `a` into `b`."""
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) > len(b):
        a, b = b, a
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return a[i + 1 :] == b[i + 1 :] if len(a) == len(b) else a[i:] == b[i + 1 :]
    return len(b) - len(a) == 1
