"""Whether a provider is streaming a reply right now, across threads, so background requests can wait for none.

A model server with one slot (Ollama's default) keeps one prompt in its KV cache; a background request
(memory cards) sent while a reply streams would queue behind it or, once it runs, replace the chat's
cache. So such requests wait until no reply is streaming (issue "Fast with a real local model").
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager

POLL_S = 0.05
# A reply streaming longer than this is not one (a stream nobody closed): background requests stop waiting.
MAX_WAIT_S = 600.0


class ReplyActivity:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._streaming = 0
        self._idle = threading.Event()
        self._idle.set()

    @property
    def streaming(self) -> int:
        return self._streaming

    @contextmanager
    def reply(self) -> Iterator[None]:
        """Around the streaming of one reply (any thread, any event loop)."""
        with self._lock:
            self._streaming += 1
            self._idle.clear()
        try:
            yield
        finally:
            with self._lock:
                self._streaming -= 1
                if self._streaming == 0:
                    self._idle.set()

    async def idle(self, max_wait_s: float = MAX_WAIT_S) -> None:
        """Return once no reply is streaming (at once when none is), or after max_wait_s whatever happens."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max_wait_s
        while not self._idle.is_set() and loop.time() < deadline:
            await asyncio.sleep(POLL_S)
