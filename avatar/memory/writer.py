"""Memory writes off the reply path: one background thread runs them in order, coalescing repeats.

A turn only enqueues (microseconds); embedding, the distillation call and the SQLite writes happen
on the "memory-writer" thread, in its own event loop, so neither the Gradio loop nor the voice loop
ever waits for them. One thread, so writes never race each other (chunk watermarks, near-duplicate
checks) and so embedding never takes both CPU cores from a reply being generated. A write asked for
while the same conversation's write is still queued is dropped: the queued one will read every
message anyway.

The thread is a daemon: stopping the app does not wait for a job that needs seconds more (the embedding
model still loading at a stop right after the start took ~12 s). A job left unfinished loses nothing:
each write commits its chunk and the conversation's watermark together, so an unfinished one is undone
by SQLite and done again at the next start (`ChatFlow.catch_up_memory`, and cards left pending).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Awaitable, Callable, Hashable
from concurrent.futures import Future, wait

from avatar.core.errors import AvatarError

log = logging.getLogger(__name__)


CLOSE_WAIT_S = 1.0  # a stop lets the running job finish this long (a chunk's embedding takes ~0.1 s)


class MemoryWriter:
    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[tuple[Future[object], Hashable, Callable[[], Awaitable[object]]] | None] = (
            queue.SimpleQueue()
        )
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._queued: set[Hashable] = set()
        self._futures: set[Future[object]] = set()
        self._closed = False

    def submit(self, key: Hashable, job: Callable[[], Awaitable[object]]) -> bool:
        """Run `job()` in the background; False when a job with this key is already waiting (or closed)."""
        with self._lock:
            if self._closed or key in self._queued:
                return False
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name="memory-writer", daemon=True)
                self._thread.start()
            self._queued.add(key)
            future: Future[object] = Future()
            self._futures.add(future)
            self._jobs.put((future, key, job))
        future.add_done_callback(self._forget)
        return True

    def _work(self) -> None:
        while (item := self._jobs.get()) is not None:
            future, key, job = item
            if not future.set_running_or_notify_cancel():
                continue  # dropped by close()
            future.set_result(self._run(key, job))

    def _run(self, key: Hashable, job: Callable[[], Awaitable[object]]) -> object:
        with self._lock:
            self._queued.discard(key)  # from here on, new messages need a new job
        try:
            return asyncio.run(job())
        except AvatarError as error:  # e.g. the embedding model is missing: say so, no traceback
            log.warning("memory write skipped: %s", error.message)
        except Exception:  # a failed memory write is logged, never raised into the app
            log.exception("memory write failed")
        return None

    def _forget(self, future: Future[object]) -> None:
        with self._lock:
            self._futures.discard(future)

    def wait_idle(self, timeout_s: float | None = None) -> bool:
        """Wait until every job submitted so far is done; False on timeout."""
        with self._lock:
            pending = set(self._futures)
        if not pending:
            return True
        _done, not_done = wait(pending, timeout=timeout_s)
        return not not_done

    def close(self, wait_s: float | None = CLOSE_WAIT_S) -> None:
        """Drop queued jobs, let the running one finish (up to wait_s), refuse new ones."""
        with self._lock:
            self._closed = True
            pending = [f for f in self._futures if not f.running()]
        for future in pending:
            future.cancel()
        self._jobs.put(None)
        self.wait_idle(wait_s)
