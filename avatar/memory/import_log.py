"""Data access for chat imports (migration 0010): which transcript became which conversation, finished or not."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.engine import Connection

from avatar.core.ids import utcnow


def fingerprint(messages: Iterable[tuple[str, str, datetime]]) -> str:
    """A transcript's identity: its messages (role, exact text, time), whatever file or format holds them."""
    digest = hashlib.sha256()
    for role, content, said_at in messages:
        digest.update(json.dumps([role, content, said_at.isoformat()], ensure_ascii=False).encode())
        digest.update(b"\n")
    return digest.hexdigest()


@dataclass(frozen=True)
class ChatImport:
    persona_id: str
    conversation_id: str
    source: str
    user_name: str
    character_name: str
    complete: bool


def record(connection: Connection, print_: str, entry: ChatImport, messages: int) -> None:
    connection.execute(
        text(
            "INSERT INTO chat_imports (persona_id, fingerprint, conversation_id, messages, source, user_name, "
            "character_name, created_at) VALUES (:persona, :fingerprint, :conversation, :messages, :source, :user, "
            ":character, :now)"
        ),
        {"persona": entry.persona_id, "fingerprint": print_, "conversation": entry.conversation_id,
         "messages": messages, "source": entry.source, "user": entry.user_name, "character": entry.character_name,
         "now": utcnow()},
    )  # fmt: skip


_COLUMNS = "persona_id, conversation_id, source, user_name, character_name, completed_at IS NOT NULL"


def find(connection: Connection, persona_id: str, print_: str) -> ChatImport | None:
    """The import of that transcript into that persona, if there is one."""
    row = connection.execute(
        text(f"SELECT {_COLUMNS} FROM chat_imports WHERE persona_id = :p AND fingerprint = :f"),
        {"p": persona_id, "f": print_},
    ).first()
    return None if row is None else ChatImport(*row[:5], complete=bool(row[5]))


def unfinished(connection: Connection) -> list[ChatImport]:
    """The imports whose memories were not all written (cut short), oldest first."""
    rows = connection.execute(
        text(f"SELECT {_COLUMNS} FROM chat_imports WHERE completed_at IS NULL ORDER BY created_at")
    )
    return [ChatImport(*row[:5], complete=False) for row in rows]


def complete(connection: Connection, conversation_id: str) -> None:
    connection.execute(
        text("UPDATE chat_imports SET completed_at = :now WHERE conversation_id = :c"),
        {"now": utcnow(), "c": conversation_id},
    )
