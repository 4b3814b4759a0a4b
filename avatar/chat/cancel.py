"""One cancel signal per reply in progress: Stop, barge-in and the API all cancel through it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TypeVar

T = TypeVar("T")


@dataclass
class ActiveTurn:
    conversation_id: str
    loop: asyncio.AbstractEventLoop
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    # Set by a voice barge-in: the words actually heard, which replace the generated text when saved.
    spoken_text: str | None = None


class TurnRegistry:
    """Replies being generated, by conversation. Safe to cancel from any thread."""

    def __init__(self) -> None:
        self._active: dict[str, ActiveTurn] = {}

    def start(self, conversation_id: str) -> ActiveTurn:
        previous = self._active.get(conversation_id)
        if previous is not None:
            self._cancel(previous)  # a new turn in the same conversation supersedes the old one
        turn = ActiveTurn(conversation_id, asyncio.get_running_loop())
        self._active[conversation_id] = turn
        return turn

    def finish(self, turn: ActiveTurn) -> None:
        if self._active.get(turn.conversation_id) is turn:
            del self._active[turn.conversation_id]
        turn.loop.call_soon_threadsafe(turn.finished.set)

    def is_active(self, conversation_id: str) -> bool:
        return conversation_id in self._active

    def any_active(self) -> bool:
        return bool(self._active)

    def cancel(self, conversation_id: str, spoken_text: str | None = None) -> bool:
        """Ask the reply in `conversation_id` to stop. False when nothing is being generated there.

        `spoken_text` (barge-in): what the user actually heard; it is saved instead of all the model wrote.
        """
        turn = self._active.get(conversation_id)
        if turn is None:
            return False
        if spoken_text is not None:
            turn.spoken_text = spoken_text
        self._cancel(turn)
        return True

    async def wait_finished(self, conversation_id: str, timeout_s: float = 5.0) -> None:
        turn = self._active.get(conversation_id)
        if turn is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(turn.finished.wait(), timeout_s)

    @staticmethod
    def _cancel(turn: ActiveTurn) -> None:
        turn.loop.call_soon_threadsafe(turn.cancelled.set)


async def until_cancelled(stream: AsyncIterator[T], cancelled: asyncio.Event) -> AsyncIterator[T]:
    """Items of `stream` until it ends or `cancelled` is set; then the stream is closed at once,
    even while it is waiting for its next item (a model that is slow to answer stops just as fast)."""
    cancel_wait = asyncio.ensure_future(cancelled.wait())
    next_item: asyncio.Future | None = None
    try:
        while True:
            next_item = asyncio.ensure_future(anext(stream))  # type: ignore[arg-type]
            await asyncio.wait({next_item, cancel_wait}, return_when=asyncio.FIRST_COMPLETED)
            if not next_item.done():
                return  # cancelled: the finally below stops the pending read
            try:
                item = next_item.result()
            except StopAsyncIteration:
                return
            yield item
    finally:
        cancel_wait.cancel()
        if next_item is not None and not next_item.done():
            # Also reached when the task running us is cancelled: never leave the read running.
            next_item.cancel()
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                await next_item
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()
