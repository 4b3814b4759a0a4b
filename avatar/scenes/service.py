"""Scenes: a conversation with 2-5 characters and an optional world. Who is in it, and since when.

A scene is a conversation of kind "scene" (its persona_id is its first character, so everything that
reads a conversation's persona keeps working); `scene_members` says who is in it, one row per stay, so
memory knows which characters witnessed which messages.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.engine import Engine
from sqlmodel import Session

from avatar.conversations.exceptions import ConversationNotFound
from avatar.conversations.models import Conversation, Message
from avatar.conversations.schemas import ConversationOut, Role
from avatar.core.ids import utcnow
from avatar.personas.service import PersonaService
from avatar.scenes import repository
from avatar.scenes.exceptions import MAX_MEMBERS, MIN_MEMBERS, InvalidScene
from avatar.scenes.models import SceneMember
from avatar.scenes.schemas import SceneOut, Stay
from avatar.worlds.service import WorldService


class SceneService:
    def __init__(self, engine: Engine, personas: PersonaService, worlds: WorldService) -> None:
        self.engine = engine
        self.personas = personas
        self.worlds = worlds

    def create(
        self,
        persona_ids: Sequence[str],
        *,
        world_id: str | None = None,
        greeting: str = "",
        memory_enabled: bool = True,
    ) -> SceneOut:
        """A new scene; `greeting` (said by its first character) is its first message, when given."""
        members = self._check_members(persona_ids)
        if world_id:
            self.worlds.get(world_id)  # WorldNotFound says so
        with Session(self.engine) as session:
            conversation = Conversation(
                persona_id=members[0],
                title="New chat",
                memory_enabled=memory_enabled,
                kind="scene",
                world_id=world_id or None,
            )
            session.add(conversation)
            session.flush()
            for persona_id in members:
                session.add(SceneMember(conversation_id=conversation.id, persona_id=persona_id))
            if greeting.strip():
                session.add(
                    Message(
                        conversation_id=conversation.id,
                        role=Role.assistant.value,
                        content=greeting,
                        speaker_id=members[0],
                    )
                )
            session.commit()
            return self._out(session, conversation)

    def find(self, conversation_id: str | None) -> SceneOut | None:
        """The scene, or None when the conversation is a one-character chat (or gone)."""
        if not conversation_id:
            return None
        with Session(self.engine) as session:
            conversation = session.get(Conversation, conversation_id)
            if conversation is None or conversation.kind != "scene":
                return None
            return self._out(session, conversation)

    def get(self, conversation_id: str) -> SceneOut:
        scene = self.find(conversation_id)
        if scene is None:
            raise ConversationNotFound(conversation_id)
        return scene

    def list_for(self, persona_id: str) -> list[ConversationOut]:
        """The scenes a character has been in, newest activity first."""
        with Session(self.engine) as session:
            return [ConversationOut.model_validate(c) for c in repository.scenes_with(session, persona_id)]

    def add_member(self, conversation_id: str, persona_id: str) -> SceneOut:
        """A character joins: it witnesses what is said from now on."""
        scene = self.get(conversation_id)
        self._check_members([*scene.members, persona_id])
        with Session(self.engine) as session:
            newest = repository.newest_message_id(session, conversation_id)
            session.add(SceneMember(conversation_id=conversation_id, persona_id=persona_id, joined_after=newest))
            self._touch(session, conversation_id)
            session.commit()
        return self.get(conversation_id)

    def remove_member(self, conversation_id: str, persona_id: str) -> SceneOut:
        """A character leaves: what it witnessed stays its memory; it hears nothing more."""
        scene = self.get(conversation_id)
        if persona_id not in scene.members:
            raise InvalidScene("That character is not in this scene.")
        if len(scene.members) <= MIN_MEMBERS:
            raise InvalidScene(f"A scene needs at least {MIN_MEMBERS} characters: add another one first.")
        with Session(self.engine) as session:
            newest = repository.newest_message_id(session, conversation_id)
            for stay in repository.stays(session, conversation_id):
                if stay.persona_id == persona_id and stay.left_after is None:
                    stay.left_after = newest or ""
                    session.add(stay)
            conversation = session.get(Conversation, conversation_id)
            remaining = [m for m in scene.members if m != persona_id]
            if conversation is not None and conversation.persona_id == persona_id:
                conversation.persona_id = remaining[0]  # the scene stays listed under a character in it
            self._touch(session, conversation_id)
            session.commit()
        return self.get(conversation_id)

    # -- internals ------------------------------------------------------------------------------
    def _check_members(self, persona_ids: Sequence[str]) -> list[str]:
        members = [p for p in persona_ids if p]
        if len(set(members)) != len(members):
            raise InvalidScene("Each character can be in a scene once.")
        if not MIN_MEMBERS <= len(members) <= MAX_MEMBERS:
            raise InvalidScene(f"A scene has {MIN_MEMBERS} to {MAX_MEMBERS} characters (that would be {len(members)}).")
        for persona_id in members:
            self.personas.get(persona_id)  # PersonaNotFound says which
        return members

    @staticmethod
    def _touch(session: Session, conversation_id: str) -> None:
        conversation = session.get(Conversation, conversation_id)
        if conversation is not None:
            conversation.updated_at = utcnow()
            session.add(conversation)

    @staticmethod
    def _out(session: Session, conversation: Conversation) -> SceneOut:
        stays = [
            Stay(persona_id=s.persona_id, joined_after=s.joined_after, left_after=s.left_after)
            for s in repository.stays(session, conversation.id)
        ]
        members = list(dict.fromkeys(s.persona_id for s in stays if s.left_after is None))
        return SceneOut(
            conversation_id=conversation.id,
            title=conversation.title,
            world_id=conversation.world_id,
            members=members,
            stays=stays,
            memory_enabled=conversation.memory_enabled,
        )
