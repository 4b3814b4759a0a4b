"""Turn a stream of LLM text pieces into speakable sentences as soon as each one is complete.

TTS sounds right only on whole sentences, but waiting for the whole reply would add seconds of
silence; so text is cut at sentence ends as tokens arrive and each sentence goes to the voice
while the model is still writing the next one. The very first piece may be shorter (`first_clause`):
a long first sentence is cut at its first natural break (a comma, a dash, or before "and", "but",
"because"...), because the reply cannot start sounding before its first piece is synthesized whole.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator

# A sentence end: terminal punctuation, optional closing quotes/brackets/asterisks, then whitespace.
# Requiring the whitespace keeps "3.14" and "e.g.," whole and means an end is only certain once
# the next token has started; a newline ends a line (list items, paragraphs) on its own.
_BOUNDARY = re.compile(r"[.!?…]+[\"'”’)\]*_]*\s+|\n+")
_CLAUSE = re.compile(r"[,;:—–]\s+")
# Where a long first sentence can be cut so both halves still sound natural: a clause mark, or before
# a conjunction or relative word that starts a new clause.
_NATURAL_BREAK = re.compile(
    r"[,;:—–]\s+|\s+(?=(?:and|but|or|so|because|which|who|when|while|although|though|since|if|then)\b)", re.IGNORECASE
)
FIRST_CLAUSE_MIN_WORDS = 3  # a first piece shorter than this sounds clipped
FIRST_SENTENCE_MAX_WORDS = 8  # a first sentence longer than this is cut at its first natural break
# Words whose trailing period does not end a sentence ("Dr. Smith"). Kept small on purpose:
# "No." or "etc." ends sentences often enough in dialogue that guessing otherwise is worse.
ABBREVIATIONS = frozenset({"mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "vs", "approx", "fig"})
_WORD_BEFORE_DOT = re.compile(r"([\w.]+)\.$")
_DOTTED = re.compile(r"^(?:\w\.)+\w$")


def _is_sentence_end(candidate: str) -> bool:
    """Whether `candidate` (text up to a boundary, stripped) really ends a sentence."""
    if candidate.count("*") % 2:
        return False  # inside a *roleplay action*: wait for it to close
    if not candidate.endswith("."):
        return True
    match = _WORD_BEFORE_DOT.search(candidate)
    if match is None:
        return True
    word = match.group(1).lower()
    if word in ABBREVIATIONS:
        return False
    if (len(word) == 1 and word.isalpha()) or _DOTTED.match(word):
        return False  # an initial or dotted abbreviation: "J. R. R. Tolkien", "U.S.", "a.m."
    # A list number at the start ("1. First item") is not a sentence of its own.
    return not (word.isdigit() and candidate == match.group(0))


class SentenceSplitter:
    """Incremental splitter: `feed()` text pieces, get back the sentences they complete; `flush()` at the end.

    `max_chars` bounds how long text without a sentence end is held back: past it, the text is cut
    at the last clause break (comma, semicolon, dash) or space, so run-on replies still start speaking.
    """

    def __init__(self, max_chars: int = 300, first_clause: bool = False) -> None:
        self.max_chars = max_chars
        self._buffer = ""
        self._first = first_clause  # the next piece is the first of the reply and may be a clause

    def feed(self, piece: str) -> list[str]:
        self._buffer += piece
        sentences: list[str] = []
        while True:
            sentence = self._next_sentence()
            if sentence is None:
                break
            if sentence:
                sentences.append(sentence)
        return sentences

    def flush(self) -> list[str]:
        rest, self._buffer = self._buffer.strip(), ""
        return [rest] if rest else []

    def _next_sentence(self) -> str | None:
        if self._first:
            clause = self._first_clause()
            if clause is not None:
                self._first = False
                return clause
        sentence = self._whole_sentence()
        if sentence:
            self._first = False
        return sentence

    def _first_clause(self) -> str | None:
        """The start of a long first sentence up to its first natural break, once that break is written."""
        end = next((m for m in _BOUNDARY.finditer(self._buffer) if self._ends_at(m)), None)
        sentence = self._buffer[: end.start()] if end else self._buffer
        if len(sentence.split()) <= FIRST_SENTENCE_MAX_WORDS:
            return None  # a short first sentence goes whole (and an unfinished one may still be short)
        for match in _NATURAL_BREAK.finditer(sentence):
            head = sentence[: match.start()] + match.group().rstrip()
            if head.count("*") % 2:
                return None  # inside a *roleplay action*
            if len(head.split()) >= FIRST_CLAUSE_MIN_WORDS and len(sentence[match.end() :].split()) >= 2:
                self._buffer = self._buffer[match.end() :]
                return head.strip()
        return None

    def _ends_at(self, match: re.Match[str]) -> bool:
        candidate = self._buffer[: match.start()] + match.group().rstrip()
        return match.group().startswith("\n") or _is_sentence_end(candidate.strip())

    def _whole_sentence(self) -> str | None:
        for match in _BOUNDARY.finditer(self._buffer):
            candidate = self._buffer[: match.start()] + match.group().rstrip()
            if match.group().startswith("\n") or _is_sentence_end(candidate.strip()):
                self._buffer = self._buffer[match.end() :]
                return candidate.strip()
        if len(self._buffer) > self.max_chars:
            return self._cut_long()
        return None

    def _cut_long(self) -> str:
        head = self._buffer[: self.max_chars]
        clauses = list(_CLAUSE.finditer(head))
        if clauses:
            cut = clauses[-1].end()
        else:
            space = head.rfind(" ")
            cut = space + 1 if space > 0 else self.max_chars
        sentence, self._buffer = self._buffer[:cut].strip(), self._buffer[cut:]
        return sentence


def iter_sentences(pieces: Iterable[str], max_chars: int = 300) -> Iterator[str]:
    """Sentences of a synchronous stream of text pieces."""
    splitter = SentenceSplitter(max_chars)
    for piece in pieces:
        yield from splitter.feed(piece)
    yield from splitter.flush()


async def split_sentences(pieces: AsyncIterable[str], max_chars: int = 300) -> AsyncIterator[str]:
    """Sentences of an async stream of text pieces, each yielded as soon as it is complete."""
    splitter = SentenceSplitter(max_chars)
    async for piece in pieces:
        for sentence in splitter.feed(piece):
            yield sentence
    for sentence in splitter.flush():
        yield sentence


_EMPHASIS = re.compile(r"(\*\*|__)(.+?)\1")
_ACTION = re.compile(r"\*[^*]+\*")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]+\)")
_URL = re.compile(r"https?://\S*[^\s.,!?;:)]")
_MARKUP = re.compile(r"[*_~`#>|]+")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([.,!?;:…])")


def speakable(text: str) -> str:
    """Text as it should be spoken: no *roleplay actions*, markdown markup, URLs or emoji."""
    text = _EMPHASIS.sub(r"\2", text)  # **bold** is said; a single *...* is an action and is not
    text = _ACTION.sub(" ", text)
    text = _LINK.sub(r"\1", text)
    text = _URL.sub(" ", text)
    text = _MARKUP.sub(" ", text)
    # Emoji and pictographs (category So) make espeak spell out names or click; drop them.
    text = "".join(ch for ch in text if unicodedata.category(ch) not in ("So", "Cs", "Co"))
    # Removals leave "there !" behind; espeak pauses on the gap, so close it.
    return _SPACE_BEFORE_PUNCT.sub(r"\1", " ".join(text.split()))
