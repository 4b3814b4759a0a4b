"""Long-term memory: what is stored (write policy), what comes back (recall), and the user's edits.

Write policy, per conversation, off the reply path (`schedule_write`):
1. the messages after the conversation's watermark are cut into raw chunks of 3-6 messages
   (chunking.py), each passed through the sensitive-information filter and stored as a persona
   memory, the watermark moving with it in the same transaction (never chunked twice);
2. each chunk is distilled into cards by the LLM (distill.py); a card that needed redaction is
   dropped (a card about a password is worthless once the password is gone); a card within cosine
   `dedupe_threshold` of an existing card of the same scope/persona updates that card instead.
Profile cards are seen by every persona, so under a 'permissive' persona a card holding contact
details is kept with that persona only.

Recall is hybrid (sign-bit KNN re-scored exactly + FTS5 BM25, fused by RRF, gently boosted by importance
and recency; ranking.py), scoped to user-global memories and the asking persona's, capped by count and tokens.
Pinned memories are always recalled first (up to half of k): pinning means "always keep in mind".
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import numpy as np
from sqlalchemy.engine import Engine
from sqlmodel import Session

from avatar.core.ids import utcnow
from avatar.core.logging import private
from avatar.llm.tokens import estimate_tokens
from avatar.memory import repository
from avatar.memory.chunking import MIN_TURNS, PlannedChunk, TurnText, plan_chunks, render
from avatar.memory.distill import CardDistiller, CardDraft
from avatar.memory.embedder import Embedder, normalise
from avatar.memory.exceptions import EmbeddingModelUnavailable, InvalidMemory, MemoryNotFound, MemoryOff
from avatar.memory.filters import FilterResult, filter_sensitive
from avatar.memory.models import PROFILE_OWNER, Memory
from avatar.memory.prompt import header_tokens, memory_line
from avatar.memory.ranking import Candidate, add_ranked, as_utc, boost, fuse
from avatar.memory.schemas import (
    CardType,
    MemoryKind,
    MemoryOut,
    MemoryPolicy,
    MemoryScope,
    RecalledMemory,
    SourceMessage,
    WriteReport,
)
from avatar.memory.timeframe import TimeFrame, find_timeframe
from avatar.memory.writer import MemoryWriter
from avatar.personas.cards import LoreEntry

log = logging.getLogger(__name__)

MAX_MEMORY_CHARS = 4000
CHUNK_IMPORTANCE = 0.3  # raw excerpts rank a little under distilled cards of default importance
CHUNK_REASON = "What was said in a conversation."
PERSONA_ONLY_CARD_TYPES = {"self", "relationship"}
LORE_REASON = "From the character card's lorebook."
LORE_IMPORTANCE = 0.8
# A memory dated this close outside the time a query names still counts (time zones, vague memories).
TIME_SLACK = timedelta(days=1)
TIME_CANDIDATES = 2000
# A line longer than the embedding model's window is embedded in pieces of this many characters.
# English chat runs ~4 characters a token; 3.5 leaves a margin.
CHARS_PER_TOKEN = 3.5
DEFAULT_PASSAGE_CHARS = 900


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


def lore_text(entry: LoreEntry) -> str:
    """A lorebook entry as memory text: its name as a title, and its trigger words when the text lacks
    them (keyword recall then finds the entry by them, as a lorebook would)."""
    body = f"{entry.name}: {entry.content}" if entry.name else entry.content
    missing = [key for key in entry.keys if key.lower() not in body.lower()]
    body = f"{body} (keys: {', '.join(missing)})" if missing else body
    return body[:MAX_MEMORY_CHARS]


def split_for_embedding(text: str, limit: int) -> list[list[str]]:
    """`text` as its non-empty lines (in a chunk: one message each), each cut at spaces into pieces of at
    most `limit` characters."""
    lines: list[list[str]] = []
    for line in text.splitlines():
        line = line.strip()
        pieces: list[str] = []
        while len(line) > limit:
            cut = line.rfind(" ", 0, limit)
            cut = cut if cut > limit // 2 else limit
            pieces.append(line[:cut])
            line = line[cut:].lstrip()
        if line:
            pieces.append(line)
        if pieces:
            lines.append(pieces)
    return lines or [[text[:limit]]]


class MemoryService:
    def __init__(
        self,
        engine: Engine,
        embedder: Embedder,
        distiller: CardDistiller | None = None,
        *,
        dedupe_threshold: float = 0.9,
        min_similarity: float = 0.2,
        writer: MemoryWriter | None = None,
    ) -> None:
        self.engine = engine
        self.embedder = embedder
        self.distiller = distiller
        self.dedupe_threshold = dedupe_threshold
        # A vector-only hit below this cosine similarity is noise (KNN always returns k rows).
        self.min_similarity = min_similarity
        self.writer = writer or MemoryWriter()

    # -- the user's own edits (the Memory tab) ------------------------------------------------
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
        vector = self.embed_passages([clean])[0]
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
            repository.insert_memory(session, memory, vector)
            self._record_model(session)
            session.commit()
            return MemoryOut.model_validate(memory)

    def get(self, memory_id: str) -> MemoryOut:
        with Session(self.engine) as session:
            return MemoryOut.model_validate(self._require(session, memory_id))

    def list(
        self,
        *,
        persona_id: str | None = None,
        visible_to: str | None = None,
        kind: MemoryKind | None = None,
        scope: MemoryScope | None = None,
        pinned: bool | None = None,
        search: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[MemoryOut]:
        """Newest first. persona_id: that persona's own memories; visible_to: what that persona can recall."""
        with Session(self.engine) as session:
            rows = repository.list_memories(
                session,
                persona_id=persona_id,
                visible_to=visible_to,
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
        vector = self.embed_passages([clean])[0]
        with Session(self.engine) as session:
            memory = self._require(session, memory_id)
            memory.text = clean
            memory.updated_at = utcnow()
            session.add(memory)
            session.flush()  # the FTS5 trigger runs on the UPDATE
            repository.replace_vector(session, memory, vector)
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
    ) -> int:
        """Forget in bulk: everything, one persona's memories, one scope, or what one conversation taught.
        Returns how many."""
        with Session(self.engine) as session:
            count = repository.delete_memories(
                session,
                persona_id=persona_id,
                scope=MemoryScope(scope).value if scope else None,
                conversation_id=conversation_id,
            )
            session.commit()
            return count

    def count(self, *, persona_id: str | None = None, scope: MemoryScope | None = None) -> int:
        with Session(self.engine) as session:
            return repository.count_memories(
                session, persona_id=persona_id, scope=MemoryScope(scope).value if scope else None
            )

    # -- the persona's lorebook ----------------------------------------------------------------
    def sync_lore(self, persona_id: str, entries: Sequence[LoreEntry]) -> int:
        """Make the persona's lore memories follow its card's lorebook; returns how many were added or removed.

        Only when the lorebook differs from the one last synced (a fingerprint in memory_meta), so the
        user's edits, pins and deletions of lore memories stay until the card itself changes. Entries
        the card marks `constant` are pinned (always recalled); the others come back when relevant.
        No entries (a persona deleted, or a card without a lorebook) removes them all.
        """
        texts = {lore_text(entry): entry.constant for entry in entries}
        fingerprint = hashlib.sha256(json.dumps(sorted(texts.items())).encode()).hexdigest()
        meta_name = f"lore:{persona_id}"
        with Session(self.engine) as session:
            if repository.get_meta(session, meta_name) == (fingerprint if texts else None):
                return 0
            existing = repository.list_memories(
                session, persona_id=persona_id, kind=MemoryKind.lore.value, limit=100_000
            )
            stale = [memory.id for memory in existing if memory.text not in texts]
            fresh = [text for text in texts if text not in {memory.text for memory in existing}]
        vectors = self.embed_passages(fresh) if fresh else []
        with Session(self.engine) as session:
            for memory_id in stale:
                if (gone := repository.get_memory(session, memory_id)) is not None:
                    repository.delete_memory(session, gone)
            for text, vector in zip(fresh, vectors):
                memory = Memory(
                    kind=MemoryKind.lore.value,
                    scope=MemoryScope.persona.value,
                    persona_id=persona_id,
                    text=text,
                    reason=LORE_REASON,
                    importance=LORE_IMPORTANCE,
                    pinned=texts[text],
                )
                repository.insert_memory(session, memory, vector)
            if texts:
                repository.set_meta(session, meta_name, fingerprint)
                self._record_model(session)
            else:
                repository.delete_meta(session, meta_name)
            session.commit()
        if stale or fresh:
            log.info("memory: persona=%s lore +%d -%d", persona_id, len(fresh), len(stale))
        return len(stale) + len(fresh)

    def schedule_lore_sync(self, persona_id: str, entries: Callable[[], Sequence[LoreEntry]]) -> bool:
        """sync_lore() in the background (it embeds); `entries` is read when the job runs, so the newest card wins."""

        async def job() -> int:
            return self.sync_lore(persona_id, entries())

        return self.writer.submit(("lore", persona_id), job)

    # -- recall ---------------------------------------------------------------------------------
    def recall(
        self,
        query: str,
        persona_id: str,
        *,
        k: int = 8,
        token_budget: int = 800,
        user_name: str = "the user",
        with_sources: bool = True,
        touch: bool = True,
        wait_for_model: bool = False,
        now: datetime | None = None,
    ) -> list[RecalledMemory]:
        """The memories most relevant to `query` that `persona_id` may see, best first.

        token_budget bounds the whole block format_memories() makes of them, header included.
        Never waits for the embedding model unless wait_for_model: while it is still loading (or
        cannot load) recall is keyword-only, so the first reply after startup is not held up.
        `now` anchors time words in the query ("last week"); by default, the present.
        """
        query = query.strip()
        with Session(self.engine) as session:
            ranked = self._rank(session, query, persona_id, max(4 * k, 32), now=now, wait_for_model=wait_for_model)
            pinned = repository.pinned_memories(session, persona_id, limit=max(1, k // 2))
            pinned_ids = {m.id for m in pinned}
            by_id = {r.memory.id: r for r in ranked}
            moment = utcnow()
            ordered = [by_id.get(m.id) or self._recalled(m, None, moment) for m in pinned]
            ordered += [r for r in ranked if r.memory.id not in pinned_ids]

            chosen: list[RecalledMemory] = []
            used = header_tokens(user_name)
            for recalled in ordered:
                cost = estimate_tokens(memory_line(recalled, user_name)) + 1
                if used + cost > token_budget:
                    continue  # a shorter one further down may still fit
                chosen.append(recalled)
                used += cost
                if len(chosen) >= k:
                    break

            if touch and chosen:
                repository.touch_recalled(session, [r.memory.id for r in chosen], moment)
                session.commit()
            if with_sources:
                self._attach_sources(session, chosen)
        return chosen

    def search(
        self,
        query: str,
        persona_id: str | None = None,
        *,
        k: int = 10,
        kind: MemoryKind | None = None,
        scope: MemoryScope | None = None,
        now: datetime | None = None,
        wait_for_model: bool = True,
        with_sources: bool = True,
    ) -> list[RecalledMemory]:
        """The k memories that best match `query` (the Memory tab, `memories search`), best first.

        Found as recall finds them, but ranked by relevance alone, without pinned-first or a token
        budget, and without counting as a recall. persona_id: what that persona may see (None: every
        memory). Waits for the embedding model by default: a search should never quietly be keyword-only.
        """
        query = query.strip()
        if not query:
            return []
        kind = MemoryKind(kind) if kind else None
        scope = MemoryScope(scope) if scope else None
        with Session(self.engine) as session:
            ranked = self._rank(
                session,
                query,
                persona_id,
                max(4 * k, 50) * (2 if kind or scope else 1),
                now=now,
                wait_for_model=wait_for_model,
                kind=kind,
                search=True,
            )
            chosen = [r for r in ranked if scope is None or r.memory.scope is scope][:k]
            if with_sources:
                self._attach_sources(session, chosen)
        return chosen

    def _rank(
        self,
        session: Session,
        query: str,
        persona_id: str | None,
        wanted: int,
        *,
        now: datetime | None = None,
        wait_for_model: bool = False,
        kind: MemoryKind | None = None,
        search: bool = False,
    ) -> list[RecalledMemory]:
        """Every candidate for `query`, best first: vector KNN, FTS5 BM25 and, when the query names a time,
        the memories dated then, fused by RRF.

        Recall (the prompt) boosts by importance and recency and leaves out vector-only candidates
        below min_similarity. search=True ranks by relevance alone (importance and recency only break
        ties: a search must not prefer a vaguely related card to the excerpt that answers it) and keeps
        the weak candidates, after the others, so a search still lists k results.
        """
        if not query:
            return []
        moment = utcnow()
        frame = find_timeframe(query, now or moment)
        dated: list[tuple[int, datetime]] = []
        if frame is not None:
            frame, dated = self._dated(session, query, frame, persona_id, anchored=now is not None)
        # The time words find memories by date; the rest of the query finds them by meaning and words.
        topical = frame.rest if frame is not None else query
        vector = self._query_vector(topical if repository.query_terms(topical) else query, wait_for_model)
        owners = None if persona_id is None else [PROFILE_OWNER, persona_id]
        vector_hits = (
            repository.knn(session, vector, owners, wanted, kind=kind.value if kind else None)
            if vector is not None
            else []
        )
        terms = repository.query_terms(topical)
        common = repository.common_terms(session, terms)
        keyword_hits = repository.keyword_search(session, [t for t in terms if t not in common], persona_id, wanted)
        candidates = fuse(vector_hits, keyword_hits)
        if dated:
            add_ranked(candidates, self._rank_dated(session, dated, vector, wanted), "time_rank")
        strong = {
            key
            for key, c in candidates.items()
            if c.keyword_rank is not None or c.time_rank is not None or (c.similarity or 0.0) >= self.min_similarity
        }
        rows = repository.memories_by_key(session, candidates if search else strong)
        ranked = [
            (key in strong, self._recalled(rows[key], candidates[key], moment, boosted=not search))
            for key in rows
            if kind is None or rows[key].kind == kind.value
        ]
        ranked.sort(key=lambda item: (item[0], item[1].score, item[1].memory.importance), reverse=True)
        return [recalled for _, recalled in ranked]

    @staticmethod
    def _dated(
        session: Session, query: str, frame: TimeFrame, persona_id: str | None, *, anchored: bool
    ) -> tuple[TimeFrame, list[tuple[int, datetime]]]:
        """The memories dated in `frame` (with some slack). When nothing is, and the frame lies after the
        newest memory (an imported history from long ago, asked about as "last week"), the frame is read
        relative to that newest memory instead, unless the caller gave its own `now`."""
        dated = repository.keys_between(
            session, frame.start - TIME_SLACK, frame.end + TIME_SLACK, persona_id, TIME_CANDIDATES
        )
        if dated or anchored:
            return frame, dated
        newest = repository.newest_memory_time(session, persona_id)
        if newest is None or as_utc(newest) + TIME_SLACK >= frame.start:
            return frame, dated
        shifted = find_timeframe(query, as_utc(newest) + timedelta(seconds=1))
        if shifted is None:
            return frame, dated
        return shifted, repository.keys_between(
            session, shifted.start - TIME_SLACK, shifted.end + TIME_SLACK, persona_id, TIME_CANDIDATES
        )

    @staticmethod
    def _rank_dated(
        session: Session, dated: list[tuple[int, datetime]], vector: np.ndarray | None, wanted: int
    ) -> list[int]:
        """The dated memories best first: by similarity to the query's topic, else newest first."""
        if vector is None:
            return [key for key, _ in dated[:wanted]]
        return [key for key, _ in repository.rescore(session, vector, [key for key, _ in dated], wanted)]

    async def arecall(self, query: str, persona_id: str, **options: object) -> list[RecalledMemory]:
        """recall() on a worker thread: embedding the query must not block the event loop."""
        return await asyncio.to_thread(self.recall, query, persona_id, **options)  # type: ignore[arg-type]

    def _query_vector(self, query: str, wait_for_model: bool) -> np.ndarray | None:
        if not (self.embedder.loaded or wait_for_model):
            self.embedder.start_warm_up()
            log.info("recall: embedding model still loading, keyword search only")
            return None
        try:
            return self.embedder.embed_query(query)
        except EmbeddingModelUnavailable as error:
            log.warning("recall: keyword search only: %s", error.message)
            return None

    @staticmethod
    def _recalled(
        memory: Memory, candidate: Candidate | None, now: datetime, *, boosted: bool = True
    ) -> RecalledMemory:
        score = candidate.rrf if candidate else 0.0
        if boosted:
            score = boost(score, importance=memory.importance, updated_at=memory.updated_at, now=now)
        return RecalledMemory(
            memory=MemoryOut.model_validate(memory),
            score=score,
            similarity=candidate.similarity if candidate else None,
            vector_rank=candidate.vector_rank if candidate else None,
            keyword_rank=candidate.keyword_rank if candidate else None,
            time_rank=candidate.time_rank if candidate else None,
        )

    @staticmethod
    def _attach_sources(session: Session, recalled: Sequence[RecalledMemory]) -> None:
        messages = repository.messages_by_id(session, (i for r in recalled for i in r.memory.source_message_ids))
        for r in recalled:
            r.sources = [
                SourceMessage.model_validate(messages[i], from_attributes=True)
                for i in r.memory.source_message_ids
                if i in messages
            ]

    # -- writing, off the reply path ------------------------------------------------------------
    def schedule_write(
        self,
        persona_id: str,
        conversation_id: str,
        *,
        policy: MemoryPolicy = "strict",
        persona_name: str = "Character",
        user_name: str = "User",
        final: bool = False,
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
        keep_tail: bool = False,
    ) -> WriteReport:
        """Turn the conversation's new messages into chunks and cards. Meant for the writer thread:
        it blocks its event loop while embedding. Each memory is dated by the newest message it
        comes from (an imported transcript keeps its own dates). distill=False: chunks only.
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
            vector = self.embed_passages([filtered.text])[0]
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
                )
                repository.insert_memory(session, memory, vector)
                repository.set_progress(session, conversation_id, chunk.message_ids[-1], utcnow())
                self._record_model(session)
                session.commit()
            report.chunks_added += 1
            if self.distiller is not None and distill:
                drafts = await self.distiller.distill(filtered.text, persona_name)
                self._store_cards(drafts, persona_id, conversation_id, chunk.message_ids, policy, report, when)
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

    def _store_cards(
        self,
        drafts: Sequence[CardDraft],
        persona_id: str,
        conversation_id: str,
        source_ids: Sequence[str],
        policy: MemoryPolicy,
        report: WriteReport,
        when: datetime | None = None,
    ) -> None:
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
        if not accepted:
            return
        vectors = self.embedder.embed_documents([text for _, _, text, _ in accepted])
        for (draft, scope, text, reason), vector in zip(accepted, vectors):
            with Session(self.engine) as session:
                owner = repository.owner_of(scope.value, persona_id)
                nearest = repository.knn(session, vector, [owner], 1, kind=MemoryKind.card.value)
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
                session.commit()
            log.debug("memory card: %s", private(text))

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

    # -- the embedding model --------------------------------------------------------------------
    def embedding_model_matches(self) -> bool:
        """False when stored vectors were made by another model than the current one (recall them: reembed_all)."""
        with Session(self.engine) as session:
            stored = repository.get_meta(session, "embedding_model")
        return stored is None or stored == self.embedder.model_name

    def reembed_all(self, batch_size: int = 256) -> int:
        """Re-embed every memory with the current model (after a model change). Returns how many."""
        done, after = 0, 0
        while True:
            with Session(self.engine) as session:
                rows = repository.all_keys_and_texts(session, after, batch_size)
            if not rows:
                break
            vectors = self.embed_passages([row[1] for row in rows])
            with Session(self.engine) as session:
                memories = repository.memories_by_key(session, [row[0] for row in rows])
                for (key, _text), vector in zip(rows, vectors):
                    repository.replace_vector(session, memories[key], vector)
                repository.set_meta(session, "embedding_model", self.embedder.model_name)
                session.commit()
            done += len(rows)
            after = rows[-1][0]
        return done

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for texts to store. Each line (in a chunk: each message) is embedded on its own, in
        pieces when longer than the model's window, and the line vectors are averaged, so a short
        message keeps its weight beside long ones and the end of a long excerpt still counts. A
        one-line text under the window gets exactly its plain embedding."""
        limit = self._passage_chars()
        pieces: list[str] = []
        line_of_piece: list[int] = []
        text_of_line: list[int] = []
        for index, text in enumerate(texts):
            for line in split_for_embedding(text, limit):
                pieces += line
                line_of_piece += [len(text_of_line)] * len(line)
                text_of_line.append(index)
        vectors = self.embedder.embed_documents(pieces)
        if len(pieces) == len(texts):
            return vectors
        lines = np.zeros((len(text_of_line), vectors.shape[1]), dtype=np.float32)
        np.add.at(lines, line_of_piece, vectors)
        summed = np.zeros((len(texts), vectors.shape[1]), dtype=np.float32)
        np.add.at(summed, text_of_line, normalise(lines))
        return normalise(summed)

    def _passage_chars(self) -> int:
        tokens = getattr(self.embedder.load(), "max_seq_length", None)  # embedding loads it anyway
        return int(tokens * CHARS_PER_TOKEN) if isinstance(tokens, int) and tokens > 0 else DEFAULT_PASSAGE_CHARS

    # -- helpers --------------------------------------------------------------------------------
    def _record_model(self, session: Session) -> None:
        if repository.get_meta(session, "embedding_model") is None:
            repository.set_meta(session, "embedding_model", self.embedder.model_name)

    @staticmethod
    def _clean(text: str, policy: MemoryPolicy) -> str:
        text = " ".join(text.split()) if "\n" not in text else text.strip()
        if not text:
            raise InvalidMemory("A memory needs some text: type what should be remembered.")
        if len(text) > MAX_MEMORY_CHARS:
            raise InvalidMemory(f"That memory is too long: keep it under {MAX_MEMORY_CHARS} characters.")
        result: FilterResult = filter_sensitive(text, policy)
        if not result.storable:
            raise MemoryOff()
        if not result.text.strip():
            raise InvalidMemory("Nothing is left of that memory once private details are removed.")
        return result.text

    @staticmethod
    def _require(session: Session, memory_id: str) -> Memory:
        memory = repository.get_memory(session, memory_id)
        if memory is None:
            raise MemoryNotFound(memory_id)
        return memory
