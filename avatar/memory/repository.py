"""Data access for memories: the memories table, its vectors and its FTS5 index. No commits, no errors.

The FTS5 index and vector deletion follow the memories rows by themselves (triggers, migrations
0003, 0005 and 0006); vectors are written here because they come from Python. Each memory's vector
is stored twice: exact float32 in `memory_embeddings` (migration 0005), and as 384 sign bits in
`memory_bits`, a plain table clustered by (owner, kind, key) (migration 0006; owner is PROFILE_OWNER
for user-global memories, else the persona id). knn() scans the visible owners' bits for the
Hamming-nearest candidates and re-scores them exactly.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

import numpy as np
from sqlalchemy import ColumnElement, Connection, Integer, Row, column, func, text, true
from sqlalchemy import delete as sa_delete
from sqlalchemy import update as sa_update
from sqlmodel import Session, col, or_, select

from avatar.conversations.models import Conversation, Message
from avatar.memory import line_vectors
from avatar.memory.models import EMBEDDING_DIM, PROFILE_OWNER, Memory, MemoryMeta, MemoryProgress, world_owner

# Words too common to help a keyword search (English function words and chat filler); the vector
# search covers meaning anyway.
STOPWORDS = frozenset({
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "can", "could", "did", "do", "does", "for", "from",
    "had", "has", "have", "he", "her", "hers", "him", "his", "how", "i", "if", "in", "into", "is", "it", "its",
    "just", "me", "my", "of", "on", "or", "our", "she", "so", "than", "that", "the", "their", "them", "then",
    "there", "these", "they", "this", "to", "too", "us", "was", "we", "were", "what", "when", "where", "which",
    "who", "why", "will", "with", "would", "you", "your", "yours", "am", "been", "being", "im", "ive", "dont",
    "don", "didn", "doesn", "isn", "wasn", "ve", "ll", "re", "yeah", "yes", "no", "not", "okay", "ok", "oh",
    "get", "got", "like", "know", "think", "want", "one", "also", "much", "well", "really", "right", "lot",
    "thing", "things", "going", "go", "now", "about", "some", "all", "any", "more", "very", "remember", "tell",
})  # fmt: skip
MAX_QUERY_TERMS = 16
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


def owner_of(scope: str, persona_id: str | None, world_id: str | None = None) -> str:
    if scope == "world":
        return world_owner(str(world_id))
    return PROFILE_OWNER if scope == "profile" else str(persona_id)


def visible_owners(persona_id: str, world_id: str | None = None) -> list[str]:
    """The owners whose memories `persona_id` recalls: the user's, its own, and its scene's world's."""
    return [PROFILE_OWNER, persona_id, *([world_owner(world_id)] if world_id else [])]


def visible_to_clause(persona_id: str, world_id: str | None = None) -> ColumnElement[bool]:
    """The memories `persona_id` may recall (in a scene set in `world_id`, the world's lore too)."""
    clauses = [Memory.scope == "profile", Memory.persona_id == persona_id]
    if world_id:
        clauses.append(Memory.world_id == world_id)
    return or_(*clauses)


def vector_blob(vector: np.ndarray) -> bytes:
    blob = np.ascontiguousarray(vector, dtype=np.float32).tobytes()
    if len(blob) != EMBEDDING_DIM * 4:
        raise ValueError(f"expected a {EMBEDDING_DIM}-d vector")
    return blob


def query_terms(query: str, *, keep_stopwords: bool = False) -> list[str]:
    """The words of `query` worth searching for, lowercased, first occurrence first."""
    words = re.findall(r"\w+", query.lower())
    if not keep_stopwords:
        words = [w for w in words if len(w) > 1 and w not in STOPWORDS]
    return list(dict.fromkeys(words))[:MAX_QUERY_TERMS]


def terms_expression(terms: Sequence[str], *, prefix: bool = False, any_term: bool = True) -> str | None:
    """An FTS5 MATCH expression: each term quoted, so FTS5 syntax in user text stays inert.

    any_term=True ORs them (recall: BM25 ranks the best overlap first); False ANDs them (the Memory
    tab's search box). prefix=True lets the last term match as a prefix, for search-as-you-type.
    """
    if not terms:
        return None
    quoted = [f'"{t}"' for t in terms]
    if prefix:
        quoted[-1] += "*"
    return (" OR " if any_term else " AND ").join(quoted)


def match_expression(query: str, *, prefix: bool = False, any_term: bool = True) -> str | None:
    terms = query_terms(query)
    if not terms and not any_term:
        terms = query_terms(query, keep_stopwords=True)  # a search box query of only "my": still search it
    return terms_expression(terms, prefix=prefix, any_term=any_term)


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


