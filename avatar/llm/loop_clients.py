"""One HTTP client per event loop: an httpx client's connections belong to the loop that opened them,
and the app runs loops in more than one thread (Gradio's, the voice handler's). And the end of a stream
read to its end, so its connection is used again."""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator, Callable
from typing import Generic, TypeVar

C = TypeVar("C")

FINISH_S = 0.5  # how long the end of a stream may take after its last message before its connection is dropped


class PerLoopClient(Generic[C]):
    def __init__(self, factory: Callable[[], C]) -> None:
        self._factory = factory
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, C] = weakref.WeakKeyDictionary()

    def get(self) -> C:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            client = self._clients[loop] = self._factory()
        return client


async def finish_stream(rest: AsyncIterator[object], timeout_s: float = FINISH_S) -> None:
    """Read what is left of a streamed reply after its last message (the body's end). A response closed
    before its end cannot go back to the pool: every reply opened a new connection, and on a busy event loop
    that took 5-30 ms of the next reply's start. A server that does not end the stream loses its connection.
    The reply is complete by then: whatever goes wrong here only costs the connection."""
    with contextlib.suppress(Exception):
        async with asyncio.timeout(timeout_s):
            async for _ in rest:
                pass
