"""The memory store's two searches, as SQL: vectors (knn: the Hamming-nearest sign bits, re-scored exactly) and
keywords (FTS5, BM25), each limited to the memories a persona may see. No commits, no errors.

repository.py's docstring says how each memory's vector is stored twice (floats and sign bits) and why."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import datetime

import numpy as np
from sqlalchemy import func, text
from sqlmodel import Session, col, select

from avatar.memory.fts_terms import terms_expression
from avatar.memory.models import PROFILE_OWNER, Memory
from avatar.memory.repository import vector_blob, visible_owners, visible_to_clause

# Recall leaves out terms found in more than this share of memories: BM25 gives them almost no
# weight, and ranking every memory that contains them is what makes a keyword search slow.
COMMON_TERM_SHARE = 0.2
COMMON_TERM_MIN_MEMORIES = 2000  # below this, every search is fast anyway
# knn() re-scores the Hamming-nearest memories exactly: sqrt(memories in the store) of them, between
# COARSE_MIN and COARSE_MAX, and at least COARSE_FACTOR per neighbour wanted. Sign bits rank the exact
# neighbours loosely among near-equal ones, more so the more memories there are; on the bench's store
# (one persona sees 28% of it) these keep >= 0.98 of the exact top 8: 256 at 100k (0.989), ~550 at
# 300k (0.99), 1000 at 1M (0.978; 128 kept 0.56). bench_memory.py prints it. The Hamming scan costs
# about the same for any count (SQLite keeps only the best N while it reads each visible row once),
# but each candidate is a random read of its float vector: ~1 us cached, ~70 us from disk, so a
# cold 1M store pays for every extra one.
COARSE_MIN = 256
COARSE_MAX = 2048
COARSE_FACTOR = 8
# keyword_search() ranks a term found in more visible memories than this only among the newest this
# many matches: BM25 over tens of thousands of matches of a common word costs ~1 us each and tells
# little (the vector search covers meaning); rarer terms are always ranked over all their matches.
KEYWORD_WINDOW = 2000


def memory_count_estimate(session: Session) -> int:
    """How many memories there are, about: max(key) is an index lookup and never below the true count."""
    return int(session.connection().execute(text("SELECT coalesce(max(key), 0) FROM memories")).scalar() or 0)


def coarse_candidates(session: Session, k: int) -> int:
    """How many Hamming-nearest memories knn() re-scores to find k (see COARSE_MIN)."""
    share = min(COARSE_MAX, max(COARSE_MIN, math.isqrt(memory_count_estimate(session))))
    return max(COARSE_FACTOR * k, share)


def common_terms(session: Session, terms: Sequence[str], share: float = COMMON_TERM_SHARE) -> set[str]:
    """The terms found in more than `share` of all memories (none while the store is small).

    fts5vocab holds stemmed terms, so a word the stemmer changes ("walking") is never found here
    and simply stays in the query.
    """
    if not terms:
        return set()
    connection = session.connection()
    total = memory_count_estimate(session)
    if total < COMMON_TERM_MIN_MEMORIES:
        return set()
    params = {f"t{i}": term for i, term in enumerate(terms)}
    placeholders = ", ".join(f":{name}" for name in params)
    rows = connection.execute(text(f"SELECT term, doc FROM memories_fts_vocab WHERE term IN ({placeholders})"), params)
    return {row[0] for row in rows if row[1] > share * total}


# -- search ---------------------------------------------------------------------------------------
def knn(
    session: Session,
    vector: np.ndarray,
    owners: Sequence[str] | None,
    k: int,
    kind: str | None = None,
    *,
    candidates: int | None = None,
) -> list[tuple[int, float]]:
    """The k nearest (key, cosine distance) among `owners` (None: everyone's) and `kind`, nearest first.

    The `candidates` (default: coarse_candidates()) Hamming-nearest memories of those owners in
    memory_bits are re-scored by exact cosine against their float vectors, in one statement (one
    round trip, k rows back).
    """
    coarse, params = _coarse_query(vector, owners, candidates or coarse_candidates(session, k), kind)
    rows = session.connection().execute(
        text(
            "SELECT key, vec_distance_cosine(embedding, :embedding) AS distance FROM memory_embeddings "
            f"WHERE key IN ({coarse}) ORDER BY distance LIMIT :limit"
        ),
        {**params, "limit": k},
    )
    return [(int(row[0]), float(row[1])) for row in rows]


def coarse_knn(
    session: Session, vector: np.ndarray, owners: Sequence[str] | None, k: int, kind: str | None = None
) -> list[int]:
    """Keys of the k Hamming-nearest memories among `owners` (None: everyone's) and `kind`."""
    sql, params = _coarse_query(vector, owners, k, kind)
    return [int(row[0]) for row in session.connection().execute(text(sql), params)]


def _coarse_query(
    vector: np.ndarray, owners: Sequence[str] | None, k: int, kind: str | None
) -> tuple[str, dict[str, object]]:
    owner_params = {f"o{i}": owner for i, owner in enumerate(owners or ())}
    conditions = []
    if owners is not None:  # a range of the primary key per owner: only visible rows are read
        conditions.append(f"owner IN ({', '.join(f':{name}' for name in owner_params) or 'NULL'})")
    params: dict[str, object] = {"embedding": vector_blob(vector), "k": k, **owner_params}
    if kind is not None:
        conditions.append("kind = :kind")
        params["kind"] = kind
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    # vec_bit() gives the stored blob the subtype vec_distance_hamming() asks for.
    sql = (
        f"SELECT key FROM memory_bits{where} "
        "ORDER BY vec_distance_hamming(vec_bit(bits), vec_quantize_binary(:embedding)) LIMIT :k"
    )
    return sql, params


def rescore(session: Session, vector: np.ndarray, keys: Sequence[int], k: int) -> list[tuple[int, float]]:
    """The k of `keys` nearest to `vector` by exact cosine distance, as (key, distance), nearest first."""
    if not keys:
        return []
    rows = session.connection().execute(
        text(
            "SELECT key, vec_distance_cosine(embedding, :embedding) AS distance FROM memory_embeddings "
            "WHERE key IN (SELECT value FROM json_each(:keys)) ORDER BY distance LIMIT :limit"
        ),
        {"embedding": vector_blob(vector), "keys": json.dumps([int(key) for key in keys]), "limit": k},
    )
    return [(int(row[0]), float(row[1])) for row in rows]


def owner_token(owner: str) -> str:
    """The FTS5 token of an owner in memories_fts.owner (migration 0005 makes the same in SQL)."""
    return "oprofile0" if owner == PROFILE_OWNER else f"o{owner.encode().hex()}0"


def keyword_search(
    session: Session,
    terms: Sequence[str],
    persona_id: str | None,
    limit: int,
    *,
    window: int = KEYWORD_WINDOW,
    newest_only: bool = False,
    world_id: str | None = None,
) -> list[tuple[int, float]]:
    """(key, BM25) for memories visible to `persona_id` (None: all) holding any of `terms`, best first.

    BM25 costs a lookup per matching memory, so it is computed for at most ~`window` of them: terms
    found in at most `window` visible memories are ranked over all their matches; the rest only over
    the newest `window` memories matching any term. Owners are filtered inside FTS5 (the owner column).
    newest_only: every term is ranked over the newest `window` matches only (one statement, no counting).
    """
    if not terms:
        return []
    visible = ""
    if persona_id is not None:
        tokens = " OR ".join(owner_token(owner) for owner in visible_owners(persona_id, world_id))
        visible = f" AND owner : ({tokens})"
    connection = session.connection()

    def matches(selected: Sequence[str]) -> str:
        return f"text : ({terms_expression(selected)}){visible}"

    count = text("SELECT count(*) FROM (SELECT 1 FROM memories_fts WHERE memories_fts MATCH :q LIMIT :n)")
    rare = (
        []
        if newest_only
        else [
            t for t in terms if connection.execute(count, {"q": matches([t]), "n": window + 1}).scalar_one() <= window
        ]
    )
    ranked = "SELECT rowid, bm25(memories_fts, 1.0, 0.0) AS score FROM memories_fts WHERE memories_fts MATCH :q"
    hits: dict[int, float] = {}
    queries = []
    if rare:
        queries.append((f"{ranked} ORDER BY score LIMIT :limit", matches(rare)))
    if len(rare) < len(terms):
        queries.append(
            (
                f"SELECT rowid, score FROM ({ranked} ORDER BY rowid DESC LIMIT :window) ORDER BY score LIMIT :limit",
                matches(terms),
            )
        )
    for sql, expression in queries:
        for key, score in connection.execute(text(sql), {"q": expression, "limit": limit, "window": window}):
            hits[int(key)] = min(float(score), hits.get(int(key), math.inf))
    return sorted(hits.items(), key=lambda hit: hit[1])[:limit]


def keys_between(
    session: Session, start: datetime, end: datetime, persona_id: str | None, limit: int, world_id: str | None = None
) -> list[tuple[int, datetime]]:
    """(key, created_at) of memories visible to `persona_id` (None: all) dated in [start, end), newest first."""
    query = select(Memory.key, Memory.created_at).where(Memory.created_at >= start).where(Memory.created_at < end)
    if persona_id is not None:
        query = query.where(visible_to_clause(persona_id, world_id))
    query = query.order_by(col(Memory.created_at).desc()).limit(limit)
    return [(int(key), created) for key, created in session.exec(query)]


def newest_memory_time(session: Session, persona_id: str | None, world_id: str | None = None) -> datetime | None:
    query = select(func.max(Memory.created_at))
    if persona_id is not None:
        query = query.where(visible_to_clause(persona_id, world_id))
    return session.exec(query).one()


def vectors_of(session: Session, keys: Sequence[int]) -> dict[int, np.ndarray]:
    """The float vectors of `keys` (those that exist), by key."""
    if not keys:
        return {}
    rows = session.connection().execute(
        text("SELECT key, embedding FROM memory_embeddings WHERE key IN (SELECT value FROM json_each(:keys))"),
        {"keys": json.dumps([int(key) for key in keys])},
    )
    return {int(row[0]): np.frombuffer(row[1], dtype=np.float32) for row in rows}


def vector_of(session: Session, key: int) -> np.ndarray | None:
    return vectors_of(session, [key]).get(key)


def index_counts(session: Session, key: int) -> tuple[int, int, int]:
    """(float vectors, bit vectors, FTS5 rows) stored under `key`: all 0 once a memory is really gone."""
    connection = session.connection()
    floats = connection.execute(text("SELECT count(*) FROM memory_embeddings WHERE key = :k"), {"k": key}).scalar()
    bits = connection.execute(text("SELECT count(*) FROM memory_bits WHERE key = :k"), {"k": key}).scalar()
    # The docsize shadow table has one row per indexed document, whatever the external content says.
    fts = connection.execute(text("SELECT count(*) FROM memories_fts_docsize WHERE id = :k"), {"k": key}).scalar()
    return int(floats or 0), int(bits or 0), int(fts or 0)
