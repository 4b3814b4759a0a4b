"""Each conversation's mood, stored (table conversation_moods) and moved after every exchange."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlmodel import Field, Session, SQLModel

from avatar.core.ids import utcnow
from avatar.expressions.mood import Mood, after_exchange, resting

log = logging.getLogger(__name__)


class ConversationMood(SQLModel, table=True):
    __tablename__ = "conversation_moods"

    conversation_id: str = Field(primary_key=True, foreign_key="conversations.id", ondelete="CASCADE", max_length=36)
    valence: float
    arousal: float
    affinity: float
    label: str = Field(max_length=32)
    exchanges: int = 0
    updated_at: datetime = Field(default_factory=utcnow)


class MoodService:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def get(self, conversation_id: str | None) -> Mood | None:
        """The conversation's state, or None before its first exchange."""
        if not conversation_id:
            return None
        with Session(self.engine) as session:
            row = session.get(ConversationMood, conversation_id)
            if row is None:
                return None
            return Mood(row.valence, row.arousal, row.affinity, row.label, row.exchanges)

    def record_exchange(
        self, conversation_id: str, baseline: str, reply_label: str | None, user_label: str | None
    ) -> Mood:
        """Move the state by one exchange and store it."""
        mood = after_exchange(self.get(conversation_id) or resting(baseline), baseline, reply_label, user_label)
        with Session(self.engine) as session:
            row = session.get(ConversationMood, conversation_id) or ConversationMood(
                conversation_id=conversation_id, valence=0.0, arousal=0.0, affinity=0.0, label=mood.label
            )
            row.valence, row.arousal, row.affinity = mood.valence, mood.arousal, mood.affinity
            row.label, row.exchanges, row.updated_at = mood.label, mood.exchanges, utcnow()
            session.add(row)
            session.commit()
        return mood
