"""Work on a daemon thread, awaited from asyncio.

`asyncio.to_thread` uses the loop's default executor, whose threads the interpreter joins at exit: a
stop right after a start waited ~12 s for a reply's expression, itself waiting for the embedding model
to load. Work that may be abandoned at a stop (nothing half-written) runs here instead.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


async def in_daemon_thread(work: Callable[..., T], *args: object, name: str = "daemon-work") -> T:
    """`work(*args)` on a new daemon thread; its result or exception, awaited."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result: T | None, error: BaseException | None) -> None:
        if future.done():  # the awaiting task was cancelled meanwhile
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]

    def run() -> None:
        try:
            result, error = work(*args), None
        except BaseException as raised:  # noqa: BLE001 (handed to the awaiting task, raised there)
            result, error = None, raised
        try:
            loop.call_soon_threadsafe(settle, result, error)
        except RuntimeError:  # the loop is closed: nobody is waiting any more
            pass

    threading.Thread(target=run, name=name, daemon=True).start()
    return await future
