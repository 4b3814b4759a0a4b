"""The avatar's side of a turn: the model's reply -> sentences -> Piper -> Playback, and the greeting.

A reply may start speculatively (the user's turn only *looks* complete): the model streams and Piper
synthesizes as usual, but the user's words are saved, and the first audio queued, only at `commit`,
right before the reply becomes audible. A barge-in before that discards the turn silently.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import numpy as np

from avatar.chat.flows import ChatFlow
from avatar.chat.schemas import TurnUpdate
from avatar.conversations.schemas import MessageStatus
from avatar.speech.audio import resample, trim_leading_silence
from avatar.speech.sentences import SentenceSplitter, speakable
from avatar.speech.tts import PiperTTS
from avatar.voice.playback import OUTPUT_RATE, Playback
from avatar.voice.state import Turn, VoiceEvent

log = logging.getLogger(__name__)

# Piper keeps at most this much of a reply synthesized ahead of what is playing. Unbounded, it voiced a long story
# minutes ahead, both cores busy the whole time: a "Mm-hmm." over it took whisper 1-3.5 s with the reply held,
# and any of it was thrown away at a barge-in. Held, the reply does not drain, so synthesis waits too. A sentence
# takes Piper ~0.1-0.2 s a second of speech here, so the next one is ready long before this runs out.
SYNTHESIZED_AHEAD_S = 4.0


class Speaker:
    """Sentences in, audio queued on the connection's `Playback` (synthesis in a worker thread)."""

    def __init__(self, playback: Playback) -> None:
        self.playback = playback

    async def speak(
        self,
        generation: int,
        tts: PiperTTS | None,
        length_scale: float | None,
        sentences: asyncio.Queue[str | None],
        stopped: Callable[[], bool],
        commit: Callable[[], bool] | None = None,
    ) -> None:
        """Synthesize sentences as they come and queue their audio; return once all was played (or stopped).

        `commit()` runs before the first audio is queued; False means the reply is not to be heard at all.
        """
        urgent = True  # nothing is playing yet: the listener waits for this one (Piper's first-sentence threads)
        while True:
            sentence = await sentences.get()
            if sentence is None or stopped():
                break
            while (
                not stopped()
                and self.playback.generation == generation
                and self.playback.queued_s() > SYNTHESIZED_AHEAD_S
            ):
                await asyncio.sleep(0.05)
            if stopped():
                break
            text = speakable(sentence)
            audio = np.zeros(0, dtype=np.float32)
            if text and tts is not None:
                rate, spoken = await asyncio.to_thread(tts.synthesize, text, length_scale, urgent=urgent)
                if urgent:  # the listener is waiting for this one: its silence before the first word goes
                    spoken = trim_leading_silence(spoken, rate)
                audio = resample(spoken, rate, OUTPUT_RATE)
                urgent = False
            if stopped():
                break
            if commit is not None:
                if not commit():
                    return
                commit = None
            index = self.playback.add_sentence(generation, sentence)
            self.playback.add_audio(generation, index, audio)
        while not stopped() and self.playback.busy(generation):
            await asyncio.sleep(0.02)

    async def say(self, generation: int, tts: PiperTTS, length_scale: float | None, text: str, stopped) -> None:
        """Speak a fixed text (the greeting) sentence by sentence."""
        sentences: asyncio.Queue[str | None] = asyncio.Queue()
        splitter = SentenceSplitter(first_clause=True)
        for sentence in [*splitter.feed(text), *splitter.flush()]:
            sentences.put_nowait(sentence)
        sentences.put_nowait(None)
        await self.speak(generation, tts, length_scale, sentences, stopped)


def close_turn(turn: Turn, final: TurnUpdate | None, say: Callable[[str], None], voice_problem: str | None) -> None:
    """The turn's outcome in its latency row, and the status line after it (`voice_problem`: why a reply
    was not spoken, said instead of "Listening…")."""
    latency = turn.latency
    if final is not None and final.error:
        latency.outcome = "error"
        say(final.error)
    elif final is not None and final.status is MessageStatus.partial:
        latency.outcome = "stopped"
        say("Stopped. Listening…")
    elif turn.interrupted:
        latency.outcome = "you went on" if turn.speculation.discarded else "interrupted"
    else:
        latency.outcome = "complete" if voice_problem is None else "no voice"
        say(voice_problem or "Listening…")


