"""Memory writes off the reply path: one background thread runs them in order, coalescing repeats.

A turn only enqueues (microseconds); embedding, the distillation call and the SQLite writes happen
on the "memory-writer" thread, in its own event loop, so neither the Gradio loop nor the voice loop
ever waits for them. One thread, so writes never race each other (chunk watermarks, near-duplicate
checks) and so embedding never takes both CPU cores from a reply being generated. A write asked for
while the same conversation's write is still queued is dropped: the queued one will read every
message anyway.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable, Hashable
from concurrent.futures import Future, ThreadPoolExecutor, wait

from avatar.core.errors import AvatarError

log = logging.getLogger(__name__)


class MemoryWriter:
    def __init__(self) -> None:
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._queued: set[Hashable] = set()
        self._futures: set[Future[object]] = set()
        self._closed = False

    def submit(self, key: Hashable, job: Callable[[], Awaitable[object]]) -> bool:
        """Run `job()` in the background; False when a job with this key is already waiting (or closed)."""
        with self._lock:
            if self._closed or key in self._queued:
                return False
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="memory-writer")
            self._queued.add(key)
            future = self._executor.submit(self._run, key, job)
            self._futures.add(future)
        future.add_done_callback(self._forget)
        return True

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

    def close(self, wait_s: float | None = 10.0) -> None:
        """Drop queued jobs, let the running one finish (up to wait_s), refuse new ones."""
        with self._lock:
            self._closed = True
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
            self.wait_idle(wait_s)
