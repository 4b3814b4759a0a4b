"""Typed turns of one browser tab, one after another.

Gradio's trigger modes cannot queue a streamed event: "once" drops an Enter pressed while the reply is still
running (including the moment after its text is on screen), and "always_last" fires the queued one at the next
streamed update, which would stop the reply it was meant to follow. So the chat fires every Enter ("multiple")
and this queue makes each wait for the tab's turn before it, in order, and drops a second press of the same
message.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field


@dataclass
class QueuedTurn:
    text: str
    conversation_id: str | None
    # Set once the turn knows its conversation (a new chat's is made when its turn starts).
    started_in: str | None = None


@dataclass
class _Tab:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    turns: list[QueuedTurn] = field(default_factory=list)  # running first, then waiting, in order


class TurnQueue:
    """Per browser session (Gradio's session hash). Lives on the app's event loop."""

    def __init__(self) -> None:
        self._tabs: dict[str, _Tab] = {}

    def is_repeat(self, session: str, text: str) -> bool:
        """The same message as the tab's newest turn still running or waiting: a second press of Enter or Send."""
        tab = self._tabs.get(session)
        return bool(tab and tab.turns and tab.turns[-1].text == text)

    def busy(self, session: str) -> bool:
        tab = self._tabs.get(session)
        return bool(tab and tab.turns)

    @contextlib.asynccontextmanager
    async def turn(self, session: str, text: str, conversation_id: str | None) -> AsyncIterator[QueuedTurn]:
        """Wait for the tab's earlier turns, then hold the tab until this one ends.

        A turn queued with no conversation while the turn before it was starting a new chat belongs to that
        chat: the page had not yet heard the new chat's id when the person pressed Enter again.
        """
        tab = self._tabs.setdefault(session, _Tab())
        queued = QueuedTurn(text, conversation_id)
        before = tab.turns[-1] if tab.turns else None
        tab.turns.append(queued)
        try:
            async with tab.lock:
                if queued.conversation_id is None and before is not None and before.conversation_id is None:
                    queued.conversation_id = before.started_in
                yield queued
        finally:
            tab.turns.remove(queued)
            if not tab.turns and not tab.lock.locked():
                self._tabs.pop(session, None)
