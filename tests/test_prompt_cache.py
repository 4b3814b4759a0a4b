"""The prompts of a real conversation as a model server with a KV cache sees them (the fake server keeps one,
as Ollama, llama.cpp server and vLLM do): each turn re-evaluates only the newest words and recalled notes.

These assert the layout, not times: the fake server reports how much of each prompt it found in its cache.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from avatar.chat.flows import ChatFlow
from avatar.context import create_context
from avatar.memory.schemas import MemoryKind, MemoryScope
from tests.support.fake_model_server import FakeModelServer, RecordedRequest
from tests.support.model_costs import count_tokens, render_chat

FACTS = [
    "The user's dog is a beagle named Biscuit.",
    "The user works as a nurse on night shifts.",
    "The user's sister Mia lives in Lisbon.",
    "The user plays the cello in a community orchestra.",
    "The user is learning Japanese for a trip to Kyoto.",
    "The user's favourite food is mushroom risotto.",
    "The user grows tomatoes on the balcony.",
    "The user's birthday is on the 3rd of March.",
]
QUESTIONS = [
    "How is my dog doing, do you think?",
    "Night shifts are tiring this week.",
    "Mia called me from Lisbon today.",
    "We have a concert with the orchestra soon.",
    "My Japanese lessons are getting harder.",
    "What should I cook tonight?",
    "The tomatoes on the balcony are turning red.",
    "Any ideas for my birthday?",
]


def say(flow: ChatFlow, conversation_id: str | None, text: str) -> str:
    async def run():
        return [update async for update in flow.send("aria", conversation_id, text)][-1]

    final = asyncio.run(run())
    assert final.error is None, final.error
    return final.conversation_id


def tokens_of(messages: list[dict]) -> int:
    return len(count_tokens(render_chat(messages)))


def tail_after_previous_reply(request: RecordedRequest, previous: RecordedRequest) -> list[dict]:
    """The messages of `request` after the previous turn's question and reply: this turn's note and words."""
    before = previous.body["messages"]
    asked = max(i for i, m in enumerate(before) if m["role"] == "user")
    return request.body["messages"][asked + 2 :]


def assert_extends(previous: RecordedRequest, current: RecordedRequest) -> None:
    """The new prompt starts with the previous one up to its question (its note included), then the reply."""
    before, after = previous.body["messages"], current.body["messages"]
    asked = max(i for i, m in enumerate(before) if m["role"] == "user")
    assert after[: asked + 1] == before[: asked + 1]
    assert after[asked + 1]["role"] == "assistant"


@pytest.fixture
def remembered(ctx):
    for fact in FACTS:
        ctx.memory.add(fact, scope=MemoryScope.profile)
    ctx.memory.embedder.load()
    return ctx


def test_a_conversation_with_memory_on_re_evaluates_only_the_newest_words_and_notes(remembered, fake_ollama):
    ctx = remembered
    conversation_id = None
    for turn in range(16):
        conversation_id = say(ctx.chat, conversation_id, QUESTIONS[turn % len(QUESTIONS)] + f" ({turn})")
    requests, uses = fake_ollama.chat_requests(), fake_ollama.chat_uses()
    assert len(requests) == len(uses) == 16
    notes = [r for r in requests if any("```memories" in m["content"] for m in r.body["messages"])]
    assert len(notes) == 16  # memory reached the model on every turn (this turn's note or an earlier one)
    system = requests[0].body["messages"][0]
    for turn in range(1, 16):
        previous, current, use = requests[turn - 1], requests[turn], uses[turn]
        assert current.body["messages"][0] == system  # the first message never changes
        assert_extends(previous, current)
        # The server evaluated this turn's note and words (and a few tokens of template), nothing older.
        assert use.evaluated_tokens <= tokens_of(tail_after_previous_reply(current, previous)) + 8, turn
    reuse = [use.cached_tokens / use.prompt_tokens for use in uses[4:]]
    assert min(reuse) > 0.8


def test_a_memory_shown_once_stays_where_it_was_and_is_not_repeated(remembered, fake_ollama):
    ctx = remembered
    conversation_id = say(ctx.chat, None, "Tell me about my dog Biscuit.")
    say(ctx.chat, conversation_id, "Biscuit chased a cat today, my dog is silly.")
    first, second = fake_ollama.chat_requests()
    biscuit = [m for m in second.body["messages"] if "named Biscuit" in m["content"]]
    assert len(biscuit) == 1 and biscuit[0] == first.body["messages"][-2]  # the first turn's note, in place
    assert "named Biscuit" not in second.body["messages"][-2]["content"]  # this turn's note leaves it out
    recalled = {r.memory.text for r in ctx.chat.last_recall[conversation_id]}
    assert "The user's dog is a beagle named Biscuit." in recalled  # still recalled: only not sent twice


def test_an_edited_memory_is_sent_as_edited_in_the_notes_that_showed_it(remembered, fake_ollama):
    ctx = remembered
    conversation_id = say(ctx.chat, None, "Tell me about my dog Biscuit.")
    card = next(m for m in ctx.memory.list() if "Biscuit" in m.text)
    ctx.memory.edit(card.id, "The user's dog is a greyhound named Biscuit.")
    say(ctx.chat, conversation_id, "What do you know about my garden?")
    sent = str(fake_ollama.chat_requests()[-1].body["messages"])
    assert "greyhound named Biscuit" in sent and "beagle" not in sent
    ctx.memory.delete(card.id)
    say(ctx.chat, conversation_id, "And my work?")
    assert "named Biscuit" not in str(fake_ollama.chat_requests()[-1].body["messages"])  # deleted: gone from notes


def test_trimming_moves_in_big_steps_prepared_while_the_person_reads(tmp_path, fake_ollama, embedder):
    from avatar.core.settings import Settings

    settings = Settings(
        data_dir=tmp_path / "data",
        ollama_host=fake_ollama.url,
        context_tokens=2048,
        reply_tokens=256,
        memory_token_budget=150,  # room for the notice only: no note fits, the window alone is trimmed
    )
    ctx = create_context(settings, embedder=embedder)
    try:
        fake_ollama.default_reply = "That sounds lovely, tell me more about it and how it made you feel today."
        conversation_id = None
        for turn in range(40):
            text = f"Turn {turn}: today I walked by the river and watched the boats go by for an hour."
            conversation_id = say(ctx.chat, conversation_id, text)
            assert ctx.memory.wait_for_writes(30)  # the person reads the reply and types the next message
        requests, uses = fake_ollama.chat_requests(), fake_ollama.chat_uses()
        starts = [next(m["content"] for m in r.body["messages"][1:] if m["role"] == "user") for r in requests]
        moves = [turn for turn in range(1, 40) if starts[turn] != starts[turn - 1]]
        assert moves, "40 turns must overflow a 2048-token context"
        assert len(moves) <= 40 // 5  # the window moved in steps, not on every turn
        warm_ups = fake_ollama.warm_ups()
        assert len(warm_ups) == len(moves)  # each move was prepared once, after the reply before it
        for turn in range(1, 40):
            previous, current = requests[turn - 1], requests[turn]
            assert current.body["messages"][0] == requests[0].body["messages"][0]
            if turn in moves:
                warm = warm_ups[moves.index(turn)].body["messages"]
                assert current.body["messages"][: len(warm)] == warm  # the moved window, evaluated beforehand
                assert uses[turn].evaluated_tokens <= tokens_of(current.body["messages"][len(warm) :]) + 8
                assert uses[turn].prompt_tokens >= 0.5 * uses[turn - 1].prompt_tokens  # a step, not all dropped
            else:
                assert_extends(previous, current)
                assert uses[turn].evaluated_tokens <= tokens_of(tail_after_previous_reply(current, previous)) + 8
    finally:
        ctx.close()


def test_memory_cards_wait_until_the_conversation_is_idle_then_the_cache_is_put_back(tmp_path, fake_ollama, embedder):
    from avatar.core.settings import Settings

    settings = Settings(data_dir=tmp_path / "data", ollama_host=fake_ollama.url, card_idle_s=1.0)
    ctx = create_context(settings, embedder=embedder)
    ctx.memory.embedder.load()
    ctx.cards.start()
    fake_ollama.script_structured('{"cards": [{"type": "fact", "text": "The user has a sister called Mia."}]}')
    try:
        conversation_id = None
        for text in ("My sister is Mia.", "She lives in Lisbon.", "She is a pilot.", "We talk on Sundays."):
            conversation_id = say(ctx.chat, conversation_id, text)
        assert ctx.memory.wait_for_writes(30)
        # A live conversation: chunks are stored at once, no card request went to the one-slot server.
        assert ctx.memory.list(kind=MemoryKind.chunk) and not fake_ollama.structured_requests()
        assert [use.structured for use in fake_ollama.cache_log] == [False] * 4

        deadline = time.monotonic() + 20
        while not ctx.memory.list(kind=MemoryKind.card) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [m.text for m in ctx.memory.list(kind=MemoryKind.card)] == ["The user has a sister called Mia."]
        # After the cards, the conversation went back into the server's cache: the next turn finds it there.
        assert fake_ollama.wait_for_event("chat_finished")
        deadline = time.monotonic() + 10
        while not fake_ollama.warm_ups() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert fake_ollama.warm_ups()[-1].body["messages"][-1]["role"] == "assistant"  # up to the last reply
        previous = fake_ollama.chat_requests()[-1]
        say(ctx.chat, conversation_id, "Guess where she flew this week?")
        current = fake_ollama.chat_requests()[-1]
        evaluated = fake_ollama.chat_uses()[-1].evaluated_tokens
        assert evaluated <= tokens_of(tail_after_previous_reply(current, previous)) + 8
        # Every request used the same model options: Ollama never had to reload the model.
        assert [use.loaded for use in fake_ollama.cache_log].count(True) == 1
    finally:
        ctx.close()


def test_a_turn_stops_a_card_request_in_flight_and_cards_left_pending_are_made_at_the_next_start(
    tmp_path, fake_ollama, embedder
):
    from avatar.core.settings import Settings

    settings = Settings(data_dir=tmp_path / "data", ollama_host=fake_ollama.url, card_idle_s=0.2)
    ctx = create_context(settings, embedder=embedder)
    ctx.memory.embedder.load()
    conversation_id = None
    for text in ("My sister is Mia.", "She lives in Lisbon.", "She is a pilot.", "We talk on Sundays."):
        conversation_id = say(ctx.chat, conversation_id, text)
    assert ctx.memory.wait_for_writes(30)
    fake_ollama.rates.prefill_s_per_token = 0.05  # a card request now takes many seconds
    ctx.cards.start()
    deadline = time.monotonic() + 10
    while not fake_ollama.structured_requests() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert fake_ollama.structured_requests(), "the idle conversation's cards should have been asked for"
    fake_ollama.rates.prefill_s_per_token = 0.0
    started = time.monotonic()
    say(ctx.chat, conversation_id, "Are you still there?")
    assert time.monotonic() - started < 5  # not behind the card request: it was stopped
    assert "chat_closed_by_client" in fake_ollama.event_names()
    ctx.close()
    assert ctx.memory.list(kind=MemoryKind.card) == [] and ctx.memory.pending_cards() == [conversation_id]

    fake_ollama.script_structured('{"cards": [{"type": "fact", "text": "The user\'s sister Mia is a pilot."}]}')
    again = create_context(settings, embedder=embedder)
    try:
        again.warm_up()  # what the app does once its first page is served
        deadline = time.monotonic() + 20
        while not again.memory.list(kind=MemoryKind.card) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [m.text for m in again.memory.list(kind=MemoryKind.card)] == ["The user's sister Mia is a pilot."]
        assert again.memory.pending_cards() == []
    finally:
        again.close()


def test_a_stop_before_the_memory_write_loses_nothing_it_is_written_at_the_next_start(tmp_path, fake_ollama, embedder):
    """A stop right after a start does not wait for the embedding model to load (~12 s): the write it cut
    short is done by the next start, cards and all."""
    from avatar.core.settings import Settings

    settings = Settings(data_dir=tmp_path / "data", ollama_host=fake_ollama.url, card_idle_s=0.2)
    ctx = create_context(settings, embedder=embedder)
    ctx.memory.writer.close()  # the app stopped before its writes ran
    conversation_id = None
    for text in ("My sister is Mia.", "She lives in Lisbon.", "She is a pilot."):
        conversation_id = say(ctx.chat, conversation_id, text)
    ctx.close()
    assert ctx.memory.list() == []

    fake_ollama.script_structured('{"cards": [{"type": "fact", "text": "The user\'s sister Mia is a pilot."}]}')
    again = create_context(settings, embedder=embedder)
    try:
        again.warm_up()
        deadline = time.monotonic() + 20
        while not again.memory.list(kind=MemoryKind.card) and time.monotonic() < deadline:
            time.sleep(0.1)
        chunks = again.memory.list(kind=MemoryKind.chunk)
        assert chunks and all(c.conversation_id == conversation_id for c in chunks)
        assert "My sister is Mia." in chunks[0].text
        assert [m.text for m in again.memory.list(kind=MemoryKind.card)] == ["The user's sister Mia is a pilot."]
        assert again.memory.unwritten_conversations() == []
    finally:
        again.close()


def test_two_slots_keep_the_conversation_cached_beside_a_card_request(tmp_path, embedder):
    from avatar.core.settings import Settings

    server = FakeModelServer(slots=2).start()
    settings = Settings(data_dir=tmp_path / "data", ollama_host=server.url, card_idle_s=3600)
    ctx = create_context(settings, embedder=embedder)
    try:
        conversation_id = None
        for text in ("My sister is Mia.", "She lives in Lisbon.", "She is a pilot."):
            conversation_id = say(ctx.chat, conversation_id, text)
        assert ctx.memory.wait_for_writes(30)
        asyncio.run(ctx.memory.make_cards(conversation_id, persona_id="aria", persona_name="Aria"))
        assert server.structured_requests()
        previous = server.chat_requests()[-1]
        say(ctx.chat, conversation_id, "We talk on Sundays.")
        current = server.chat_requests()[-1]
        assert server.chat_uses()[-1].evaluated_tokens <= tokens_of(tail_after_previous_reply(current, previous)) + 8
    finally:
        ctx.close()
        server.stop()
