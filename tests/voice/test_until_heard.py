"""A voice reply is over when the user has heard it: ChatFlow.send(until_heard=...) holds the save until then."""

from __future__ import annotations

import asyncio

from avatar.context import AppContext
from avatar.conversations.schemas import MessageStatus

REPLY = "The sea was calm. The boat drifted home."


def saved_replies(ctx: AppContext, conversation_id: str) -> list[tuple[str, MessageStatus]]:
    replies = [
        (m.content, m.status) for m in ctx.conversations.messages(conversation_id) if m.role.value == "assistant"
    ]
    return replies[1:]  # after the greeting


def test_the_reply_is_saved_only_once_heard(ctx: AppContext, fake_ollama):
    fake_ollama.script(REPLY)

    async def scenario() -> tuple[str, list, list]:
        heard = asyncio.Event()
        updates: list = []
        turn, conversation_id = await written_not_heard(ctx, updates, heard.wait)
        before = saved_replies(ctx, conversation_id)  # the model is done, the user is still listening
        heard.set()
        await turn
        return conversation_id, before, updates

    conversation_id, before, updates = asyncio.run(scenario())
    assert before == []
    assert updates[-1].done and updates[-1].status is MessageStatus.complete
    assert saved_replies(ctx, conversation_id) == [(REPLY, MessageStatus.complete)]


def test_a_barge_in_while_listening_saves_what_was_heard(ctx: AppContext, fake_ollama):
    fake_ollama.script(REPLY)

    async def scenario() -> tuple[str, list]:
        never = asyncio.Event()
        updates: list = []
        turn, conversation_id = await written_not_heard(ctx, updates, never.wait)
        assert ctx.chat.stop(conversation_id, spoken_text="The sea was calm.")
        await asyncio.wait_for(turn, 5)
        return conversation_id, updates

    conversation_id, updates = asyncio.run(scenario())
    assert updates[-1].status is MessageStatus.interrupted
    assert saved_replies(ctx, conversation_id) == [("The sea was calm.", MessageStatus.interrupted)]
    assert "chat_closed_by_client" not in fake_ollama.event_names()  # the model had finished: nothing to close


async def written_not_heard(ctx: AppContext, updates: list, until_heard) -> tuple[asyncio.Future, str]:
    """Start a turn (its updates into `updates`); return once the model has written the whole reply."""

    async def collect() -> None:
        async for update in ctx.chat.send("aria", None, "Tell me about the sea.", until_heard=until_heard):
            updates.append(update)

    turn = asyncio.ensure_future(collect())
    while not (updates and updates[-1].reply == REPLY):
        await asyncio.sleep(0.01)
    return turn, updates[0].conversation_id
