"""Data access for scene members. No commits, no error handling: the service owns both."""

from __future__ import annotations

from sqlmodel import Session, col, select

from avatar.conversations.models import Conversation, Message
from avatar.scenes.models import SceneMember


def stays(session: Session, conversation_id: str) -> list[SceneMember]:
    query = select(SceneMember).where(SceneMember.conversation_id == conversation_id).order_by(col(SceneMember.id))
    return list(session.exec(query))


def newest_message_id(session: Session, conversation_id: str) -> str | None:
    query = (
        select(Message.id).where(Message.conversation_id == conversation_id).order_by(col(Message.id).desc()).limit(1)
    )
    return session.exec(query).first()


def scenes_with(session: Session, persona_id: str) -> list[Conversation]:
    """The scenes `persona_id` has been in, newest activity first."""
    members = select(SceneMember.conversation_id).where(SceneMember.persona_id == persona_id)
    query = (
        select(Conversation)
        .where(Conversation.kind == "scene")
        .where(col(Conversation.id).in_(members))
        .order_by(col(Conversation.updated_at).desc())
    )
    return list(session.exec(query))
