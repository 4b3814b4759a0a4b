"""The sentence splitter feeding TTS: where it cuts, and that it cuts while the stream is still running."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from avatar.speech.sentences import SentenceSplitter, iter_sentences, speakable, split_sentences


def split(text: str, piece_len: int = 3) -> list[str]:
    return list(iter_sentences(text[i : i + piece_len] for i in range(0, len(text), piece_len)))


def test_splits_on_terminal_punctuation() -> None:
    assert split("Hello there! How are you? I am fine. Thanks") == [
        "Hello there!",
        "How are you?",
        "I am fine.",
        "Thanks",
    ]


@pytest.mark.parametrize("piece_len", [1, 2, 5, 1000])
def test_result_does_not_depend_on_token_boundaries(piece_len: int) -> None:
    text = "First one. Second one! Third?"
    assert split(text, piece_len) == ["First one.", "Second one!", "Third?"]


def test_abbreviations_initials_and_numbers_do_not_cut() -> None:
    text = "I saw Dr. Smith and Mrs. Jones at 3.14 p.m. today. J. R. R. Tolkien lived in the U.K. for years. Ok."
    assert split(text) == [
        "I saw Dr. Smith and Mrs. Jones at 3.14 p.m. today.",
        "J. R. R. Tolkien lived in the U.K. for years.",
        "Ok.",
    ]


def test_closing_quotes_ellipsis_and_newlines() -> None:
    text = 'She said "Go." Then... nothing?! Well\n1. First item\n2. Second item\n\nEnd'
    assert split(text) == ['She said "Go."', "Then...", "nothing?!", "Well", "1. First item", "2. Second item", "End"]


def test_roleplay_action_stays_whole() -> None:
    assert split("*waves. smiles.* Hi there. Bye") == ["*waves. smiles.*", "Hi there.", "Bye"]


def test_waits_for_whitespace_before_cutting() -> None:
    splitter = SentenceSplitter()
    assert splitter.feed("It costs 3.") == []  # could be "3.5": wait
    assert splitter.feed("5 dollars. And") == ["It costs 3.5 dollars."]
    assert splitter.flush() == ["And"]
    assert splitter.flush() == []


def test_long_run_on_text_is_cut_at_a_clause() -> None:
    text = "word " * 30 + "and then, " + "more " * 40
    sentences = split(text, 7)
    assert sentences[0].endswith("and then,")
    assert all(len(s) <= 300 for s in sentences)
    assert " ".join(sentences).split() == text.split()


def test_empty_and_whitespace_streams() -> None:
    assert split("") == []
    assert split("  \n\n  ") == []


def test_first_sentence_is_emitted_before_the_stream_ends() -> None:
    asyncio.run(asyncio.wait_for(_first_sentence_before_end(), timeout=5))


async def _first_sentence_before_end() -> None:
    release = asyncio.Event()

    async def tokens() -> AsyncIterator[str]:
        for piece in ["Hel", "lo the", "re. ", "How"]:
            yield piece
        await release.wait()  # the "LLM" stalls until the consumer has the first sentence
        yield " are you?"

    seen: list[str] = []

    async def consume() -> None:
        async for sentence in split_sentences(tokens()):
            seen.append(sentence)
            release.set()

    await consume()
    assert seen == ["Hello there.", "How are you?"]


def test_speakable_drops_actions_markup_and_emoji() -> None:
    assert speakable("*smiles warmly* **Hello** there 😊! See [the docs](http://x.y) or https://a.b/c.") == (
        "Hello there! See the docs or."
    )
    assert speakable("*waves*") == ""


def test_a_long_first_sentence_is_spoken_from_its_first_clause():
    text = "Well, that depends on where you live and what time of year it is, but mostly sunny. Yes."
    for step in (1, 4, len(text)):
        splitter = SentenceSplitter(first_clause=True)
        pieces = [s for i in range(0, len(text), step) for s in splitter.feed(text[i : i + step])]
        pieces += splitter.flush()
        assert pieces == [
            "Well, that depends on where you live",
            "and what time of year it is, but mostly sunny.",
            "Yes.",
        ], step
    short = SentenceSplitter(first_clause=True)
    assert short.feed("Tomorrow looks sunny and warm. There is") == ["Tomorrow looks sunny and warm."]
