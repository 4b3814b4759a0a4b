"""Hybrid ranking for recall: reciprocal rank fusion of the vector and keyword lists, then gentle boosts.

RRF (Cormack et al., 2009) adds 1/(k + rank) over the lists a memory appears in, so neither the
cosine scale nor the BM25 scale has to be calibrated against the other. The boosts are small
multipliers: importance in [0.85, 1.15], recency up to +15% (halving every 30 days of not being
touched), so they reorder near-ties and never lift an unrelated memory over a relevant one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

RRF_K = 60
IMPORTANCE_WEIGHT = 0.3
RECENCY_WEIGHT = 0.15
RECENCY_HALF_LIFE_DAYS = 30.0


@dataclass
class Candidate:
    key: int
    rrf: float = 0.0
    vector_rank: int | None = None
    keyword_rank: int | None = None
    time_rank: int | None = None  # among the memories dated inside a time the query names ("last week")
    similarity: float | None = None  # cosine similarity = 1 - cosine distance


def fuse(
    vector_hits: Sequence[tuple[int, float]], keyword_hits: Sequence[tuple[int, float]], rrf_k: int = RRF_K
) -> dict[int, Candidate]:
    """Candidates by key from (key, cosine distance) and (key, bm25) lists, each already best first."""
    candidates: dict[int, Candidate] = {}
    for rank, (key, distance) in enumerate(vector_hits, start=1):
        candidate = candidates.setdefault(key, Candidate(key))
        candidate.vector_rank, candidate.similarity = rank, 1.0 - distance
        candidate.rrf += 1.0 / (rrf_k + rank)
    for rank, (key, _bm25) in enumerate(keyword_hits, start=1):
        candidate = candidates.setdefault(key, Candidate(key))
        candidate.keyword_rank = rank
        candidate.rrf += 1.0 / (rrf_k + rank)
    return candidates


def add_ranked(candidates: dict[int, Candidate], keys: Sequence[int], field: str, rrf_k: int = RRF_K) -> None:
    """Fuse one more ranked list of keys (best first) into `candidates`, recording each rank in `field`."""
    for rank, key in enumerate(keys, start=1):
        candidate = candidates.setdefault(key, Candidate(key))
        setattr(candidate, field, rank)
        candidate.rrf += 1.0 / (rrf_k + rank)


def as_utc(moment: datetime) -> datetime:
    # SQLite gives back naive datetimes; the app only ever stores UTC.
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


def boost(
    score: float,
    *,
    importance: float,
    updated_at: datetime,
    now: datetime,
    half_life_days: float = RECENCY_HALF_LIFE_DAYS,
) -> float:
    importance = min(1.0, max(0.0, importance))
    age_days = max(0.0, (as_utc(now) - as_utc(updated_at)).total_seconds() / 86400.0)
    recency = math.pow(0.5, age_days / half_life_days)
    return score * (1.0 - IMPORTANCE_WEIGHT / 2 + IMPORTANCE_WEIGHT * importance) * (1.0 + RECENCY_WEIGHT * recency)
