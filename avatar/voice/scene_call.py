"""A call in a scene: each reply spoken in its speaker's own Piper voice, one speaker after another.

The handler hands a turn whose conversation is a scene to `SceneReply`: the user's words go to
SceneFlow.send, speculatively as in a one-character call (reply.py: saved only when the first reply is
about to be heard; speech before that withdraws the turn), and each reply that follows is spoken with its
speaker's voice (`persona.voice`) under its own Playback generation, the call screen showing that
speaker's face, then its reply's expression. A reply stays in progress until it has been heard
(`until_heard`): talking over it saves what was heard of it, as "interrupted", and the replies still to
come are not said (the handler stops the turn through SceneFlow.stop). The latency row is the first reply's.

A scene started in the Chat tab opens with its first character's greeting: a call joining it before
anything was said speaks that opening once, as a call on a new chat speaks the character's greeting.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from avatar.conversations.schemas import MessageStatus
from avatar.core.errors import AvatarError
from avatar.speech.sentences import SentenceSplitter
from avatar.speech.tts import PiperTTS
from avatar.voice.reply import close_turn
from avatar.voice.state import Turn, VoiceEvent

if TYPE_CHECKING:
    from avatar.voice.handler import VoiceHandler

log = logging.getLogger(__name__)

SPEAKING = "Speaking… (talk over me to interrupt)"
_opened: set[str] = set()  # scenes whose opening line a call has spoken (in this run)


@dataclass
class Voice:
    """A speaker's voice: the loaded Piper voice and its length scale, or why it is silent."""

    tts: PiperTTS | None
    length_scale: float | None = None
    problem: str | None = None


@dataclass
class Spoken:
    """One reply of the turn as it is spoken."""

    speaker_id: str
    generation: int
    sentences: asyncio.Queue[str | None] = field(default_factory=asyncio.Queue)
    splitter: SentenceSplitter = field(default_factory=lambda: SentenceSplitter(first_clause=True))
    heard: asyncio.Event = field(default_factory=asyncio.Event)
    text: str = ""
    task: asyncio.Task | None = None


async def voice_of(handler: VoiceHandler, speaker_id: str) -> Voice:
    """The speaker's voice; a missing one answers in text, saying why."""
    try:
        persona = handler.ctx.personas.get(speaker_id)
        tts, scale = await asyncio.to_thread(handler.models.voice_for, persona)
    except AvatarError as error:
        return Voice(None, problem=error.message)
    log.info("voice: %s speaks in %s", speaker_id, tts.voice_path.name)
    return Voice(tts, scale)


