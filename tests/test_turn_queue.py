"""The Chat tab's queue: a message sent while a reply runs waits for it, in order, and a double press is one."""

from __future__ import annotations

import asyncio

from avatar.conversations.turn_queue import TurnQueue


async def _turn(queue: TurnQueue, text: str, conversation: str | None, log: list, hold: asyncio.Event) -> None:
    async with queue.turn("tab", text, conversation) as queued:
        log.append(("start", text, queued.conversation_id))
        queued.started_in = queued.conversation_id or f"new-for-{text}"
        await hold.wait()
        log.append(("end", text))


def test_messages_sent_during_a_turn_start_after_it_in_order():
    async def scenario() -> list:
        queue, log, hold = TurnQueue(), [], asyncio.Event()
        tasks = [asyncio.create_task(_turn(queue, text, "c1", log, hold)) for text in ("one", "two", "three")]
        await asyncio.sleep(0.01)
        assert log == [("start", "one", "c1")]  # the others wait
        assert queue.busy("tab") and not queue.busy("another tab")
        hold.set()
        await asyncio.gather(*tasks)
        assert not queue.busy("tab")
        return log

    order = [entry[:2] for entry in asyncio.run(scenario())]
    assert order == [
        ("start", "one"),
        ("end", "one"),
        ("start", "two"),
        ("end", "two"),
        ("start", "three"),
        ("end", "three"),
    ]


def test_the_same_message_again_while_it_is_on_its_way_is_a_repeat():
    async def scenario() -> None:
        queue, hold = TurnQueue(), asyncio.Event()
        task = asyncio.create_task(_turn(queue, "hello", "c1", [], hold))
        await asyncio.sleep(0.01)
        assert queue.is_repeat("tab", "hello")
        assert not queue.is_repeat("tab", "hello there") and not queue.is_repeat("another tab", "hello")
        hold.set()
        await task
        assert not queue.is_repeat("tab", "hello")  # once answered, saying it again is a new message

    asyncio.run(scenario())


def test_a_message_queued_before_a_new_chat_had_its_id_joins_that_chat():
    async def scenario() -> list:
        queue, log, hold = TurnQueue(), [], asyncio.Event()
        first = asyncio.create_task(_turn(queue, "first", None, log, hold))
        await asyncio.sleep(0.01)
        second = asyncio.create_task(_turn(queue, "second", None, log, hold))
        hold.set()
        await asyncio.gather(first, second)
        return log

    assert ("start", "second", "new-for-first") in asyncio.run(scenario())
