"""Data access for conversations and messages. No commits, no error handling: the service owns both."""

from __future__ import annotations

from sqlalchemy import delete as sa_delete
from sqlmodel import Session, col, select

from avatar.conversations.models import Conversation, Message


def get_conversation(session: Session, conversation_id: str) -> Conversation | None:
    return session.get(Conversation, conversation_id)


def list_conversations(session: Session, persona_id: str | None = None) -> list[Conversation]:
    query = select(Conversation).order_by(col(Conversation.updated_at).desc())
    if persona_id is not None:
        query = query.where(Conversation.persona_id == persona_id)
    return list(session.exec(query))


def list_messages(session: Session, conversation_id: str) -> list[Message]:
    # UUIDv7 ids are time-ordered; created_at alone can tie within one clock tick.
    query = select(Message).where(Message.conversation_id == conversation_id).order_by(col(Message.id))
    return list(session.exec(query))


def get_message(session: Session, message_id: str) -> Message | None:
    return session.get(Message, message_id)


def delete_conversation(session: Session, conversation: Conversation) -> None:
    session.exec(sa_delete(Message).where(col(Message.conversation_id) == conversation.id))
    session.delete(conversation)
