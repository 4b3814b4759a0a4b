"""Recall: the moments a persona may see that best match a query, within a budget (prompt tokens or source turns).

Candidates come from three searches fused (ranking.py): sign-bit KNN re-scored exactly, FTS5 BM25, and,
when the query names a time ("last week"), the memories dated then. Each candidate's lines are then
scored on their own and through their memory (moments.py), and the budget is spent line by line: a hit
is a memory with the lines of it that matched, its sources the messages those lines are.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import numpy as np
from sqlalchemy import text
from sqlmodel import Session

from avatar.core.ids import utcnow
from avatar.memory import fts_terms, index_search, line_vectors, repository
from avatar.memory.budgets import Row, TokenCost, TurnCost, line_text
from avatar.memory.core import MemoryCore
from avatar.memory.exceptions import EmbeddingModelUnavailable
from avatar.memory.models import Memory
from avatar.memory.moments import (
    ENTITY_LINES,
    Hit,
    ScoredLine,
    names_in,
    raise_mentions,
    score_lines,
    select,
)
from avatar.memory.prompt import header_tokens
from avatar.memory.ranking import Candidate, add_ranked, as_utc, boost, fuse
from avatar.memory.schemas import MemoryKind, MemoryOut, MemoryScope, RecalledMemory, SourceMessage
from avatar.memory.timeframe import TimeFrame, find_timeframe

log = logging.getLogger(__name__)

# A memory dated this close outside the time a query names still counts (time zones, vague memories).
TIME_SLACK = timedelta(days=1)
TIME_CANDIDATES = 2000
# Candidates per search: the lines of this many memories are scored (at least; more for a larger k).
MIN_CANDIDATES = 64
# The second pass adds this many memories, found by the names the first one's best lines mention, ranked
# among the newest ENTITY_WINDOW that mention them (one FTS5 statement: a name can be in thousands).
ENTITY_CANDIDATES = 16
ENTITY_WINDOW = 500
# Recall (the prompt) leaves out lines scoring under this share of the best line's score.
RELATIVE_FLOOR = 0.6


@dataclass
class Ranking:
    candidates: dict[int, Candidate]
    rows: dict[int, Row]
    lines: list[ScoredLine]  # best first; for recall, the strong ones only


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
        world_id: str | None = None,
    ) -> list[RecalledMemory]:
        """The memories most relevant to `query` that `persona_id` may see (in a scene set in `world_id`, the
        world's lore too), best first, each with the lines of it that matched (pinned memories first, whole,
        up to half of k).

        token_budget bounds the whole block format_memories() makes of them, header included.
        Never waits for the embedding model unless wait_for_model: while it is still loading (or
        cannot load) recall is keyword-only, so the first reply after startup is not held up.
        `now` anchors time words in the query ("last week"); by default, the present.
        """
        query = query.strip()
        moment = utcnow()
        with Session(self.engine) as session:
            ranking = self._rank(session, query, persona_id, max(8 * k, MIN_CANDIDATES), now=now,
                                 wait_for_model=wait_for_model, boosted_at=moment, world_id=world_id)  # fmt: skip
            pinned = repository.pinned_memories(session, persona_id, limit=max(1, k // 2), world_id=world_id)
            for memory in pinned:
                ranking.rows.setdefault(memory.key, _row(memory))
            budget = token_budget - header_tokens(user_name)
            cost = TokenCost(ranking.rows)
            chosen: dict[int, Hit] = {}
            for memory in pinned:
                line = ScoredLine(memory.key, 0, None, None, 0.0, whole=True)
                price = cost(line, None)
                if sum(hit.cost for hit in chosen.values()) + price <= budget:
                    chosen[memory.key] = Hit(memory.key, [line], price)
            pinned_keys = set(chosen)
            # The prompt gets what matches, not whatever fills its budget: a line far below the best is left out.
            floor = RELATIVE_FLOOR * ranking.lines[0].score if ranking.lines else 0.0
            lines = [line for line in ranking.lines if line.key not in pinned_keys and line.score >= floor]
            hits = select(lines, max_hits=k, budget=budget, cost=cost, chosen=chosen)
            recalled = self._recalled(session, list(hits.values()), ranking, with_sources)
            if touch and recalled:
                repository.touch_recalled(session, [r.memory.id for r in recalled], moment)
                session.commit()
        return recalled

    def search(
        self,
        query: str,
        persona_id: str | None = None,
        *,
        k: int | None = 10,
        kind: MemoryKind | None = None,
        scope: MemoryScope | None = None,
        now: datetime | None = None,
        wait_for_model: bool = True,
        with_sources: bool = True,
        turn_budget: int | None = None,
    ) -> list[RecalledMemory]:
        """The memories that best match `query` (the Memory tab, `memories search`), best first.

        Found as recall finds them, but ranked by relevance alone, without pinned-first or boosts, and
        without counting as a recall. k: at most this many memories (None: no limit). turn_budget: at most
        this many source messages in all, chosen line by line (None: each memory whole). persona_id: what
        that persona may see (None: every memory). Waits for the embedding model by default: a search
        should never quietly be keyword-only.
        """
        query = query.strip()
        if not query:
            return []
        kind = MemoryKind(kind) if kind else None
        scope = MemoryScope(scope) if scope else None
        wanted = max(4 * (k or 0), 2 * (turn_budget or 0), MIN_CANDIDATES) * (2 if kind or scope else 1)
        with Session(self.engine) as session:
            ranking = self._rank(session, query, persona_id, wanted, now=now, wait_for_model=wait_for_model,
                                 kind=kind, scope=scope)  # fmt: skip
            hits = select(ranking.lines, max_hits=k, budget=turn_budget, cost=TurnCost(ranking.rows))
            return self._recalled(session, list(hits.values()), ranking, with_sources)

    # -- ranking -------------------------------------------------------------------------------
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
        scope: MemoryScope | None = None,
        boosted_at: datetime | None = None,
        world_id: str | None = None,
    ) -> Ranking:
        """Every line of every candidate for `query`, best first.

        boosted_at (recall): lines are weighted by their memory's importance and recency at that time, and
        vector-only candidates below min_similarity are left out. Otherwise (search) relevance alone
        ranks, and the weak candidates come after the others, so a search still fills its budget.
        """
        empty = Ranking({}, {}, [])
        if not query:
            return empty
        frame = find_timeframe(query, now or utcnow())
        dated: list[tuple[int, datetime]] = []
        if frame is not None:
            frame, dated = self._dated(session, query, frame, persona_id, anchored=now is not None, world_id=world_id)
        # The time words find memories by date; the rest of the query finds them by meaning and words.
        topical = frame.rest if frame is not None else query
        vector = self._query_vector(topical if fts_terms.query_terms(topical) else query, wait_for_model)
        owners = None if persona_id is None else repository.visible_owners(persona_id, world_id)
        vector_hits = (
            index_search.knn(session, vector, owners, wanted, kind=kind.value if kind else None)
            if vector is not None
            else []
        )
        terms = fts_terms.query_terms(topical)
        common = index_search.common_terms(session, terms)
        keyword_hits = index_search.keyword_search(
            session, [t for t in terms if t not in common], persona_id, max(32, wanted // 2), world_id=world_id
        )
        candidates = fuse(vector_hits, keyword_hits)
        if dated:
            add_ranked(candidates, self._rank_dated(session, dated, vector, wanted), "time_rank")
        rows = _rows(session, list(candidates))
        candidates = self._keep(candidates, rows, kind, scope)
        if not candidates:
            return empty
        weight = (
            (lambda key: boost(1.0, importance=rows[key].importance, updated_at=rows[key].updated_at, now=boosted_at))
            if boosted_at is not None
            else (lambda key: 1.0)
        )
        lines = self._score(session, candidates, rows, vector, weight)
        floor = self.min_similarity

        def strong(line: ScoredLine) -> bool:
            candidate = candidates[line.key]
            evidence = candidate.keyword_rank is not None or candidate.time_rank is not None or line.linked
            return evidence or (line.similarity or 0.0) >= floor

        # Second pass: the names the best lines mention (people, places, pets) lead to other moments.
        best = [line for line in lines if strong(line)][:ENTITY_LINES]
        top = [line_text(rows[line.key], line) for line in best]
        speakers = {body.partition(": ")[0] for body in top}
        names = names_in(top, known={*fts_terms.query_terms(query, keep_stopwords=True), *speakers})
        if names:
            found = index_search.keyword_search(
                session,
                [n.lower() for n in names],
                persona_id,
                ENTITY_CANDIDATES,
                window=ENTITY_WINDOW,
                newest_only=True,
                world_id=world_id,
            )
            more = [key for key, _ in found if key not in candidates]
            rows.update(_rows(session, more))
            extra = self._keep({key: Candidate(key) for key in more}, rows, kind, scope)
            lines += self._score(session, extra, rows, vector, weight)
            candidates.update(extra)
            sources = {(line.key, line.number) for line in best}
            lines = raise_mentions(lines, lambda line: line_text(rows[line.key], line), names, sources)
        lines = self._narrow_cards(session, lines, rows, vector)
        if boosted_at is not None:
            lines = [line for line in lines if strong(line)]
        else:
            lines = [line for line in lines if strong(line)] + [line for line in lines if not strong(line)]
        return Ranking(candidates, rows, lines)

    @staticmethod
    def _keep(
        candidates: dict[int, Candidate], rows: dict[int, Row], kind: MemoryKind | None, scope: MemoryScope | None
    ) -> dict[int, Candidate]:
        """The candidates that still exist and are of the kind and scope asked for."""
        return {
            key: c
            for key, c in candidates.items()
            if key in rows
            and (kind is None or rows[key].kind == kind.value)
            and (scope is None or rows[key].scope == scope.value)
        }

    @staticmethod
    def _score(
        session: Session,
        candidates: dict[int, Candidate],
        rows: dict[int, Row],
        vector: np.ndarray | None,
        weight: Callable[[int], float],
    ) -> list[ScoredLine]:
        """The candidates' lines scored (moments.score_lines), after the similarity of each candidate the
        vector search did not rank is computed."""
        if not candidates:
            return []
        if vector is not None:
            unscored = [key for key, c in candidates.items() if c.similarity is None]
            for key, distance in index_search.rescore(session, vector, unscored, len(unscored)):
                candidates[key].similarity = 1.0 - distance
        stored = line_vectors.lines_of(session, list(candidates))
        return score_lines(vector, candidates, stored, weight)

    def _narrow_cards(
        self, session: Session, lines: list[ScoredLine], rows: dict[int, Row], vector: np.ndarray | None
    ) -> list[ScoredLine]:
        """A card's line leads to the one source message most like the card (and the query): its moment."""
        cards = [line for line in lines if line.whole and rows[line.key].kind == MemoryKind.card.value]
        sources = {line.key: rows[line.key].sources() for line in cards}
        messages = line_vectors.lines_of_messages(session, [m for ids in sources.values() for m in ids])
        if not messages:
            return lines
        card_vectors = index_search.vectors_of(session, [line.key for line in cards])
        narrowed: dict[int, str] = {}
        for key, ids in sources.items():
            known = [m for m in ids if m in messages]
            if not known or key not in card_vectors:
                continue
            target = card_vectors[key] + (vector if vector is not None else 0.0)
            narrowed[key] = max(known, key=lambda m: float(messages[m] @ target))
        return [
            replace(line, message_id=narrowed[line.key]) if line.whole and line.key in narrowed else line
            for line in lines
        ]

    @staticmethod
    def _dated(
        session: Session,
        query: str,
        frame: TimeFrame,
        persona_id: str | None,
        *,
        anchored: bool,
        world_id: str | None = None,
    ) -> tuple[TimeFrame, list[tuple[int, datetime]]]:
        """The memories dated in `frame` (with some slack). When nothing is, and the frame lies after the
        newest memory (an imported history from long ago, asked about as "last week"), the frame is read
        relative to that newest memory instead, unless the caller gave its own `now`."""
        dated = index_search.keys_between(
            session, frame.start - TIME_SLACK, frame.end + TIME_SLACK, persona_id, TIME_CANDIDATES, world_id
        )
        if dated or anchored:
            return frame, dated
        newest = index_search.newest_memory_time(session, persona_id, world_id)
        if newest is None or as_utc(newest) + TIME_SLACK >= frame.start:
            return frame, dated
        shifted = find_timeframe(query, as_utc(newest) + timedelta(seconds=1))
        if shifted is None:
            return frame, dated
        return shifted, index_search.keys_between(
            session, shifted.start - TIME_SLACK, shifted.end + TIME_SLACK, persona_id, TIME_CANDIDATES, world_id
        )

    @staticmethod
    def _rank_dated(
        session: Session, dated: list[tuple[int, datetime]], vector: np.ndarray | None, wanted: int
    ) -> list[int]:
        """The dated memories best first: by similarity to the query's topic, else newest first."""
        if vector is None:
            return [key for key, _ in dated[:wanted]]
        return [key for key, _ in index_search.rescore(session, vector, [key for key, _ in dated], wanted)]

    async def arecall(self, query: str, persona_id: str, **options: object) -> list[RecalledMemory]:
        """recall() on a worker thread: embedding the query must not block the event loop."""
        return await asyncio.to_thread(self.recall, query, persona_id, **options)  # type: ignore[arg-type]

    def _query_vector(self, query: str, wait_for_model: bool) -> np.ndarray | None:
        if not (self.embedder.loaded or wait_for_model):
            if self.embedder.load_error is not None:  # known missing: say why, not "still loading"
                log.info("recall: keyword search only: %s", self.embedder.load_error.message)
            else:
                self.embedder.start_warm_up()
                log.info("recall: embedding model still loading, keyword search only")
            return None
        try:
            return self.embedder.embed_query(query)
        except EmbeddingModelUnavailable as error:
            log.warning("recall: keyword search only: %s", error.message)
            return None

    # -- results -------------------------------------------------------------------------------
    @staticmethod
    def _recalled(session: Session, hits: Sequence[Hit], ranking: Ranking, with_sources: bool) -> list[RecalledMemory]:
        memories = repository.memories_by_key(session, [hit.key for hit in hits])
        results = []
        for hit in hits:
            memory = memories.get(hit.key)
            if memory is None:
                continue
            candidate = ranking.candidates.get(hit.key)
            lines = sorted(hit.lines, key=lambda line: line.number)
            whole = hit.best.whole or len(lines) == len(line_vectors.text_lines(memory.text))
            results.append(
                RecalledMemory(
                    memory=MemoryOut.model_validate(memory),
                    score=hit.best.score,
                    similarity=candidate.similarity if candidate else None,
                    vector_rank=candidate.vector_rank if candidate else None,
                    keyword_rank=candidate.keyword_rank if candidate else None,
                    time_rank=candidate.time_rank if candidate else None,
                    lines=[] if whole else [line.number for line in lines],
                    excerpt="" if whole else _excerpt(ranking.rows[hit.key], lines),
                    source_ids=_source_ids(memory, lines),
                )
            )
        if with_sources:
            _attach_sources(session, results)
        return results


