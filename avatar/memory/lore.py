"""Lorebooks as lore memories that follow them: a character card's (the persona's scope) and a world's
(the world's scope, recalled by the characters of a scene set in it)."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Sequence

from sqlmodel import Session

from avatar.memory import repository
from avatar.memory.core import MAX_MEMORY_CHARS, MemoryCore
from avatar.memory.models import Memory
from avatar.memory.schemas import (
    MemoryKind,
    MemoryScope,
)
from avatar.personas.card_format import LoreEntry

log = logging.getLogger(__name__)

LORE_REASON = "From the character card's lorebook."
WORLD_LORE_REASON = "From the world's lorebook."
LORE_IMPORTANCE = 0.8


def lore_text(entry: LoreEntry) -> str:
    """A lorebook entry as memory text: its name as a title, and its trigger words when the text lacks
    them (keyword recall then finds the entry by them, as a lorebook would)."""
    body = f"{entry.name}: {entry.content}" if entry.name else entry.content
    missing = [key for key in entry.keys if key.lower() not in body.lower()]
    also = [key for key in entry.secondary_keys if key.lower() not in body.lower() and key not in missing]
    if missing or also:
        words = ", ".join(missing) + ("; " if missing and also else "") + (f"with {', '.join(also)}" if also else "")
        body = f"{body} (keys: {words})"
    return body[:MAX_MEMORY_CHARS]


class LoreSync(MemoryCore):
    def sync_lore(self, persona_id: str, entries: Sequence[LoreEntry]) -> int:
        """Make the persona's lore memories follow its card's lorebook; returns how many were added or removed.

        Only when the lorebook differs from the one last synced (a fingerprint in memory_meta), so the
        user's edits, pins and deletions of lore memories stay until the card itself changes. Entries
        the card marks `constant` are pinned (always recalled); the others come back when relevant.
        No entries (a persona deleted, or a card without a lorebook) removes them all.
        """
        return self._sync(f"lore:{persona_id}", entries, persona_id=persona_id)

    def sync_world_lore(self, world_id: str, entries: Sequence[LoreEntry]) -> int:
        """The same for a world's lorebook: memories of the world's own scope."""
        return self._sync(f"world-lore:{world_id}", entries, world_id=world_id)

    def _sync(
        self,
        meta_name: str,
        entries: Sequence[LoreEntry],
        *,
        persona_id: str | None = None,
        world_id: str | None = None,
    ) -> int:
        texts = {lore_text(entry): entry.constant for entry in entries}
        fingerprint = hashlib.sha256(json.dumps(sorted(texts.items())).encode()).hexdigest()
        owner = {"persona_id": persona_id} if persona_id else {"world_id": world_id}
        with Session(self.engine) as session:
            if repository.get_meta(session, meta_name) == (fingerprint if texts else None):
                return 0
            existing = repository.list_memories(session, **owner, kind=MemoryKind.lore.value, limit=100_000)
            stale = [memory.id for memory in existing if memory.text not in texts]
            fresh = [text for text in texts if text not in {memory.text for memory in existing}]
        vectors, lines = self.embed_passages_with_lines(fresh) if fresh else ([], [])
        with Session(self.engine) as session:
            for memory_id in stale:
                if (gone := repository.get_memory(session, memory_id)) is not None:
                    repository.delete_memory(session, gone)
            for text, vector, per_line in zip(fresh, vectors, lines):
                memory = Memory(
                    kind=MemoryKind.lore.value,
                    scope=(MemoryScope.persona if persona_id else MemoryScope.world).value,
                    persona_id=persona_id,
                    world_id=None if persona_id else world_id,
                    text=text,
                    reason=LORE_REASON if persona_id else WORLD_LORE_REASON,
                    importance=LORE_IMPORTANCE,
                    pinned=texts[text],
                )
                repository.insert_memory(session, memory, vector, per_line)
            if texts:
                repository.set_meta(session, meta_name, fingerprint)
                self._record_model(session)
            else:
                repository.delete_meta(session, meta_name)
            session.commit()
        if stale or fresh:
            log.info("memory: %s +%d -%d", meta_name, len(fresh), len(stale))
        return len(stale) + len(fresh)

    def schedule_lore_sync(self, persona_id: str, entries: Callable[[], Sequence[LoreEntry]]) -> bool:
        """sync_lore() in the background (it embeds); `entries` is read when the job runs, so the newest card wins."""

        async def job() -> int:
            return self.sync_lore(persona_id, entries())

        return self.writer.submit(("lore", persona_id), job)

    def schedule_world_lore_sync(self, world_id: str, entries: Callable[[], Sequence[LoreEntry]]) -> bool:
        """sync_world_lore() in the background; `entries` is read when the job runs (the newest book wins)."""

        async def job() -> int:
            return self.sync_world_lore(world_id, entries())

        return self.writer.submit(("world-lore", world_id), job)
