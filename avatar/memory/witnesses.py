"""Memory of a scene: each character remembers what it witnessed, in its own scope.

The scene is cut into chunks as a one-character chat is (chunking.py, one watermark per conversation),
each line labelled with who said it. Each chunk is then stored once per witness: the lines that
character was there for (it may have joined or left midway), filtered by its own memory policy, as a
memory of that character. Their cards come later (card_schedule.py), each witness's from its own
chunks: what the user says about themselves becomes user-global cards as in any chat (near-duplicates
from several witnesses merge), the rest stays with the character that saw it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlmodel import Session

from avatar.core.ids import utcnow
from avatar.memory import repository
from avatar.memory.chunking import TurnText, plan_chunks, render
from avatar.memory.filters import filter_sensitive
from avatar.memory.models import Memory
from avatar.memory.ranking import as_utc
from avatar.memory.schemas import MemoryKind, MemoryScope, Witness, WriteReport
from avatar.memory.writing import CHUNK_IMPORTANCE, MemoryWriting

log = logging.getLogger(__name__)

SCENE_CHUNK_REASON = "What was said in a scene this character was in."


class WitnessWriting(MemoryWriting):
    def schedule_scene_write(
        self,
        conversation_id: str,
        witnesses: Sequence[Witness],
        *,
        user_name: str = "User",
        final: bool = False,
        defer_cards: bool = False,
    ) -> bool:
        """Queue remember_scene() and return at once (False: one is already queued)."""
        return self.writer.submit(
            ("remember", conversation_id, final),
            lambda: self.remember_scene(
                conversation_id, witnesses, user_name=user_name, final=final, defer_cards=defer_cards
            ),
        )

    async def remember_scene(
        self,
        conversation_id: str,
        witnesses: Sequence[Witness],
        *,
        user_name: str = "User",
        final: bool = False,
        distill: bool = True,
        defer_cards: bool = False,
    ) -> WriteReport:
        """The scene's new messages as chunks of each witness (see the module docstring)."""
        report = WriteReport(conversation_id=conversation_id)
        names = {w.persona_id: w.name for w in witnesses}
        with Session(self.engine) as session:
            progress = repository.get_progress(session, conversation_id)
            messages = repository.messages_after(
                session, conversation_id, progress.last_message_id if progress else None
            )
            report.messages_seen = len(messages)
            enabled = repository.conversation_memory_enabled(session, conversation_id)
            if not enabled or all(w.policy == "off" for w in witnesses):
                if messages:  # seen but not kept: turning memory on later must not reach back into this
                    repository.set_progress(session, conversation_id, messages[-1].id, utcnow())
                    session.commit()
                return report
            turns = [
                TurnText(
                    id=m.id,
                    role=m.role,
                    content=m.content,
                    speaker=user_name if m.role == "user" else names.get(m.speaker_id or "", "Someone"),
                )
                for m in messages
            ]
            said_at = {m.id: as_utc(m.created_at) for m in messages}

        for chunk in plan_chunks(turns, user_label=user_name, final=final).chunks:
            in_chunk = set(chunk.message_ids)
            lines = [t for t in turns if t.id in in_chunk]
            copies = []  # (witness, text, message ids) for each character that saw some of it
            for witness in witnesses:
                seen = [t for t in lines if witness.saw(t.id)]
                if seen and witness.policy != "off":
                    filtered = filter_sensitive(render(seen, user_name, witness.name), witness.policy)
                    report.redactions += sum(filtered.redacted.values())
                    copies.append((witness, filtered.text, [t.id for t in seen]))
            # Each copy's lines get their vectors too (memory_lines): recall finds a witness's moments as any chat's.
            vectors, per_line = self.embed_passages_with_lines([text for _, text, _ in copies]) if copies else ([], [])
            with Session(self.engine) as session:
                for (witness, text, ids), vector, lines in zip(copies, vectors, per_line):
                    when = max(said_at[i] for i in ids)
                    memory = Memory(
                        kind=MemoryKind.chunk.value,
                        scope=MemoryScope.persona.value,
                        persona_id=witness.persona_id,
                        conversation_id=conversation_id,
                        text=text,
                        source_message_ids=repository.encode_ids(ids),
                        reason=SCENE_CHUNK_REASON,
                        importance=CHUNK_IMPORTANCE,
                        created_at=when,
                        updated_at=when,
                        cards_pending=distill,
                    )
                    repository.insert_memory(session, memory, vector, lines)
                    report.chunks_added += 1
                repository.set_progress(session, conversation_id, chunk.message_ids[-1], utcnow())
                self._record_model(session)
                session.commit()
        if distill and not defer_cards:
            await self.make_cards(conversation_id, persona_id="", witnesses=witnesses, report=report)
        if report.chunks_added:
            log.info(
                "memory: scene=%s chunks+%d (for %d witnesses) cards+%d redactions %d",
                conversation_id,
                report.chunks_added,
                len(witnesses),
                report.cards_added,
                report.redactions,
            )
        return report
