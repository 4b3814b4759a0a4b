"""A turn in a scene: the user's words, then the replies of whoever speaks next, one at a time.

- send(): the user's message is saved first; the characters it names answer in turn, else one chosen by
  turns.py; "ask" has one given character speak now; "carry on" lets the characters talk among
  themselves for up to `replies` replies (capped), each choosing who speaks next the same way.
- Each reply goes through ChatFlow's turn (streaming, Stop, save with its status and speaker, memory,
  expression label) with the speaker's own prompt (prompt.py) and a guard that keeps it to that
  speaker's lines (guard.py). Stop ends the reply being said and the replies still to come.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import replace
from functools import partial

from avatar.chat.flows import ChatFlow, Speaking
from avatar.chat.notes import fresh_recall, join_notes
from avatar.chat.schemas import TurnUpdate
from avatar.chat.speculation import Speculation
from avatar.conversations.schemas import MessageOut, MessageStatus
from avatar.core.errors import NotFoundError
from avatar.core.logging import private
from avatar.llm.base import ChatMessage
from avatar.llm.prompt import BuiltPrompt, HistoryItem, build_prompt, first_kept
from avatar.memory.card_schedule import CardJob
from avatar.memory.line_vectors import note_ref
from avatar.memory.prompt import format_memories
from avatar.memory.schemas import RecalledMemory, Witness
from avatar.personas.schemas import Persona
from avatar.personas.service import PersonaService
from avatar.scenes.exceptions import InvalidScene
from avatar.scenes.guard import SpeakerGuard
from avatar.scenes.prompt import SceneView, continue_line, scene_history, scene_system_prompt
from avatar.scenes.relevance import EmbeddingRelevance
from avatar.scenes.schemas import SceneOut
from avatar.scenes.service import SceneService
from avatar.scenes.turns import NextSpeaker, SceneMoment, call_names
from avatar.worlds.service import WorldService

log = logging.getLogger(__name__)

MAX_CARRY_ON = 6  # "let them talk": at most this many replies before the user is given the word back
DEFAULT_CARRY_ON = 3

Heard = Callable[[], Awaitable[None]]


class SceneFlow:
    def __init__(
        self, chat: ChatFlow, scenes: SceneService, worlds: WorldService, chooser: NextSpeaker | None = None
    ) -> None:
        self.chat = chat
        self.scenes = scenes
        self.worlds = worlds
        embedder = chat.memory.embedder if chat.memory is not None else None
        self.chooser = chooser or NextSpeaker(EmbeddingRelevance(embedder))
        self._halted: set[str] = set()  # scenes whose person pressed Stop: no more replies this turn

    @property
    def personas(self) -> PersonaService:
        return self.chat.personas

    # -- starting and changing a scene ----------------------------------------------------------
    def start(self, persona_ids: Sequence[str], *, world_id: str | None = None, memory_enabled: bool = True) -> str:
        """A new scene; its first character opens it with its greeting. Returns the conversation id."""
        first = self.personas.get(persona_ids[0]) if persona_ids else None
        greeting = self.chat.greeting(first) if first is not None else ""
        scene = self.scenes.create(persona_ids, world_id=world_id, greeting=greeting, memory_enabled=memory_enabled)
        if world_id and self.chat.memory is not None:  # a world imported by `app.py import-world` meanwhile
            self.chat.memory.schedule_world_lore_sync(world_id, partial(self.worlds.lore, world_id))
        log.info("scene %s started: %s world=%s", scene.conversation_id, ", ".join(scene.members), world_id)
        return scene.conversation_id

    def is_scene(self, conversation_id: str | None) -> bool:
        return self.scenes.find(conversation_id) is not None

    def remember_left_over(self, conversation_id: str) -> bool:
        """At start, for ChatFlow.catch_up_memory: a scene's write a stop cut short, for each witness
        (False: not a scene, the chat's way applies)."""
        scene = self.scenes.find(conversation_id)
        if scene is None:
            return False
        self._remember(scene)
        return True

    # -- turns ----------------------------------------------------------------------------------
    async def send(
        self,
        conversation_id: str,
        text: str,
        *,
        until_heard: Heard | None = None,
        speculation: Speculation | None = None,
    ) -> AsyncIterator[TurnUpdate]:
        """The user's message (saved before any model call), then the replies it calls for.

        `speculation` (voice), as in ChatFlow.send: no update says the words were saved until the first
        reply is about to be heard; withdrawn before that, the turn leaves nothing and no one else speaks."""
        scene = self.scenes.get(conversation_id)
        message = self.chat.conversations.add_user_message(conversation_id, text)
        log.info("scene turn: conversation=%s user=%s", conversation_id, private(text))
        if speculation is None:
            yield TurnUpdate(conversation_id=conversation_id, user_message_id=message.id)
        else:
            speculation.user_message_id = message.id
        try:
            speakers = await asyncio.to_thread(self.chooser.answering, self._moment(scene))
            async with contextlib.aclosing(self._replies(scene, speakers, until_heard, speculation)) as updates:
                async for update in updates:
                    update.user_message_id = message.id
                    yield update
        finally:
            self.chat.settle(speculation)

    async def ask(self, conversation_id: str, persona_id: str) -> AsyncIterator[TurnUpdate]:
        """One character speaks now ("ask this character")."""
        scene = self.scenes.get(conversation_id)
        if persona_id not in scene.members:
            raise InvalidScene("That character is not in this scene (any more).")
        async with contextlib.aclosing(self._replies(scene, [persona_id])) as updates:
            async for update in updates:
                yield update

    async def carry_on(
        self, conversation_id: str, replies: int = DEFAULT_CARRY_ON, *, until_heard: Heard | None = None
    ) -> AsyncIterator[TurnUpdate]:
        """Let the characters talk among themselves: up to `replies` replies (at most MAX_CARRY_ON)."""
        self._halted.discard(conversation_id)
        for _ in range(max(1, min(int(replies), MAX_CARRY_ON))):
            scene = self.scenes.get(conversation_id)  # read again: someone may have joined or left
            speaker = await asyncio.to_thread(self.chooser.choose, self._moment(scene))
            last: TurnUpdate | None = None
            async with contextlib.aclosing(self._speak(scene, speaker, until_heard)) as updates:
                async for update in updates:
                    last = update
                    yield update
            if not self._carry_on_after(conversation_id, last):
                return

    async def regenerate(self, conversation_id: str) -> AsyncIterator[TurnUpdate]:
        """The newest reply again, by the same character (another one if it has left meanwhile)."""
        scene = self.scenes.get(conversation_id)
        dropped = self.chat.conversations.drop_newest_reply(conversation_id)
        if dropped is None:
            yield TurnUpdate(conversation_id=conversation_id, done=True, error="There is no reply to regenerate yet.")
            return
        speaker = dropped.speaker_id
        if speaker not in scene.members:
            speaker = await asyncio.to_thread(self.chooser.choose, self._moment(scene))
        async with contextlib.aclosing(self._replies(scene, [speaker])) as updates:
            async for update in updates:
                yield update

    def stop(self, conversation_id: str, spoken_text: str | None = None) -> bool:
        """Stop the reply being said and the ones still to come in this turn."""
        self._halted.add(conversation_id)
        return self.chat.stop(conversation_id, spoken_text)

    # -- internals ------------------------------------------------------------------------------
    async def _replies(
        self,
        scene: SceneOut,
        speakers: Sequence[str],
        until_heard: Heard | None = None,
        speculation: Speculation | None = None,
    ) -> AsyncIterator[TurnUpdate]:
        self._halted.discard(scene.conversation_id)
        for number, speaker in enumerate(speakers):
            last: TurnUpdate | None = None
            # Only the first reply can withdraw the turn: once it is heard, the turn stands.
            reply = self._speak(scene, speaker, until_heard, speculation if number == 0 else None)
            async with contextlib.aclosing(reply) as updates:
                async for update in updates:
                    last = update
                    yield update
            if not self._carry_on_after(scene.conversation_id, last):
                return

    def _carry_on_after(self, conversation_id: str, last: TurnUpdate | None) -> bool:
        """Whether the next reply of this turn may follow: not after a Stop, a failure or a superseded reply."""
        finished = last is not None and last.done and last.status is MessageStatus.complete
        return finished and conversation_id not in self._halted

    async def _speak(
        self, scene: SceneOut, speaker_id: str, until_heard: Heard | None, speculation: Speculation | None = None
    ) -> AsyncIterator[TurnUpdate]:
        persona = self.personas.get(speaker_id)
        members = self._members(scene)
        names = call_names([*members, *([persona] if persona not in members else [])])
        others = [name for persona_id, called in names.items() if persona_id != persona.id for name in called]
        speaking = Speaking(
            speaker_id=persona.id,
            prompt=lambda: self._prompt(scene, persona),
            remember=lambda: self._remember(scene),
            guard=SpeakerGuard(names[persona.id] or [persona.name], [*others, self.chat.profile.user_name()]),
        )
        answer = self.chat._answer(persona, scene.conversation_id, until_heard, speculation, speaking)
        async with contextlib.aclosing(answer) as updates:
            async for update in updates:
                yield update

    def _members(self, scene: SceneOut) -> list[Persona]:
        members = []
        for persona_id in scene.members:
            try:
                members.append(self.personas.get(persona_id))
            except NotFoundError:
                continue  # a character deleted meanwhile says nothing more
        return members

    def _moment(self, scene: SceneOut) -> SceneMoment:
        messages = [m for m in self.chat.conversations.messages(scene.conversation_id) if m.content.strip()]
        first = scene.stays[0].persona_id if scene.stays else None
        speakers = [None if m.role.value == "user" else (m.speaker_id or first) for m in messages]
        newest = messages[-1].content if messages else ""
        return SceneMoment(members=self._members(scene), speakers=speakers, newest_text=newest)

    def _view(self, scene: SceneOut, speaker: Persona, user_name: str) -> SceneView:
        names: dict[str, str] = {}
        for stay in scene.stays:
            try:
                names[stay.persona_id] = self.personas.get(stay.persona_id).name
            except NotFoundError:
                names[stay.persona_id] = stay.persona_id
        first = scene.stays[0].persona_id if scene.stays else speaker.id
        return SceneView(speaker_id=speaker.id, names=names, first_character=first, user_name=user_name)

    async def _prompt(self, scene: SceneOut, persona: Persona) -> tuple[BuiltPrompt, list[HistoryItem], dict]:
        """The speaker's prompt: its own stable start, the shared history with its notes, this turn's note;
        with the history and layout it was built from (as ChatFlow._prompt: the next turn's start)."""
        chat, conversation_id = self.chat, scene.conversation_id
        user_name = chat.profile.user_name()
        recall_on = chat._recall_enabled(persona, conversation_id)
        messages = chat.conversations.messages(conversation_id)
        history = scene_history(messages, self._view(scene, persona, user_name), chat.memory if recall_on else None)
        others = [p for p in self._members(scene) if p.id != persona.id]
        world = self.worlds.find(scene.world_id)
        layout = {
            "user_name": user_name,
            "about_me": chat.profile.about_me(),
            "context_tokens": chat.settings.context_tokens,
            "reply_tokens": chat.settings.reply_tokens,
            "turn_reserve": chat.settings.memory_token_budget if recall_on else 0,
            "system": scene_system_prompt(persona, others, world, user_name, chat.profile.about_me()),
        }
        newest = _newest(messages)
        chat.last_recall[conversation_id] = []
        if newest is not None and history.items:
            start = first_kept(persona, history.items, **layout)
            fresh: list[RecalledMemory] = []
            if recall_on:
                recalled = await chat._recall(conversation_id, persona, newest.content, user_name, scene.world_id)
                fresh = fresh_recall(recalled, history.shown_from(start))
            history.items[-1] = replace(history.items[-1], note=join_notes(format_memories(fresh, user_name)))
            refs = [note_ref(r.memory.id, r.lines) for r in fresh]  # the lines shown, so later turns send them alike
            chat.conversations.set_speaker_note(newest.id, persona.id, refs)
        prompt = build_prompt(persona, history.items, **layout)
        if history.items and history.items[-1].role == "assistant":  # asked again right after its own reply
            at = len(prompt.messages) - prompt.last_word
            nudge = ChatMessage(role="system", content=continue_line(persona))
            prompt = replace(prompt, messages=[*prompt.messages[:at], nudge, *prompt.messages[at:]])
        return prompt, history.items, layout

    def _remember(self, scene: SceneOut) -> None:
        """Each character present remembers what it witnessed (memory/witnesses.py), in the background."""
        chat = self.chat
        if chat.memory is None:
            return
        chat.memory.schedule_scene_write(
            scene.conversation_id,
            self.witnesses(scene.conversation_id),
            user_name=chat.profile.user_name(),
            defer_cards=chat.cards is not None,
        )
        if chat.cards is not None:
            chat.cards.touched(scene.conversation_id)

    def witnesses(self, conversation_id: str) -> list[Witness]:
        """Who was in the scene when, with their names and memory policies (see memory/witnesses.py)."""
        scene = self.scenes.get(conversation_id)
        found = []
        for stay in scene.stays:
            try:
                persona = self.personas.get(stay.persona_id)
            except NotFoundError:
                continue
            policy = persona.memory_policy if scene.memory_enabled else "off"
            found.append(
                Witness(
                    persona_id=persona.id,
                    name=persona.name,
                    policy=policy,
                    joined_after=stay.joined_after,
                    left_after=stay.left_after,
                )
            )
        return found

    def card_job(self, conversation_id: str) -> CardJob | None:
        """What making a scene's memory cards needs (None: not a scene, or gone)."""
        if not self.is_scene(conversation_id):
            return None
        witnesses = tuple(self.witnesses(conversation_id))
        if not witnesses:
            return None
        first = witnesses[0]
        return CardJob(persona_id=first.persona_id, persona_name=first.name, policy=first.policy, witnesses=witnesses)


def _newest(messages: Sequence[MessageOut]) -> MessageOut | None:
    kept = [m for m in messages if m.content.strip()]
    return kept[-1] if kept else None