# -- rows -----------------------------------------------------------------------------------------
def insert_memory(session: Session, memory: Memory, vector: np.ndarray, lines: np.ndarray | None = None) -> Memory:
    """Insert `memory` with the next free key, its vector under that key, and its line vectors when it has
    several lines (line_vectors.py)."""
    # Taking max(key)+1 inside the INSERT makes it atomic: two writers cannot pick the same key.
    memory.key = select(func.coalesce(func.max(Memory.key), 0) + 1).scalar_subquery()  # type: ignore[assignment]
    session.add(memory)
    session.flush()
    session.refresh(memory)
    insert_vector(session, memory.key, vector, owner_of(memory.scope, memory.persona_id, memory.world_id), memory.kind)
    if lines is not None:
        line_vectors.insert_lines(session, memory.key, lines, json.loads(memory.source_message_ids))
    return memory


def insert_vector(session: Session, key: int, vector: np.ndarray, owner: str, kind: str) -> None:
    insert_vectors(session.connection(), [{"key": key, "embedding": vector_blob(vector), "owner": owner, "kind": kind}])


def insert_vectors(connection: Connection, rows: Sequence[Mapping[str, object]]) -> None:
    """Store vectors in both tables: rows of key, embedding (float32 bytes, see vector_blob), owner, kind."""
    connection.execute(text("INSERT INTO memory_embeddings(key, embedding) VALUES (:key, :embedding)"), rows)
    connection.execute(
        text(
            "INSERT INTO memory_bits(owner, kind, key, bits) VALUES (:owner, :kind, :key, vec_quantize_binary(:embedding))"
        ),
        rows,
    )


def replace_vector(session: Session, memory: Memory, vector: np.ndarray, lines: np.ndarray | None = None) -> None:
    """New vectors for `memory` (its text changed, or the model did); its old line vectors go."""
    delete_vectors(session, memory.key)
    line_vectors.delete_lines(session, memory.key)
    insert_vector(session, memory.key, vector, owner_of(memory.scope, memory.persona_id, memory.world_id), memory.kind)
    if lines is not None:
        line_vectors.insert_lines(session, memory.key, lines, json.loads(memory.source_message_ids))


def delete_vectors(session: Session, key: int) -> None:
    connection = session.connection()
    connection.execute(text("DELETE FROM memory_embeddings WHERE key = :key"), {"key": key})
    connection.execute(text("DELETE FROM memory_bits WHERE key = :key"), {"key": key})


def get_memory(session: Session, memory_id: str) -> Memory | None:
    return session.get(Memory, memory_id)


def memories_by_id(session: Session, memory_ids: Iterable[str]) -> dict[str, Memory]:
    wanted = list(dict.fromkeys(memory_ids))
    found: dict[str, Memory] = {}
    for start in range(0, len(wanted), 500):  # SQLite's bound-parameter limit
        query = select(Memory).where(col(Memory.id).in_(wanted[start : start + 500]))
        found.update({m.id: m for m in session.exec(query)})
    return found


def memories_by_key(session: Session, keys: Iterable[int]) -> dict[int, Memory]:
    keys = list(keys)
    if not keys:
        return {}
    return {m.key: m for m in session.exec(select(Memory).where(col(Memory.key).in_(keys)))}