class SceneReply:
    """The replies of a scene to one turn, each spoken in its speaker's voice as it streams."""

    def __init__(self, handler: VoiceHandler, turn: Turn, conversation_id: str) -> None:
        self.handler = handler
        self.turn = turn
        self.conversation_id = conversation_id
        turn.conversation_id, turn.scene = conversation_id, True
        self.current: Spoken | None = None
        self.problem: str | None = None  # a speaker without a voice (answers in text)
        self.expression: asyncio.Task | None = None  # held: the loop keeps only weak references to tasks

    async def run(self, text: str, speculative: bool) -> None:
        handler, turn, latency = self.handler, self.turn, self.turn.latency
        final = None
        try:
            updates = handler.ctx.scenes.send(
                self.conversation_id,
                text,
                until_heard=self._heard,
                speculation=turn.speculation if speculative else None,
            )
            # aclosing: cancelled here (the user went on), the flow's own cleanup must run now and in order
            # (it withdraws the user's words); left to the garbage collector, nested generators fail to close.
            async with contextlib.aclosing(updates):
                async for update in updates:
                    if not speculative and not turn.speculation.committed:
                        turn.speculation.commit()  # the first update says the flow saved the words: the turn stands
                        handler._post(VoiceEvent(conversation_id=self.conversation_id))
                        continue
                    if update.done:
                        final = update
                        latency.generation = latency.generation or update.generation
                        await self._finish(self.current)
                        self.current = None
                        continue
                    if not update.reply or update.speaker_id is None:
                        continue
                    if self.current is None:
                        self.current = await self._begin(update.speaker_id)
                    if latency.first_token_at is None:
                        latency.first_token_at = handler.clock()
                    spoken = self.current
                    for sentence in spoken.splitter.feed(update.reply[len(spoken.text) :]):
                        spoken.sentences.put_nowait(sentence)
                    spoken.text = update.reply
                    if turn.user_saved:
                        handler._say(self.problem or SPEAKING)
            if final is not None and final.status is MessageStatus.partial and not turn.interrupted:
                turn.interrupted = True  # stopped from the Chat tab (or the API): silence the voice as well
                handler._silence()
        finally:
            await self._finish(self.current)
        close_turn(turn, final, handler._say, self.problem)
        handler._post(VoiceEvent(conversation_id=self.conversation_id, persona_id=turn.persona_id))

    async def _begin(self, speaker_id: str) -> Spoken:
        """A new reply of the turn: its speaker's voice, a Playback generation of its own, its speaking task."""
        handler, turn = self.handler, self.turn
        voice = await voice_of(handler, speaker_id)
        self.problem = self.problem or voice.problem
        spoken = Spoken(speaker_id, handler.playback.begin())
        turn.generation, turn.persona_id = spoken.generation, speaker_id

        def commit() -> bool:
            # Right before the reply is heard: the first one saves the user's words (unless they went on).
            if turn.interrupted or not turn.speculation.commit():
                return False
            turn.latency.speculative = turn.latency.speculative and "used"
            face = last_label(handler, self.conversation_id, speaker_id)
            handler._post(VoiceEvent(conversation_id=self.conversation_id, persona_id=speaker_id, emotion=face))
            return True

        async def speak() -> None:
            await handler.speaker.speak(
                spoken.generation,
                voice.tts,
                voice.length_scale,
                spoken.sentences,
                stopped=lambda: turn.interrupted,
                commit=commit,
            )
            spoken.heard.set()

        spoken.task = asyncio.get_running_loop().create_task(speak())
        return spoken

    async def _heard(self) -> None:
        """Inside the flow once a reply's text is all there: speak the rest of it, wait until it is heard."""
        spoken = self.current
        if spoken is None:
            return
        self.expression = asyncio.get_running_loop().create_task(self._show_expression(spoken))
        for sentence in spoken.splitter.flush():
            spoken.sentences.put_nowait(sentence)
        spoken.sentences.put_nowait(None)
        await spoken.heard.wait()

    async def _finish(self, spoken: Spoken | None) -> None:
        if spoken is None or spoken.task is None:
            return
        spoken.sentences.put_nowait(None)  # the speaker stops here if _heard() never ran (error, cancel)
        if not spoken.task.done() and self.turn.interrupted:
            spoken.task.cancel()
        try:
            await spoken.task
        except asyncio.CancelledError:
            pass

    async def _show_expression(self, spoken: Spoken) -> None:
        """The speaker's face with its reply's expression (labelled off the reply's path)."""
        try:
            label = await self.handler.ctx.chat.expression_of(spoken.text)
        except Exception:  # the face just stays as it is
            log.exception("voice: no expression for the reply")
            return
        if label is not None:
            self.handler._post(VoiceEvent(persona_id=spoken.speaker_id, emotion=label))


async def open_scene(handler: VoiceHandler, conversation_id: str) -> None:
    """A scene nobody has said anything in yet opens with its first character's greeting, spoken once."""
    messages = handler.ctx.conversations.messages(conversation_id)
    if conversation_id in _opened or len(messages) != 1 or not messages[0].speaker_id:
        return  # under way (or already opened aloud): joined without a word
    opening = messages[0]
    _opened.add(conversation_id)
    handler._post(VoiceEvent(conversation_id=conversation_id, persona_id=opening.speaker_id, emotion="neutral"))
    generation = handler._greeting = handler.playback.begin()
    voice = await voice_of(handler, opening.speaker_id)
    if voice.tts is None:
        handler._say(voice.problem or "")  # the opening is on the screen; replies come in text
        return
    if not handler._greeting_on():
        return  # talked over while the voice loaded
    handler._say(SPEAKING)
    await handler.speaker.say(
        generation, voice.tts, voice.length_scale, opening.content, stopped=lambda: not handler._greeting_on()
    )
    if handler._greeting_on():
        handler._say("Listening…")


def last_label(handler: VoiceHandler, conversation_id: str, speaker_id: str) -> str:
    """The speaker's expression in its latest reply of the scene (neutral before it has said anything)."""
    labels = [
        m.emotion
        for m in handler.ctx.conversations.messages(conversation_id)
        if m.speaker_id == speaker_id and m.emotion
    ]
    return labels[-1] if labels else "neutral"
