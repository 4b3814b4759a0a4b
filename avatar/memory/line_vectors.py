"""Data access for memory lines (migration 0009): the vector of each line of a multi-line memory. No commits.

A chunk's lines are its messages, one per line ("Name: words"), so a line's row also names the message
it is; recall scores each line against the query and returns the messages that match. Vectors are
stored as int8 (the unit vector scaled so its largest component is 127) and come back unit length.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import text
from sqlmodel import Session

from avatar.memory.models import EMBEDDING_DIM


@dataclass(frozen=True)
class StoredLines:
    """The lines of one memory: their numbers, the message each is (or None), and their unit vectors (rows)."""

    numbers: list[int]
    message_ids: list[str | None]
    vectors: np.ndarray  # (lines, EMBEDDING_DIM) float32, unit rows


def text_lines(body: str) -> list[str]:
    """A memory text's lines as recall numbers them: the non-empty ones, stripped (see split_for_embedding)."""
    return [line.strip() for line in body.splitlines() if line.strip()]


GAP = "…"  # between lines of one memory that are not next to each other


def excerpt(body: str, numbers: Sequence[int]) -> str:
    """The lines `numbers` of a memory's text, in order, with GAP where lines in between are left out."""
    lines = text_lines(body)
    parts: list[str] = []
    previous: int | None = None
    for number in sorted(set(numbers)):
        if number >= len(lines):
            continue
        if previous is not None and number != previous + 1:
            parts.append(GAP)
        parts.append(lines[number])
        previous = number
    return "\n".join(parts)


def note_ref(memory_id: str, numbers: Sequence[int]) -> str:
    """How a prompt note records a recalled memory: its id, and the lines shown when not all of it ("id#2,3")."""
    return f"{memory_id}#{','.join(str(n) for n in numbers)}" if numbers else memory_id


def parse_note_ref(ref: str) -> tuple[str, list[int]]:
    memory_id, _, numbers = ref.partition("#")
    return memory_id, [int(n) for n in numbers.split(",") if n.isdigit()]


def quantize(vectors: np.ndarray) -> list[bytes]:
    vectors = np.asarray(vectors, dtype=np.float32).reshape(-1, EMBEDDING_DIM)
    peak = np.maximum(np.abs(vectors).max(axis=1, keepdims=True), 1e-12)
    return [row.tobytes() for row in np.round(vectors * (127.0 / peak)).astype(np.int8)]


def dequantize(blobs: Sequence[bytes]) -> np.ndarray:
    if not blobs:
        return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
    matrix = np.frombuffer(b"".join(blobs), dtype=np.int8).reshape(len(blobs), EMBEDDING_DIM).astype(np.float32)
    return matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)


def insert_lines(session: Session, key: int, vectors: np.ndarray, message_ids: Sequence[str] | None = None) -> None:
    """Store the line vectors of memory `key` (nothing for fewer than two lines). `message_ids`: the message
    each line is, kept only when there is exactly one per line."""
    if len(vectors) < 2:
        return
    ids: Sequence[str | None] = message_ids if message_ids is not None and len(message_ids) == len(vectors) else []
    rows = [
        {"key": key, "line": number, "message_id": ids[number] if ids else None, "vector": blob}
        for number, blob in enumerate(quantize(vectors))
    ]
    session.connection().execute(
        text("INSERT INTO memory_lines(key, line, message_id, vector) VALUES (:key, :line, :message_id, :vector)"),
        rows,
    )


def delete_lines(session: Session, key: int) -> None:
    session.connection().execute(text("DELETE FROM memory_lines WHERE key = :key"), {"key": key})


def lines_of(session: Session, keys: Sequence[int]) -> dict[int, StoredLines]:
    """The stored lines of `keys` (memories without lines are left out), by key."""
    if not keys:
        return {}
    rows = session.connection().execute(
        text(
            "SELECT key, line, message_id, vector FROM memory_lines "
            "WHERE key IN (SELECT value FROM json_each(:keys)) ORDER BY key, line"
        ),
        {"keys": json.dumps([int(key) for key in keys])},
    )
    grouped: dict[int, tuple[list[int], list[str | None], list[bytes]]] = {}
    for key, line, message_id, blob in rows:
        numbers, ids, blobs = grouped.setdefault(int(key), ([], [], []))
        numbers.append(int(line))
        ids.append(message_id)
        blobs.append(blob)
    return {key: StoredLines(numbers, ids, dequantize(blobs)) for key, (numbers, ids, blobs) in grouped.items()}


def lines_of_messages(session: Session, message_ids: Sequence[str]) -> dict[str, np.ndarray]:
    """A unit vector for each of `message_ids` that is a stored line (the first found), by message id."""
    if not message_ids:
        return {}
    rows = session.connection().execute(
        text(
            "SELECT message_id, vector FROM memory_lines "
            "WHERE message_id IN (SELECT value FROM json_each(:ids)) ORDER BY key"
        ),
        {"ids": json.dumps(list(dict.fromkeys(message_ids)))},
    )
    found: dict[str, bytes] = {}
    for message_id, blob in rows:
        found.setdefault(message_id, blob)
    vectors = dequantize(list(found.values()))
    return dict(zip(found, vectors))


def memories_without_lines(session: Session, after_key: int, limit: int) -> list[tuple[int, str, str]]:
    """(key, text, source_message_ids) of multi-line memories that have no stored lines yet, by key."""
    rows = session.connection().execute(
        text(
            "SELECT m.key, m.text, m.source_message_ids FROM memories m WHERE m.key > :after "
            "AND instr(trim(m.text, char(10, 13, 32)), char(10)) > 0 "
            "AND NOT EXISTS (SELECT 1 FROM memory_lines l WHERE l.key = m.key) ORDER BY m.key LIMIT :limit"
        ),
        {"after": after_key, "limit": limit},
    )
    return [(int(key), body, ids) for key, body, ids in rows]