def list_memories(
    session: Session,
    *,
    persona_id: str | None = None,
    visible_to: str | None = None,
    world_id: str | None = None,
    kind: str | None = None,
    scope: str | None = None,
    pinned: bool | None = None,
    search: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[Memory]:
    """Newest first (UUIDv7 ids are time-ordered). visible_to: profile memories plus that persona's."""
    query = select(Memory)
    if persona_id is not None:
        query = query.where(Memory.persona_id == persona_id)
    if visible_to is not None:
        query = query.where(or_(Memory.scope == "profile", Memory.persona_id == visible_to))
    if world_id is not None:
        query = query.where(Memory.world_id == world_id)
    if kind is not None:
        query = query.where(Memory.kind == kind)
    if scope is not None:
        query = query.where(Memory.scope == scope)
    if pinned is not None:
        query = query.where(Memory.pinned == pinned)
    if search:
        expression = match_expression(search, prefix=True, any_term=False)
        if expression is None:
            return []
        matching = (
            text("SELECT rowid FROM memories_fts WHERE memories_fts MATCH :q")
            .bindparams(q=f"text : ({expression})")
            .columns(column("rowid", Integer))
        )
        query = query.where(col(Memory.key).in_(matching))
    query = query.order_by(col(Memory.id).desc()).offset(offset).limit(limit)
    return list(session.exec(query))


def delete_memory(session: Session, memory: Memory) -> None:
    session.delete(memory)  # the triggers remove its FTS5 entry and its vector


def delete_memories(
    session: Session,
    *,
    persona_id: str | None = None,
    scope: str | None = None,
    conversation_id: str | None = None,
    world_id: str | None = None,
) -> int:
    statement = sa_delete(Memory)
    if world_id is not None:
        statement = statement.where(col(Memory.world_id) == world_id)
    if persona_id is not None:
        statement = statement.where(col(Memory.persona_id) == persona_id)
    if scope is not None:
        statement = statement.where(col(Memory.scope) == scope)
    if conversation_id is not None:
        statement = statement.where(col(Memory.conversation_id) == conversation_id)
    return session.connection().execute(statement).rowcount


def count_memories(session: Session, *, persona_id: str | None = None, scope: str | None = None) -> int:
    query = select(func.count()).select_from(Memory)
    if persona_id is not None:
        query = query.where(Memory.persona_id == persona_id)
    if scope is not None:
        query = query.where(Memory.scope == scope)
    return int(session.exec(query).one())


def touch_recalled(session: Session, memory_ids: Sequence[str], when: datetime) -> None:
    if memory_ids:
        session.connection().execute(
            sa_update(Memory)
            .where(col(Memory.id).in_(list(memory_ids)))
            .values(last_recalled_at=when, recall_count=Memory.recall_count + 1)
        )


def pinned_memories(session: Session, persona_id: str, limit: int, world_id: str | None = None) -> list[Memory]:
    query = (
        select(Memory)
        .where(col(Memory.pinned) == true())  # a literal 1, so SQLite can use the partial index
        .where(visible_to_clause(persona_id, world_id))
        .order_by(col(Memory.importance).desc(), col(Memory.updated_at).desc())
        .limit(limit)
    )
    return list(session.exec(query))


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


# -- conversation side ----------------------------------------------------------------------------
def messages_after(session: Session, conversation_id: str, after_id: str | None) -> list[Message]:
    query = select(Message).where(Message.conversation_id == conversation_id)
    if after_id is not None:
        query = query.where(col(Message.id) > after_id)
    return list(session.exec(query.order_by(col(Message.id))))


def conversations_with_unwritten_messages(session: Session, at_least: int) -> list[str]:
    """Conversations with at least `at_least` messages after their memory watermark (a stop came before
    their write), memory on or off (off: the watermark still has to move past them)."""
    watermark = col(MemoryProgress.last_message_id)
    query = (
        select(Message.conversation_id)
        .outerjoin(MemoryProgress, col(MemoryProgress.conversation_id) == col(Message.conversation_id))
        .where(or_(watermark.is_(None), col(Message.id) > watermark))
        .group_by(col(Message.conversation_id))
        .having(func.count() >= at_least)
    )
    return list(session.exec(query))


def messages_by_id(session: Session, message_ids: Iterable[str]) -> dict[str, Message]:
    ids = list(dict.fromkeys(message_ids))
    if not ids:
        return {}
    return {m.id: m for m in session.exec(select(Message).where(col(Message.id).in_(ids)))}


def conversation_memory_enabled(session: Session, conversation_id: str) -> bool:
    """The conversation's memory switch (True for a conversation that no longer exists: nothing to read anyway)."""
    conversation = session.get(Conversation, conversation_id)
    return conversation is None or bool(conversation.memory_enabled)


def get_progress(session: Session, conversation_id: str) -> MemoryProgress | None:
    return session.get(MemoryProgress, conversation_id)


def set_progress(session: Session, conversation_id: str, last_message_id: str, when: datetime) -> None:
    progress = session.get(MemoryProgress, conversation_id)
    if progress is None:
        progress = MemoryProgress(conversation_id=conversation_id, last_message_id=last_message_id, updated_at=when)
    else:
        progress.last_message_id = last_message_id
        progress.updated_at = when
    session.add(progress)


def get_meta(session: Session, name: str) -> str | None:
    row = session.get(MemoryMeta, name)
    return row.value if row else None


def set_meta(session: Session, name: str, value: str) -> None:
    row = session.get(MemoryMeta, name) or MemoryMeta(name=name, value=value)
    row.value = value
    session.add(row)


def delete_meta(session: Session, name: str) -> None:
    row = session.get(MemoryMeta, name)
    if row is not None:
        session.delete(row)


def all_keys_and_texts(session: Session, after_key: int, limit: int) -> list[Row[tuple[int, str]]]:
    query = select(Memory.key, Memory.text).where(Memory.key > after_key).order_by(col(Memory.key)).limit(limit)
    return list(session.exec(query))  # type: ignore[arg-type]


def encode_ids(ids: Iterable[str]) -> str:
    return json.dumps(list(dict.fromkeys(ids)))


def decode_ids(encoded: str | None) -> list[str]:
    return list(json.loads(encoded)) if encoded else []


def pending_card_chunks(session: Session, conversation_id: str) -> list[Memory]:
    query = (
        select(Memory)
        .where(Memory.cards_pending == True, Memory.conversation_id == conversation_id)
        .order_by(col(Memory.id))
    )
    return list(session.exec(query))


def mark_cards_done(session: Session, chunk_id: str) -> None:
    chunk = session.get(Memory, chunk_id)
    if chunk is not None:  # deleted meanwhile: nothing to mark
        chunk.cards_pending = False
        session.add(chunk)


def conversations_with_pending_cards(session: Session) -> list[str]:
    query = select(Memory.conversation_id).where(Memory.cards_pending == True).distinct()
    return [conversation_id for conversation_id in session.exec(query) if conversation_id]
