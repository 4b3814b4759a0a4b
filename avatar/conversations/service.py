"""Conversations and messages: every write commits here, so a saved message survives a crash right after."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session

from avatar.conversations import repository
from avatar.conversations.exceptions import ConversationNotFound, EmptyMessage, InvalidTitle
from avatar.conversations.models import Conversation, Message
from avatar.conversations.schemas import ConversationOut, MessageOut, MessageStatus, Role
from avatar.core.ids import utcnow
from avatar.llm.stats import GenerationStats

TITLE_MAX_CHARS = 60


def title_from_text(text: str) -> str:
    """A sidebar title from the first thing the user said: one line, cut at a word boundary."""
    line = " ".join(text.split())
    if len(line) <= TITLE_MAX_CHARS:
        return line or "New chat"
    cut = line[:TITLE_MAX_CHARS].rsplit(" ", 1)[0] or line[:TITLE_MAX_CHARS]
    return cut + "…"


class ConversationService:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(
        self, persona_id: str, title: str = "New chat", greeting: str = "", *, memory_enabled: bool = True
    ) -> ConversationOut:
        """A new conversation; the persona's greeting, if any, is its first message."""
        with Session(self.engine) as session:
            conversation = Conversation(persona_id=persona_id, title=title, memory_enabled=memory_enabled)
            session.add(conversation)
            if greeting.strip():
                session.add(Message(conversation_id=conversation.id, role=Role.assistant.value, content=greeting))
            session.commit()
            session.refresh(conversation)
            return ConversationOut.model_validate(conversation)

    def get(self, conversation_id: str) -> ConversationOut:
        with Session(self.engine) as session:
            return ConversationOut.model_validate(self._require(session, conversation_id))

    def list(self, persona_id: str | None = None) -> list[ConversationOut]:
        with Session(self.engine) as session:
            return [ConversationOut.model_validate(c) for c in repository.list_conversations(session, persona_id)]

    def rename(self, conversation_id: str, title: str) -> ConversationOut:
        title = " ".join(title.split())
        if not title:
            raise InvalidTitle("A conversation needs a title: type one first.")
        if len(title) > 200:
            raise InvalidTitle("That title is too long: keep it under 200 characters.")
        return self._update(conversation_id, title=title)

    def set_memory_enabled(self, conversation_id: str, enabled: bool) -> ConversationOut:
        """Turn memory on or off for one conversation (off: it neither recalls nor stores memories)."""
        return self._update(conversation_id, memory_enabled=enabled)

    def _update(self, conversation_id: str, **fields: object) -> ConversationOut:
        with Session(self.engine) as session:
            conversation = self._require(session, conversation_id)
            for name, value in fields.items():
                setattr(conversation, name, value)
            session.add(conversation)
            session.commit()
            session.refresh(conversation)
            return ConversationOut.model_validate(conversation)

    def import_messages(
        self,
        persona_id: str,
        title: str,
        messages: Sequence[tuple[Role, str, datetime]],
        *,
        also: Callable[[Session, str], None] | None = None,
    ) -> ConversationOut:
        """A new conversation holding `messages` (role, text, original time) in order, all in one commit.
        also(session, conversation_id): more to write in that same commit (the import's own record)."""
        if not messages:
            raise EmptyMessage()
        with Session(self.engine) as session:
            conversation = Conversation(
                persona_id=persona_id,
                title=title_from_text(title),
                created_at=messages[0][2],
                updated_at=max(when for _, _, when in messages),
            )
            session.add(conversation)
            session.flush()
            for role, text, when in messages:
                message = Message(conversation_id=conversation.id, role=Role(role).value, content=text, created_at=when)
                session.add(message)
            if also is not None:
                session.flush()
                also(session, conversation.id)
            session.commit()
            session.refresh(conversation)
            return ConversationOut.model_validate(conversation)

    def delete(self, conversation_id: str) -> None:
        with Session(self.engine) as session:
            repository.delete_conversation(session, self._require(session, conversation_id))
            session.commit()

    def messages(self, conversation_id: str) -> list[MessageOut]:
        with Session(self.engine) as session:
            self._require(session, conversation_id)
            return [MessageOut.model_validate(m) for m in repository.list_messages(session, conversation_id)]

    def add_user_message(self, conversation_id: str, text: str) -> MessageOut:
        if not text.strip():
            raise EmptyMessage()
        with Session(self.engine) as session:
            conversation = self._require(session, conversation_id)
            message = Message(conversation_id=conversation_id, role=Role.user.value, content=text)
            if conversation.title == "New chat":
                conversation.title = title_from_text(text)
            self._touch(session, conversation)
            session.add(message)
            session.commit()
            session.refresh(message)
            return MessageOut.model_validate(message)

    def add_reply(
        self,
        conversation_id: str,
        text: str,
        status: MessageStatus,
        model: str | None = None,
        generation: GenerationStats | None = None,
        speaker_id: str | None = None,
    ) -> MessageOut:
        """A reply; `speaker_id`: in a scene, the character who said it."""
        with Session(self.engine) as session:
            conversation = self._require(session, conversation_id)
            message = Message(
                conversation_id=conversation_id,
                role=Role.assistant.value,
                content=text,
                status=status.value,
                model=model,
                speaker_id=speaker_id,
                generation=generation.model_dump_json(exclude_none=True) if generation is not None else None,
            )
            self._touch(session, conversation)
            session.add(message)
            session.commit()
            session.refresh(message)
            return MessageOut.model_validate(message)

    def set_turn_note(self, message_id: str, memory_ids: Sequence[str], state_note: str = "") -> None:
        """Remember what was shown to the model just before this message: the memories recalled for it and
        the character's mood line (empty: none). Later turns send the same note in the same place."""
        with Session(self.engine) as session:
            message = repository.get_message(session, message_id)
            if message is None:
                return  # deleted meanwhile: nothing to keep
            message.recalled_memory_ids = json.dumps(list(memory_ids)) if memory_ids else None
            message.state_note = state_note or None
            session.add(message)
            session.commit()

    def set_speaker_note(self, message_id: str, speaker_id: str, memory_ids: Sequence[str]) -> None:
        """In a scene: the memories shown to `speaker_id` just before this message (each speaker has its own)."""
        with Session(self.engine) as session:
            message = repository.get_message(session, message_id)
            if message is None:
                return
            notes = json.loads(message.speaker_notes) if message.speaker_notes else {}
            if memory_ids:
                notes[speaker_id] = list(memory_ids)
            else:
                notes.pop(speaker_id, None)
            message.speaker_notes = json.dumps(notes) if notes else None
            session.add(message)
            session.commit()

    def set_emotion(self, message_id: str, label: str) -> None:
        """Label a saved reply with its expression (after it was saved: the label is found off the reply's path)."""
        with Session(self.engine) as session:
            message = repository.get_message(session, message_id)
            if message is None:
                return  # deleted meanwhile (Regenerate, a deleted conversation): nothing to label
            message.emotion = label
            session.add(message)
            session.commit()

    def withdraw_user_message(self, message_id: str) -> None:
        """Remove a user message that turned out not to be a turn (voice: the user went on talking before
        the reply to it was heard; their words are said again with what followed). Only the newest message."""
        with Session(self.engine) as session:
            message = repository.get_message(session, message_id)
            if message is None or message.role != Role.user.value:
                return
            newest = repository.list_messages(session, message.conversation_id)[-1]
            if newest.id == message.id:
                session.delete(message)
                session.commit()

    def drop_last_reply(self, conversation_id: str) -> MessageOut | None:
        """For Regenerate: remove the newest assistant message if it answers a user message.

        Returns the user message to answer again, or None when there is nothing to regenerate.
        """
        with Session(self.engine) as session:
            self._require(session, conversation_id)
            messages = repository.list_messages(session, conversation_id)
            if messages and messages[-1].role == Role.assistant.value:
                if len(messages) < 2 or messages[-2].role != Role.user.value:
                    return None  # only the greeting: nothing was asked yet
                session.delete(messages[-1])
                session.commit()
                messages = messages[:-1]
            if not messages or messages[-1].role != Role.user.value:
                return None
            return MessageOut.model_validate(messages[-1])

    def drop_newest_reply(self, conversation_id: str) -> MessageOut | None:
        """For Regenerate in a scene: remove the newest reply, whatever came before it (another character's
        reply, in "let them talk"), unless it is the scene's opening line. Returns the removed reply."""
        with Session(self.engine) as session:
            self._require(session, conversation_id)
            messages = repository.list_messages(session, conversation_id)
            if len(messages) < 2 or messages[-1].role != Role.assistant.value:
                return None
            dropped = MessageOut.model_validate(messages[-1])
            session.delete(messages[-1])
            session.commit()
            return dropped

    @staticmethod
    def _touch(session: Session, conversation: Conversation) -> None:
        conversation.updated_at = utcnow()
        session.add(conversation)

    @staticmethod
    def _require(session: Session, conversation_id: str) -> Conversation:
        conversation = repository.get_conversation(session, conversation_id)
        if conversation is None:
            raise ConversationNotFound(conversation_id)
        return conversation
