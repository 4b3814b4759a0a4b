"""The user's own edits of memory (the Memory tab, `memories` commands): add, list, edit, pin, delete."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session

from avatar.core.ids import utcnow
from avatar.memory import repository
from avatar.memory.core import MemoryCore
from avatar.memory.exceptions import InvalidMemory
from avatar.memory.models import Memory
from avatar.memory.schemas import (
    CardType,
    MemoryKind,
    MemoryOut,
    MemoryPolicy,
    MemoryScope,
    SourceMessage,
)


class MemoryEdits(MemoryCore):
    def add(
        self,
        text: str,
        *,
        scope: MemoryScope = MemoryScope.profile,
        persona_id: str | None = None,
        kind: MemoryKind = MemoryKind.card,
        card_type: CardType | None = CardType.fact,
        reason: str = "Added by you.",
        importance: float = 0.5,
        pinned: bool = False,
        policy: MemoryPolicy = "strict",
    ) -> MemoryOut:
        """Store one memory as given (no dedupe: the user asked for it). Filtered like everything else."""
        scope = MemoryScope(scope)
        if scope is MemoryScope.persona and not persona_id:
            raise InvalidMemory("A character memory needs a character: pick one first.")
        clean = self._clean(text, policy)
        vectors, lines = self.embed_passages_with_lines([clean])
        with Session(self.engine) as session:
            memory = Memory(
                kind=MemoryKind(kind).value,
                scope=scope.value,
                persona_id=persona_id if scope is MemoryScope.persona else None,
                text=clean,
                card_type=CardType(card_type).value if card_type and kind == MemoryKind.card else None,
                reason=reason,
                importance=min(1.0, max(0.0, importance)),
                pinned=pinned,
            )
            repository.insert_memory(session, memory, vectors[0], lines[0])
            self._record_model(session)
            session.commit()
            return MemoryOut.model_validate(memory)

    def get(self, memory_id: str) -> MemoryOut:
        with Session(self.engine) as session:
            return MemoryOut.model_validate(self._require(session, memory_id))

    def by_ids(self, memory_ids: Sequence[str]) -> list[MemoryOut]:
        """The memories with these ids that still exist, in the order given."""
        if not memory_ids:
            return []
        with Session(self.engine) as session:
            found = repository.memories_by_id(session, memory_ids)
            return [MemoryOut.model_validate(found[i]) for i in dict.fromkeys(memory_ids) if i in found]

    def list(
        self,
        *,
        persona_id: str | None = None,
        visible_to: str | None = None,
        world_id: str | None = None,
        kind: MemoryKind | None = None,
        scope: MemoryScope | None = None,
        pinned: bool | None = None,
        search: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[MemoryOut]:
        """Newest first. persona_id: that persona's own memories; visible_to: what that persona can recall;
        world_id: that world's lore."""
        with Session(self.engine) as session:
            rows = repository.list_memories(
                session,
                persona_id=persona_id,
                visible_to=visible_to,
                world_id=world_id,
                kind=MemoryKind(kind).value if kind else None,
                scope=MemoryScope(scope).value if scope else None,
                pinned=pinned,
                search=search,
                limit=limit,
                offset=offset,
            )
            return [MemoryOut.model_validate(m) for m in rows]

    def sources(self, memory_id: str) -> list[SourceMessage]:
        """The messages a memory was made from, oldest first, with their exact text (deleted ones are gone)."""
        with Session(self.engine) as session:
            memory = MemoryOut.model_validate(self._require(session, memory_id))
            messages = repository.messages_by_id(session, memory.source_message_ids)
            found = [messages[i] for i in memory.source_message_ids if i in messages]
            return [SourceMessage.model_validate(m, from_attributes=True) for m in sorted(found, key=lambda m: m.id)]

    def edit(self, memory_id: str, text: str, *, policy: MemoryPolicy = "strict") -> MemoryOut:
        """New text for a memory: filtered, re-embedded, re-indexed."""
        clean = self._clean(text, policy)
        vectors, lines = self.embed_passages_with_lines([clean])
        with Session(self.engine) as session:
            memory = self._require(session, memory_id)
            memory.text = clean
            memory.updated_at = utcnow()
            session.add(memory)
            session.flush()  # the FTS5 trigger runs on the UPDATE
            repository.replace_vector(session, memory, vectors[0], lines[0])
            session.commit()
            return MemoryOut.model_validate(memory)

    def pin(self, memory_id: str, pinned: bool = True) -> MemoryOut:
        with Session(self.engine) as session:
            memory = self._require(session, memory_id)
            memory.pinned = pinned
            session.add(memory)
            session.commit()
            return MemoryOut.model_validate(memory)

    def delete(self, memory_id: str) -> None:
        """Delete a memory with its vector and its text-index entry (triggers do the last two)."""
        with Session(self.engine) as session:
            repository.delete_memory(session, self._require(session, memory_id))
            session.commit()

    def delete_all(
        self,
        *,
        persona_id: str | None = None,
        scope: MemoryScope | None = None,
        conversation_id: str | None = None,
        world_id: str | None = None,
    ) -> int:
        """Forget in bulk: everything, one persona's memories, one scope, what one conversation taught, or a
        world's lore. Returns how many."""
        with Session(self.engine) as session:
            count = repository.delete_memories(
                session,
                persona_id=persona_id,
                scope=MemoryScope(scope).value if scope else None,
                conversation_id=conversation_id,
                world_id=world_id,
            )
            session.commit()
            return count

    def count(self, *, persona_id: str | None = None, scope: MemoryScope | None = None) -> int:
        with Session(self.engine) as session:
            return repository.count_memories(
                session, persona_id=persona_id, scope=MemoryScope(scope).value if scope else None
            )
