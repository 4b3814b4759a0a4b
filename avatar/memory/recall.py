"""Recall: the memories a persona may see that best match a query, hybrid-ranked (vectors, FTS5, time words)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

import numpy as np
from sqlmodel import Session

from avatar.core.ids import utcnow
from avatar.llm.tokens import estimate_tokens
from avatar.memory import repository
from avatar.memory.core import MemoryCore
from avatar.memory.exceptions import EmbeddingModelUnavailable
from avatar.memory.models import PROFILE_OWNER, Memory
from avatar.memory.prompt import header_tokens, memory_line
from avatar.memory.ranking import Candidate, add_ranked, as_utc, boost, fuse
from avatar.memory.schemas import (
    MemoryKind,
    MemoryOut,
    MemoryScope,
    RecalledMemory,
    SourceMessage,
)
from avatar.memory.timeframe import TimeFrame, find_timeframe

log = logging.getLogger(__name__)

# A memory dated this close outside the time a query names still counts (time zones, vague memories).
TIME_SLACK = timedelta(days=1)
TIME_CANDIDATES = 2000


class MemoryRecall(MemoryCore):
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
