"""Which conversation a call talks in, and the greeting a call on a new chat opens with.

The page says which character and conversation it shows (FastRTC's additional inputs, which may come
a moment after the call starts). A call on a new chat opens as a call with the character would: the
conversation is created with the greeting the page shows as its first message, and the greeting is
spoken through the same `Playback` as replies (so talking over it holds or stops it). The greeting
stays saved whole: it is the card's text, shown whole in the Chat tab, not a model reply that was cut.
An existing conversation is joined without a word, except a scene nobody has spoken in yet
(scene_call.py: its opening line is spoken once).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from avatar.core.errors import AvatarError, NotFoundError
from avatar.voice.scene_call import open_scene
from avatar.voice.state import VoiceEvent

if TYPE_CHECKING:
    from avatar.voice.handler import VoiceHandler

log = logging.getLogger(__name__)

ARGS_WAIT_S = 2.0  # how long a turn waits for the page to say which persona/conversation it is in


class CallConversation:
    """Mixed into `VoiceHandler`: the conversation of the call (`_target`) and its greeting (`greet`)."""

    async def _inputs_arrived(self: VoiceHandler) -> bool:
        """Whether the page has said which persona/conversation it shows (asking it, waiting briefly)."""
        if not self.args_set.is_set():
            await self.fetch_args()
            try:
                await asyncio.wait_for(self.args_set.wait(), ARGS_WAIT_S)
            except (asyncio.TimeoutError, TimeoutError):
                return False
        return True

    async def _target(self: VoiceHandler) -> tuple[str, str | None]:
        """The persona and conversation chosen in the page (waiting briefly for the page to say)."""
        if not await self._inputs_arrived():
            log.info("voice: the page did not send its inputs; using the default character")
        persona_id = self.inputs.persona_id or self.ctx.personas.default_id()
        if not persona_id:
            raise AvatarError("Pick a character in the Chat tab first.")
        conversation_id = self.inputs.conversation_id
        created = self._created
        if conversation_id is None and created is not None and not self._created_seen and created[0] == persona_id:
            conversation_id = created[1]  # ours, the page has not caught up yet
        if conversation_id is not None:
            try:
                self.ctx.conversations.get(conversation_id)
            except NotFoundError:
                conversation_id = None  # deleted meanwhile: start a new one rather than fail every turn
        return persona_id, conversation_id

    def names_in_call(self: VoiceHandler) -> str:
        """The names the user may say in this call (the characters', their own), as whisper's prompt: unprompted,
        tiny.en wrote "Aria" as "area" and "Vega" as "Bega" in 6 of 6 tries; with them, 6 of 6 came out right."""
        try:
            scene = self.ctx.scenes.scenes.find(self.inputs.conversation_id)
            persona_ids = list(scene.members) if scene else [self.inputs.persona_id or self.ctx.personas.default_id()]
            names = [self.ctx.personas.get(persona_id).name for persona_id in persona_ids if persona_id]
            names.append(self.ctx.profile.user_name())
        except AvatarError:  # a character deleted meanwhile: no prompt this time
            return ""
        return ", ".join(dict.fromkeys(name for name in names if name)) + "."

    def _new_conversation(self: VoiceHandler, persona_id: str) -> str:
        """The conversation this connection started for `persona_id` and the page has not shown yet,
        else a new one opening with the greeting chosen in the page."""
        created = self._created
        if created is not None and not self._created_seen and created[0] == persona_id:
            return created[1]
        conversation_id = self.ctx.chat.start_conversation(persona_id, greeting_index=self.inputs.greeting_index)
        self._created, self._created_seen = (persona_id, conversation_id), False
        return conversation_id

    async def greet(self: VoiceHandler) -> None:
        """On a new chat, speak the greeting the page shows, creating the conversation with it (see above)."""
        try:
            if not await self._inputs_arrived():
                return  # without the page's word it could be an existing conversation: say nothing
            if self.ctx.scenes.is_scene(self.inputs.conversation_id):
                if self._turn is None:
                    await open_scene(self, str(self.inputs.conversation_id))  # its opening line, once
                return
            if self.inputs.conversation_id or self._created is not None or self._turn is not None:
                return  # a conversation is going on (or the user is already talking): no hello again
            persona_id = self.inputs.persona_id or self.ctx.personas.default_id()
            persona = self.ctx.personas.get(persona_id) if persona_id else None
            text = self.ctx.chat.greeting(persona, self.inputs.greeting_index) if persona else ""
            if persona is None or not text:
                return  # no greeting: the first utterance starts the conversation, as in text chat
            if self._endpointer is not None and self._endpointer.in_speech:
                return  # the user started talking first: the greeting would talk over them
            conversation_id = self._new_conversation(persona.id)
            self._post(VoiceEvent(conversation_id=conversation_id, persona_id=persona.id))
            generation = self._greeting = self.playback.begin()
            try:
                tts, length_scale = await asyncio.to_thread(self.models.voice_for, persona)
            except AvatarError as error:
                self._say(error.message)  # the greeting is on the screen; replies come in text
                return
            if not self._greeting_on():
                return  # talked over (or answered) while the voice loaded
            self._say("Speaking… (talk over me to interrupt)")
            await self.speaker.say(generation, tts, length_scale, text, stopped=lambda: not self._greeting_on())
            if self._greeting_on():
                self._say("Listening…" if self.models.ready else self.models.status)
        except AvatarError as error:  # e.g. the character was deleted meanwhile
            self._say(error.message)
        except Exception:  # the call goes on without a greeting
            log.exception("voice: the greeting failed")
        finally:
            self._greeting = None
