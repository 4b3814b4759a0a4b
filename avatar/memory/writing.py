"""Writing memories off the reply path: raw chunks of what was said, and the cards distilled from them."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import datetime

import numpy as np
from sqlmodel import Session

from avatar.core.ids import utcnow
from avatar.core.logging import private
from avatar.memory import index_search, repository
from avatar.memory.chunking import MIN_TURNS, PlannedChunk, TurnText, plan_chunks, render
from avatar.memory.core import MemoryCore
from avatar.memory.distill import CardDraft
from avatar.memory.filters import filter_sensitive
from avatar.memory.models import Memory
from avatar.memory.ranking import as_utc
from avatar.memory.schemas import (
    MemoryKind,
    MemoryPolicy,
    MemoryScope,
    Witness,
    WriteReport,
)

log = logging.getLogger(__name__)

CHUNK_IMPORTANCE = 0.3  # raw excerpts rank a little under distilled cards of default importance
CHUNK_REASON = "What was said in a conversation."
PERSONA_ONLY_CARD_TYPES = {"self", "relationship"}


def tail_chunk(
    turns: Sequence[TurnText], last_chunked: str | None, user_name: str, persona_name: str
) -> list[PlannedChunk]:
    """The messages left after the last chunk (fewer than MIN_TURNS), with enough before them to make one."""
    usable = [turn for turn in turns if turn.content.strip()]
    ids = [turn.id for turn in usable]
    start = ids.index(last_chunked) + 1 if last_chunked in ids else 0
    if start >= len(usable):
        return []
    window = usable[max(0, min(start, len(usable) - MIN_TURNS)) :]
    return [PlannedChunk(message_ids=[t.id for t in window], text=render(window, user_name, persona_name))]


class MemoryWriting(MemoryCore):
    def schedule_write(
        self,
        persona_id: str,
        conversation_id: str,
        *,
        policy: MemoryPolicy = "strict",
        persona_name: str = "Character",
        user_name: str = "User",
        final: bool = False,
        defer_cards: bool = False,
    ) -> bool:
        """Queue remember() for this conversation and return at once (False: one is already queued)."""
        return self.writer.submit(
            ("remember", conversation_id, final),
            lambda: self.remember(
                persona_id,
                conversation_id,
                policy=policy,
                persona_name=persona_name,
                user_name=user_name,
                final=final,
                defer_cards=defer_cards,
            ),
        )

    def wait_for_writes(self, timeout_s: float | None = None) -> bool:
        return self.writer.wait_idle(timeout_s)

    def close(self) -> None:
        self.writer.close()

    async def remember(
        self,
        persona_id: str,
        conversation_id: str,
        *,
        policy: MemoryPolicy = "strict",
        persona_name: str = "Character",
        user_name: str = "User",
        final: bool = False,
        distill: bool = True,
        defer_cards: bool = False,
        keep_tail: bool = False,
    ) -> WriteReport:
        """Turn the conversation's new messages into chunks and cards. Meant for the writer thread:
        it blocks its event loop while embedding. Each memory is dated by the newest message it
        comes from (an imported transcript keeps its own dates). distill=False: chunks only.
        defer_cards: the chunks are marked for cards, which make_cards() makes later (a live
        conversation: the model server's cache is the conversation's until it goes idle).
        keep_tail (with final: a transcript that will never go on): the last one or two messages,
        too few for a chunk of their own, are kept in a last chunk that repeats the messages before them."""
        report = WriteReport(conversation_id=conversation_id)
        with Session(self.engine) as session:
            progress = repository.get_progress(session, conversation_id)
            messages = repository.messages_after(
                session, conversation_id, progress.last_message_id if progress else None
            )
            report.messages_seen = len(messages)
            if not repository.conversation_memory_enabled(session, conversation_id):
                policy = "off"  # switched off in the Chat tab, maybe after this write was queued
            if policy == "off":
                # Seen but not kept: turning memory on later must not reach back into this.
                if messages:
                    repository.set_progress(session, conversation_id, messages[-1].id, utcnow())
                    session.commit()
                return report
            turns = [TurnText(id=m.id, role=m.role, content=m.content) for m in messages]
            said_at = {m.id: as_utc(m.created_at) for m in messages}

        plan = plan_chunks(turns, user_label=user_name, persona_label=persona_name, final=final)
        chunks = list(plan.chunks)
        if final and keep_tail:
            chunks += tail_chunk(turns, plan.last_message_id, user_name, persona_name)
        for chunk in chunks:
            filtered = filter_sensitive(chunk.text, policy)
            report.redactions += sum(filtered.redacted.values())
            vectors, lines = self.embed_passages_with_lines([filtered.text])
            when = max(said_at[i] for i in chunk.message_ids)
            with Session(self.engine) as session:
                memory = Memory(
                    kind=MemoryKind.chunk.value,
                    scope=MemoryScope.persona.value,
                    persona_id=persona_id,
                    conversation_id=conversation_id,
                    text=filtered.text,
                    source_message_ids=repository.encode_ids(chunk.message_ids),
                    reason=CHUNK_REASON,
                    importance=CHUNK_IMPORTANCE,
                    created_at=when,
                    updated_at=when,
                    cards_pending=distill,
                )
                repository.insert_memory(session, memory, vectors[0], lines[0])
                repository.set_progress(session, conversation_id, chunk.message_ids[-1], utcnow())
                self._record_model(session)
                session.commit()
            report.chunks_added += 1
        if distill and not defer_cards:
            await self.make_cards(
                conversation_id, persona_id=persona_id, policy=policy, persona_name=persona_name, report=report
            )
        if chunks:
            log.info(
                "memory: conversation=%s chunks+%d cards+%d updated %d skipped %d redactions %d",
                conversation_id,
                report.chunks_added,
                report.cards_added,
                report.cards_updated,
                report.cards_skipped,
                report.redactions,
            )
        return report

    async def make_cards(
        self,
        conversation_id: str,
        *,
        persona_id: str,
        policy: MemoryPolicy = "strict",
        persona_name: str = "Character",
        report: WriteReport | None = None,
        witnesses: Sequence[Witness] | None = None,
    ) -> WriteReport:
        """Make the memory cards of the conversation's chunks that still wait for them, oldest first.
        `witnesses` (a scene): each chunk's cards belong to the witness whose chunk it is.

        Each chunk is marked done with its cards, so a run cut short (a crash, a turn that needs the
        model server) leaves the rest pending for the next run; a chunk distilled twice updates its
        cards rather than duplicating them (near-duplicates merge). Without a distiller they wait."""
        report = report or WriteReport(conversation_id=conversation_id)
        if self.distiller is None:
            return report
        with Session(self.engine) as session:
            if not repository.conversation_memory_enabled(session, conversation_id):
                policy = "off"
            pending = [
                (
                    chunk.id,
                    chunk.text,
                    repository.decode_ids(chunk.source_message_ids),
                    as_utc(chunk.updated_at),
                    chunk.persona_id,
                )
                for chunk in repository.pending_card_chunks(session, conversation_id)
            ]
        # In a scene each witness has its own chunks: their cards are that witness's (name, policy).
        whose = {w.persona_id: (w.name, w.policy) for w in witnesses} if witnesses is not None else None
        for chunk_id, text, source_ids, when, owner in pending:
            name, owner_policy = (persona_name, policy) if whose is None else whose.get(owner or "", ("", "off"))
            drafts: Sequence[CardDraft] = []
            if policy != "off" and owner_policy != "off":
                drafts = await self.distiller.distill(text, name)
            owner_id = persona_id if whose is None else str(owner)
            self._store_cards(drafts, chunk_id, owner_id, conversation_id, source_ids, owner_policy, report, when)
        if pending:
            log.info(
                "memory: conversation=%s cards from %d chunks: +%d updated %d skipped %d",
                conversation_id,
                len(pending),
                report.cards_added,
                report.cards_updated,
                report.cards_skipped,
            )
        return report

    def unwritten_conversations(self) -> list[str]:
        """Conversations with enough messages past their watermark to make a chunk (a stop came first)."""
        with Session(self.engine) as session:
            return repository.conversations_with_unwritten_messages(session, at_least=MIN_TURNS + 1)

    def pending_cards(self) -> list[str]:
        """The conversations with chunks whose cards are still to be made."""
        with Session(self.engine) as session:
            return repository.conversations_with_pending_cards(session)

    def _store_cards(
        self,
        drafts: Sequence[CardDraft],
        chunk_id: str,
        persona_id: str,
        conversation_id: str,
        source_ids: Sequence[str],
        policy: MemoryPolicy,
        report: WriteReport,
        when: datetime | None = None,
    ) -> None:
        """Store the chunk's cards and mark it done in one transaction: the cards and the mark go together."""
        accepted: list[tuple[CardDraft, MemoryScope, str, str]] = []
        for draft in drafts:
            scope = MemoryScope.persona if draft.type in PERSONA_ONLY_CARD_TYPES else MemoryScope(draft.scope)
            if scope is MemoryScope.profile and policy != "strict" and filter_sensitive(draft.text, "strict").changed:
                scope = MemoryScope.persona  # contact details a permissive persona may keep stay with it
            filtered = filter_sensitive(draft.text, policy)
            if filtered.changed or not filtered.text.strip():
                report.cards_skipped += 1
                report.redactions += sum(filtered.redacted.values())
                log.info("memory: card dropped, it held %s", ", ".join(filtered.redacted) or "nothing")
                continue
            reason = filter_sensitive(draft.reason, policy)
            accepted.append((draft, scope, filtered.text, "" if reason.changed else reason.text))
        vectors = self.embedder.embed_documents([text for _, _, text, _ in accepted]) if accepted else []
        with Session(self.engine) as session:
            for (draft, scope, text, reason), vector in zip(accepted, vectors):
                owner = repository.owner_of(scope.value, persona_id)
                nearest = index_search.knn(session, vector, [owner], 1, kind=MemoryKind.card.value)
                existing = None
                if nearest and 1.0 - nearest[0][1] >= self.dedupe_threshold:
                    existing = repository.memories_by_key(session, [nearest[0][0]]).get(nearest[0][0])
                if existing is not None:
                    self._refresh_card(session, existing, draft, text, reason, vector, source_ids)
                    report.cards_updated += 1
                else:
                    memory = Memory(
                        kind=MemoryKind.card.value,
                        scope=scope.value,
                        persona_id=persona_id if scope is MemoryScope.persona else None,
                        conversation_id=conversation_id,
                        text=text,
                        card_type=draft.type,
                        source_message_ids=repository.encode_ids(source_ids),
                        reason=reason,
                        importance=draft.importance,
                        created_at=when or utcnow(),
                        updated_at=when or utcnow(),
                    )
                    repository.insert_memory(session, memory, vector)
                    report.cards_added += 1
                log.debug("memory card: %s", private(text))
            repository.mark_cards_done(session, chunk_id)
            session.commit()

    @staticmethod
    def _refresh_card(
        session: Session,
        card: Memory,
        draft: CardDraft,
        text: str,
        reason: str,
        vector: np.ndarray,
        source_ids: Sequence[str],
    ) -> None:
        """A near-duplicate arrived: the newer wording wins (unless the user pinned the card)."""
        if not card.pinned and card.text != text:
            card.text = text
            card.card_type = draft.type
            session.add(card)
            session.flush()
            repository.replace_vector(session, card, vector)
        card.importance = max(card.importance, draft.importance)
        card.reason = reason or card.reason
        card.source_message_ids = repository.encode_ids([*json.loads(card.source_message_ids), *source_ids])
        card.updated_at = utcnow()
        session.add(card)
