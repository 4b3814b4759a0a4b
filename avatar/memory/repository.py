"""Data access for memories: the memories table, its vectors and its FTS5 index. No commits, no errors.

The FTS5 index and vector deletion follow the memories rows by themselves (triggers, migrations
0003, 0005 and 0006); vectors are written here because they come from Python. Each memory's vector
is stored twice: exact float32 in `memory_embeddings` (migration 0005), and as 384 sign bits in
`memory_bits`, a plain table clustered by (owner, kind, key) (migration 0006; owner is PROFILE_OWNER
for user-global memories, else the persona id). The searches over them are in index_search.py (knn() scans the
visible owners' bits for the Hamming-nearest candidates and re-scores them exactly) and fts_terms.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

import numpy as np
from sqlalchemy import ColumnElement, Connection, Integer, Row, column, func, text, true
from sqlalchemy import delete as sa_delete
from sqlalchemy import update as sa_update
from sqlmodel import Session, col, or_, select

from avatar.conversations.models import Conversation, Message
from avatar.memory import line_vectors
from avatar.memory.fts_terms import match_expression
from avatar.memory.models import EMBEDDING_DIM, PROFILE_OWNER, Memory, MemoryMeta, MemoryProgress, world_owner


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