class Reply:
    """One reply of the model to a turn, spoken as it streams."""

    def __init__(
        self,
        chat: ChatFlow,
        speaker: Speaker,
        turn: Turn,
        clock: Callable[[], float],
        say: Callable[[str], None],
        post: Callable[[VoiceEvent], None],
        silence: Callable[[], None],
    ) -> None:
        self.chat = chat
        self.speaker = speaker
        self.turn = turn
        self.clock = clock
        self.say = say
        self.post = post
        self.silence = silence  # stop the audio now (the reply was stopped from elsewhere)
        self.expression: asyncio.Task | None = None  # held: the loop keeps only weak references to tasks

    def commit(self) -> bool:
        """The reply is about to be heard: save the user's words (unless they went on talking)."""
        turn = self.turn
        if turn.interrupted or not turn.speculation.commit():
            return False
        turn.latency.speculative = turn.latency.speculative and "used"
        self.post(VoiceEvent(conversation_id=turn.conversation_id, persona_id=turn.persona_id))
        return True

    async def run(
        self,
        text: str,
        tts: PiperTTS | None,
        length_scale: float | None,
        voice_problem: str | None,
        speculative: bool = True,
    ) -> None:
        turn, latency = self.turn, self.turn.latency
        assert turn.persona_id and turn.conversation_id
        sentences: asyncio.Queue[str | None] = asyncio.Queue()
        splitter = SentenceSplitter(first_clause=True)

        reply_text = ""

        async def heard() -> None:
            # Runs inside the flow's stream once the model is done: speak the rest, wait until it is heard.
            self.expression = asyncio.get_running_loop().create_task(self._show_expression(reply_text))
            for sentence in splitter.flush():
                sentences.put_nowait(sentence)
            sentences.put_nowait(None)
            await turn.heard.wait()

        async def speak() -> None:
            await self.speaker.speak(
                turn.generation, tts, length_scale, sentences, stopped=lambda: turn.interrupted, commit=self.commit
            )
            turn.heard.set()

        speaker = asyncio.get_running_loop().create_task(speak())
        final = None
        reply_len = 0
        try:
            updates = self.chat.send(
                turn.persona_id,
                turn.conversation_id,
                text,
                until_heard=heard,
                speculation=turn.speculation if speculative else None,
            )
            # aclosing: cancelled here (the user went on), the flow's own cleanup must run now and in order
            # (it withdraws the user's words); left to the garbage collector, nested generators fail to close.
            async with contextlib.aclosing(updates):
                async for update in updates:
                    if not speculative and not turn.speculation.committed:
                        turn.speculation.commit()  # the first update says the flow saved the words: the turn stands
                        self.post(VoiceEvent(conversation_id=turn.conversation_id, persona_id=turn.persona_id))
                        continue
                    if update.done:
                        final = update
                        latency.generation = update.generation
                        break
                    if latency.first_token_at is None and update.reply:
                        latency.first_token_at = self.clock()
                    for sentence in splitter.feed(update.reply[reply_len:]):
                        sentences.put_nowait(sentence)
                    reply_len, reply_text = len(update.reply), update.reply
                    if turn.user_saved and voice_problem:
                        self.say(voice_problem)
                    elif turn.user_saved:
                        self.say("Speaking… (talk over me to interrupt)")
            if final is not None and final.status is MessageStatus.partial and not turn.interrupted:
                # Stopped from the Chat tab (or the API): silence the voice as well.
                turn.interrupted = True
                self.silence()
        finally:
            sentences.put_nowait(None)  # the speaker stops here if heard() never ran (error, cancel)
            turn.heard.set()
            if not speaker.done():
                if turn.interrupted:
                    speaker.cancel()
                try:
                    await speaker
                except asyncio.CancelledError:
                    pass
        close_turn(turn, final, self.say, voice_problem)
        self.post(VoiceEvent(conversation_id=turn.conversation_id, persona_id=turn.persona_id))

    async def _show_expression(self, reply: str) -> None:
        """The call screen shows the reply's expression while it is spoken (labelled off the reply's path)."""
        try:
            label = await self.chat.expression_of(reply)
        except Exception:  # the face just stays as it is
            log.exception("voice: no expression for the reply")
            return
        if label is not None:
            self.post(VoiceEvent(emotion=label))