def _excerpt(row: Row, lines: Sequence[ScoredLine]) -> str:
    return line_vectors.excerpt(row.text, [line.number for line in lines])


def _source_ids(memory: Memory, lines: Sequence[ScoredLine]) -> list[str]:
    """The messages the chosen lines are; a memory without line messages: its sources (a card: the one
    it was narrowed to)."""
    if all(line.message_id is not None for line in lines):
        return [line.message_id for line in lines if line.message_id is not None]
    return list(MemoryOut.model_validate(memory).source_message_ids)


def _attach_sources(session: Session, recalled: Sequence[RecalledMemory]) -> None:
    messages = repository.messages_by_id(session, (i for r in recalled for i in r.source_ids))
    for r in recalled:
        r.sources = [
            SourceMessage.model_validate(messages[i], from_attributes=True) for i in r.source_ids if i in messages
        ]


def _rows(session: Session, keys: list[int]) -> dict[int, Row]:
    if not keys:
        return {}
    result = session.connection().execute(
        text(
            "SELECT key, kind, scope, text, source_message_ids, importance, updated_at, pinned FROM memories "
            "WHERE key IN (SELECT value FROM json_each(:keys))"
        ),
        {"keys": json.dumps(keys)},
    )
    return {
        int(key): Row(kind, body, ids, float(importance), _datetime(updated), bool(pinned), scope=scope)
        for key, kind, scope, body, ids, importance, updated, pinned in result
    }


def _datetime(value: object) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def _row(memory: Memory) -> Row:
    return Row(memory.kind, memory.text, memory.source_message_ids, memory.importance, memory.updated_at,
               memory.pinned, scope=memory.scope)  # fmt: skip
