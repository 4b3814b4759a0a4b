"""When memory cards are made: never between two turns of a live conversation.

A card needs a call to the chat model. A model server with one slot (Ollama's default) keeps one prompt
in its KV cache, so a card request between two turns replaces the conversation's cached prompt and the
next turn pays for evaluating all of it again. Chunks are still stored at once (no model call); their
cards are made in a batch:
- when the conversation has been quiet for `idle_s` (the person stepped away);
- when the person opens another conversation or character (the one left is due now);
- at the next start, for whatever a stop or a crash left pending.
Never while a reply is being generated (`busy()`) nor while some conversation is live (its last turn
ended less than idle_s ago), and a turn that starts meanwhile stops the card request in flight
(`turn_started()`): the turn never waits behind it, and the rest stays pending for the next quiet moment.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from avatar.memory.schemas import MemoryPolicy, Witness
from avatar.memory.writing import MemoryWriting

log = logging.getLogger(__name__)

TICK_S = 1.0  # how often due conversations are looked for


@dataclass(frozen=True)
class CardJob:
    """What making a conversation's cards needs to know about it."""

    persona_id: str
    persona_name: str
    policy: MemoryPolicy
    witnesses: tuple[Witness, ...] = ()  # a scene: its chunks are its witnesses' (memory/witnesses.py)


class CardSchedule:
    def __init__(
        self,
        memory: MemoryWriting,
        describe: Callable[[str], CardJob | None],
        busy: Callable[[], bool],
        idle_s: float = 120.0,
        after_batch: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        self.memory = memory
        self.describe = describe  # None: the conversation is gone (or its persona), nothing to make
        self.busy = busy
        self.idle_s = idle_s
        self.after_batch = after_batch  # e.g. warm the model server's cache with the conversation again
        self._lock = threading.Lock()
        self._last_turn: dict[str, float] = {}  # live conversations: when their last turn ended
        self._due: set[str] = set()  # to be made as soon as the model server is free
        self._running: tuple[asyncio.AbstractEventLoop, asyncio.Task[object]] | None = None
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    # -- what the app tells it ----------------------------------------------------------------
    def touched(self, conversation_id: str) -> None:
        """A turn ended in this conversation: its cards wait until it has been quiet for idle_s."""
        with self._lock:
            self._last_turn[conversation_id] = time.monotonic()
            self._due.discard(conversation_id)

    def opened(self, conversation_id: str | None) -> None:
        """The person opened this conversation (None: a new one): the others they left are due now."""
        with self._lock:
            for left in [c for c in self._last_turn if c != conversation_id]:
                del self._last_turn[left]
                self._due.add(left)
        self._wake.set()

    def due(self, conversation_id: str) -> None:
        """This conversation's cards are due as soon as the model server is free."""
        with self._lock:
            self._due.add(conversation_id)
        self._wake.set()

    def catch_up(self) -> None:
        """At start: every conversation with cards left pending by the last run is due."""
        pending = self.memory.pending_cards()
        with self._lock:
            self._due.update(pending)
        if pending:
            log.info("memory: cards pending in %d conversations from the last run", len(pending))
        self._wake.set()

    def turn_started(self) -> None:
        """A reply is about to be generated: stop the card request in flight (it stays pending)."""
        with self._lock:
            running = self._running
        if running is not None:
            loop, task = running
            loop.call_soon_threadsafe(task.cancel)

    # -- the background loop -----------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="memory-cards", daemon=True)
            self._thread.start()

    def close(self) -> None:
        self._stopped.set()
        self._wake.set()
        self.turn_started()

    def due_now(self) -> list[str]:
        """Conversations whose cards can be made now: none while any conversation is live (a turn ended
        less than idle_s ago), since its next turn would find the server's cache taken over."""
        now = time.monotonic()
        with self._lock:
            for conversation_id, ended in list(self._last_turn.items()):
                if now - ended >= self.idle_s:
                    del self._last_turn[conversation_id]
                    self._due.add(conversation_id)
            return [] if self._last_turn else sorted(self._due)

    def _loop(self) -> None:
        while not self._stopped.is_set():
            self._wake.wait(TICK_S)
            self._wake.clear()
            if self._stopped.is_set() or self.busy():
                continue
            for conversation_id in self.due_now():
                if self.busy() or self._stopped.is_set():
                    break
                with self._lock:
                    self._due.discard(conversation_id)
                self.memory.writer.submit(("cards", conversation_id), lambda c=conversation_id: self._make(c))

    async def _make(self, conversation_id: str) -> None:
        job = self.describe(conversation_id)
        if job is None or self.busy():
            if job is not None:
                with self._lock:
                    self._due.add(conversation_id)  # a turn began meanwhile: later
            return
        task = asyncio.current_task()
        assert task is not None
        with self._lock:
            self._running = (asyncio.get_running_loop(), task)
        try:
            await self.memory.make_cards(
                conversation_id,
                persona_id=job.persona_id,
                policy=job.policy,
                persona_name=job.persona_name,
                witnesses=job.witnesses or None,
            )
            if self.after_batch is not None and not self.busy():
                await self.after_batch(conversation_id)  # still stoppable by a turn, like the cards
        except asyncio.CancelledError:
            log.info("memory: cards paused for a turn; the rest waits for the next quiet moment")
            with self._lock:
                self._due.add(conversation_id)
            return
        finally:
            with self._lock:
                self._running = None
