"""One voice conversation over WebRTC: microphone -> VAD -> whisper -> ChatFlow -> Piper -> speaker, with barge-in.

A FastRTC `AsyncStreamHandler`, one copy per connection, all on the server's event loop:

- `receive()` gets 20 ms microphone frames, normalises them and runs the 32 ms VAD (`Endpointer`).
  Speech onset while the avatar is answering is a barge-in: the queued audio is dropped at once,
  the reply is cancelled through `ChatFlow.stop(conversation, spoken_text=<what was heard>)`, and
  the new utterance is handled when it ends. A pause ends an utterance and starts a turn.
- A turn (a task): transcribe (worker thread) -> `ChatFlow.send` in the persona and conversation
  chosen in the page (the same history as text chat) -> sentences as tokens arrive -> Piper
  (worker thread) -> `Playback`, which `emit()` drains in real time.
- The turn's reply stays "in progress" until its audio has been heard (`ChatFlow.send(until_heard=)`),
  so a barge-in at any moment saves exactly the words the user heard, with status "interrupted".
- A call on a new chat opens as a call with the character would: once the page has said which
  character and greeting it shows, the conversation is created with that greeting as its first
  message and the greeting is spoken through the same `Playback` as replies (so talking over it
  stops it). The greeting stays saved whole: it is the card's text, shown whole in the Chat tab,
  not a model reply that was cut. An existing conversation is joined without a word.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import av
import numpy as np
from fastrtc import AdditionalOutputs, AsyncStreamHandler

from avatar.context import AppContext
from avatar.conversations.schemas import MessageStatus
from avatar.core.errors import AvatarError, NotFoundError
from avatar.core.logging import private
from avatar.speech.audio import SAMPLE_RATE, resample, to_mono_16k
from avatar.speech.sentences import SentenceSplitter, speakable
from avatar.speech.tts import PiperTTS
from avatar.voice.endpointing import Endpointer, EndpointOptions, NotSpeech, SpeechStarted, Utterance
from avatar.voice.latency import TurnLatency
from avatar.voice.models import VoiceModels
from avatar.voice.playback import OUTPUT_RATE, Playback

log = logging.getLogger(__name__)

ARGS_WAIT_S = 2.0  # how long a turn waits for the page to say which persona/conversation it is in
MUTE_TAIL_S = 0.3  # in "mute while speaking" mode, the mic stays off this long after the avatar's audio (echo)


class Mode(str, Enum):
    hands_free = "Hands-free"
    mute_while_speaking = "Mute mic while the avatar speaks"
    push_to_talk = "Push to talk"


@dataclass
class VoiceInputs:
    """What the page sends with the stream (FastRTC additional inputs), in this order."""

    persona_id: str | None = None
    conversation_id: str | None = None
    greeting_index: int = 0  # the greeting a new chat opens with (the Chat tab's "↻ Another greeting")
    mode: Mode = Mode.hands_free
    threshold: float | None = None
    silence_ms: int | None = None
    talking: bool = False  # push-to-talk: the Talk button is on

    COUNT = 7

    @classmethod
    def from_args(cls, args: list[Any]) -> VoiceInputs:
        # FastRTC prepends the WebRTC value (and a marker) to the inputs: ours are the last seven.
        values = list(args)[-cls.COUNT :] if len(args) >= cls.COUNT else []
        if not values:
            return cls()
        persona_id, conversation_id, greeting_index, mode, threshold, silence_ms, talking = values
        try:
            mode_value = Mode(mode)
        except ValueError:
            mode_value = Mode.hands_free
        return cls(
            persona_id=persona_id or None,
            conversation_id=conversation_id or None,
            greeting_index=greeting_index if isinstance(greeting_index, int) and greeting_index > 0 else 0,
            mode=mode_value,
            threshold=float(threshold) if threshold is not None else None,
            silence_ms=int(silence_ms) if silence_ms is not None else None,
            talking=bool(talking),
        )


@dataclass
class VoiceEvent:
    """What the handler tells the page (through FastRTC's additional outputs)."""

    status: str | None = None
    conversation_id: str | None = None  # set: the conversation changed, refresh the chat views
    persona_id: str | None = None
    latency_rows: list[list[object]] | None = None
    caption: str | None = None  # the sentence whose audio is now being sent to the page (the call screen's caption)
    emotion: str | None = None  # the reply's expression label, known once the model is done


@dataclass
class BargeIn:
    """When a barge-in happened and what it did (for the log, tests and the benchmark)."""

    at: float
    spoken_text: str
    stopped_generation: bool


@dataclass
class Turn:
    latency: TurnLatency
    audio: np.ndarray
    persona_id: str | None = None
    conversation_id: str | None = None
    task: asyncio.Task | None = None
    generation: int = 0  # the Playback generation of this reply
    user_saved: bool = False
    interrupted: bool = False
    heard: asyncio.Event = field(default_factory=asyncio.Event)  # all of the reply's audio was played


class VoiceHandler(AsyncStreamHandler):
    """FastRTC copies this per connection (`copy()`); the models and the app context are shared."""

    def __init__(self, ctx: AppContext, models: VoiceModels, clock: Callable[[], float] = time.monotonic) -> None:
        # 16 kHz mono in: resample() below converts the browser's 48 kHz Opus before receive().
        super().__init__(expected_layout="mono", output_sample_rate=OUTPUT_RATE, input_sample_rate=SAMPLE_RATE)
        self.ctx = ctx
        self.models = models
        self.clock = clock
        self.inputs = VoiceInputs()
        self.playback = Playback(clock)
        self.barge_ins: list[BargeIn] = []
        self.latencies: deque[TurnLatency] = deque(maxlen=8)
        self._endpointer: Endpointer | None = None
        self._outputs: deque[AdditionalOutputs] = deque()
        self._turn: Turn | None = None
        self._carry: np.ndarray | None = None  # an utterance cut off by more speech before it was saved
        self._turn_count = 0
        self._created: tuple[str, str] | None = None  # (persona, conversation) this connection started
        self._created_seen = False  # the page has reported that conversation back
        self._greeting: int | None = None  # the Playback generation of the greeting being spoken
        self._status = ""
        self._caption = ""
        self._expression: asyncio.Task | None = None  # held: the loop keeps only weak references to tasks
        self._broken: str | None = None

    def copy(self) -> VoiceHandler:
        return VoiceHandler(self.ctx, self.models, self.clock)

    def resample(self, frame: av.AudioFrame) -> Iterator[av.AudioFrame]:
        # FastRTC's resampler hands on frames of the *input's* sample count: 960 samples of 48 kHz
        # come out as 960 samples of 16 kHz, so the VAD saw the microphone 60 ms at a time, up to
        # 40 ms late. Without a frame size each 20 ms goes on at once (libswresample keeps ~1 ms back;
        # soxr's streaming resampler ~20 ms, which is why it is not used on this path).
        if self._resampler is None:
            self._resampler = av.AudioResampler(format="s16", layout=self.expected_layout, rate=self.input_sample_rate)
        yield from self._resampler.resample(frame)

    # -- FastRTC hooks --------------------------------------------------------------------------
    async def start_up(self) -> None:
        # FastRTC runs this as its own task when the call starts, beside receive() and emit().
        self.models.warm_up_in_background()
        await self.fetch_args()  # the page answers with the persona/conversation (set_args)
        self._say(self.models.status if not self.models.ready else "Listening… talk whenever you like.")
        await self.greet()

    async def receive(self, frame: tuple[int, np.ndarray]) -> None:
        if self._broken:
            return
        try:
            rate, samples = frame
            audio = to_mono_16k(samples, rate)
            if audio.size:
                self.listen(audio)
        except AvatarError as error:  # voice detection cannot load: say so once, not 50 times a second
            self._broken = error.message
            self._say(error.message)
        except Exception:  # one bad frame must never end the call
            log.exception("voice: dropped a microphone frame")

    async def emit(self) -> Any:
        if self._outputs:
            return self._outputs.popleft()
        released = await self.playback.next_chunk(timeout_s=0.05)
        if released is not None:
            generation, chunk = released
            turn = self._turn
            if turn is not None and turn.generation == generation and turn.latency.first_audio_at is None:
                turn.latency.first_audio_at = self.clock()
            self._show_caption(self.playback.sentence_playing())
            return OUTPUT_RATE, chunk.reshape(1, -1)
        if self._outputs:
            return self._outputs.popleft()
        return None

    def set_args(self, args: list[Any]) -> None:
        # Gradio calls this from a worker thread; the handler's state lives on the event loop.
        try:
            loop = self.loop
        except AttributeError:
            loop = None
        if loop is not None and loop.is_running():
            loop.call_soon_threadsafe(self._set_args_now, list(args))
        else:
            self._set_args_now(list(args))

    def _set_args_now(self, args: list[Any]) -> None:
        try:
            super().set_args(args)
            self.apply_inputs(VoiceInputs.from_args(args))
        except Exception:
            log.exception("voice: could not apply the page's inputs")

    async def shutdown(self) -> None:
        # Hanging up mid-reply is an interruption like any other: keep what was heard.
        if self._turn is not None:
            self.barge_in(reason="hang-up")
        self.playback.stop()

    # -- inputs from the page -------------------------------------------------------------------
    def apply_inputs(self, inputs: VoiceInputs) -> None:
        previous, self.inputs = self.inputs, inputs
        if self._created is not None and inputs.conversation_id == self._created[1]:
            self._created_seen = True
        endpointer = self._endpointer_now()
        endpointer.set_options(self._endpoint_options())
        if inputs.mode is Mode.push_to_talk:
            if inputs.talking and not previous.talking:
                self._press()
            elif previous.talking and not inputs.talking:
                self._release()
        elif previous.mode is Mode.push_to_talk:
            endpointer.reset()

    def _endpoint_options(self) -> EndpointOptions:
        s = self.ctx.settings
        return EndpointOptions(
            threshold=self.inputs.threshold or s.vad_threshold,
            onset_ms=s.vad_barge_in_ms,
            min_speech_ms=s.vad_min_speech_ms,
            min_silence_ms=self.inputs.silence_ms or s.vad_min_silence_ms,
            max_utterance_s=s.max_utterance_s,
            end_on_pause=self.inputs.mode is not Mode.push_to_talk,
        )

    def _endpointer_now(self) -> Endpointer:
        if self._endpointer is None:
            self._endpointer = Endpointer(self._endpoint_options())
        return self._endpointer

    def _press(self) -> None:
        if self.replying():
            self.barge_in(reason="push-to-talk")
        self._endpointer_now().reset()
        self._say("Listening… press the button again when you are done.")

    def _release(self) -> None:
        event = self._endpointer_now().finish("released")
        if isinstance(event, Utterance):
            self._on_utterance(event)
        else:
            self._say("I didn't hear anything. Press Talk and speak.")

    # -- listening ------------------------------------------------------------------------------
    def listen(self, audio: np.ndarray) -> None:
        """Run 16 kHz mono microphone audio through the endpointer and act on what it finds."""
        mode = self.inputs.mode
        endpointer = self._endpointer_now()
        if mode is Mode.push_to_talk and not self.inputs.talking:
            return
        if mode is Mode.mute_while_speaking and self.clock() < self.playback.audible_until() + MUTE_TAIL_S:
            endpointer.reset()
            return
        for event in endpointer.feed(audio):
            if isinstance(event, SpeechStarted):
                if self.replying():
                    self.barge_in(reason="speech")
            elif isinstance(event, Utterance):
                self._on_utterance(event)
            elif isinstance(event, NotSpeech) and self._carry is not None:
                # A cough cut in while the previous utterance was being transcribed: answer that one.
                carried, self._carry = self._carry, None
                self._on_utterance(Utterance(audio=carried, reason="pause", speech_s=carried.size / SAMPLE_RATE))
            elif isinstance(event, NotSpeech) and self._turn is None:
                self._say("Listening…")

    def replying(self) -> bool:
        """Whether the avatar is working on or speaking a reply (or its greeting)."""
        turn = self._turn
        working = turn is not None and turn.task is not None and not turn.task.done() and not turn.interrupted
        return working or self._greeting_on() or self.playback.busy()

    def _greeting_on(self) -> bool:
        # A barge-in or a reply starts a new playback generation: the greeting is over then.
        return self._greeting is not None and self._greeting == self.playback.generation

    def barge_in(self, reason: str = "speech") -> BargeIn:
        """Silence the avatar now and cancel its reply, keeping only the words the user heard."""
        now = self.clock()
        spoken = self.playback.stop()
        if self._clear_queue is not None:
            self._clear_queue()  # FastRTC's own queue of frames not yet sent
        stopped = False
        turn = self._turn
        if turn is not None and turn.task is not None and not turn.task.done() and not turn.interrupted:
            turn.interrupted = True
            if turn.user_saved and turn.conversation_id:
                # Cancels the model stream, or the wait for the reply to be heard, whichever is on.
                stopped = self.ctx.chat.stop(turn.conversation_id, spoken_text=spoken)
                if not stopped:
                    turn.heard.set()
            else:
                # Not saved yet (still transcribing): the user was not done; hear it with what comes next.
                turn.task.cancel()
                self._carry = turn.audio
                self._turn = None
        record = BargeIn(at=now, spoken_text=spoken, stopped_generation=stopped)
        self.barge_ins.append(record)
        log.info("voice barge-in (%s): reply stopped, heard %s", reason, private(spoken))
        self._say("Listening…")
        return record

    def _on_utterance(self, event: Utterance) -> None:
        now = self.clock()
        audio = event.audio
        if self._carry is not None:
            audio, self._carry = np.concatenate((self._carry, audio)), None
        if event.reason == "max_length":
            self._say(f"You talked for over {self.ctx.settings.max_utterance_s:.0f} s: answering what I heard so far.")
        if self.replying():
            self.barge_in(reason="new utterance")
        self._turn_count += 1
        latency = TurnLatency(self._turn_count, endpoint_at=now, speech_s=audio.size / SAMPLE_RATE)
        turn = Turn(latency=latency, audio=audio)
        self._turn = turn
        turn.task = asyncio.get_running_loop().create_task(self._run_turn(turn))

    # -- one turn -------------------------------------------------------------------------------
    async def _run_turn(self, turn: Turn) -> None:
        latency = turn.latency
        try:
            self._say("Transcribing…" if self.models.ready else self.models.status)
            stt = await asyncio.to_thread(self.models.stt)
            text = await asyncio.to_thread(stt.transcribe, turn.audio)
            latency.transcript_at = self.clock()
            if not text.strip():
                latency.outcome = "no words heard"
                self._say("I didn't catch that. Could you say it again?")
                return
            await self._reply(turn, text)
        except asyncio.CancelledError:
            latency.outcome = latency.outcome or "merged with the next utterance"
            raise
        except AvatarError as error:
            latency.outcome = "error"
            self._say(error.message)
        except Exception:
            log.exception("voice turn failed")
            latency.outcome = "error"
            self._say("Something went wrong with that turn. Please try again.")
        finally:
            if self._turn is turn:
                self._turn = None
            if latency.transcript_at is not None:
                self.latencies.append(latency)
                latency.log()
                self._post(VoiceEvent(latency_rows=[t.row() for t in reversed(self.latencies)]))

    async def _inputs_arrived(self) -> bool:
        """Whether the page has said which persona/conversation it shows (asking it, waiting briefly)."""
        if not self.args_set.is_set():
            await self.fetch_args()
            try:
                await asyncio.wait_for(self.args_set.wait(), ARGS_WAIT_S)
            except (asyncio.TimeoutError, TimeoutError):
                return False
        return True

    async def _target(self) -> tuple[str, str | None]:
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

    def _new_conversation(self, persona_id: str) -> str:
        """The conversation this connection started for `persona_id` and the page has not shown yet,
        else a new one opening with the greeting chosen in the page."""
        created = self._created
        if created is not None and not self._created_seen and created[0] == persona_id:
            return created[1]
        conversation_id = self.ctx.chat.start_conversation(persona_id, greeting_index=self.inputs.greeting_index)
        self._created, self._created_seen = (persona_id, conversation_id), False
        return conversation_id

    # -- the greeting ---------------------------------------------------------------------------
    async def greet(self) -> None:
        """On a new chat, speak the greeting the page shows, creating the conversation with it (see above)."""
        try:
            if not await self._inputs_arrived():
                return  # without the page's word it could be an existing conversation: say nothing
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
            splitter = SentenceSplitter()
            sentences: asyncio.Queue[str | None] = asyncio.Queue()
            for sentence in [*splitter.feed(text), *splitter.flush()]:
                sentences.put_nowait(sentence)
            sentences.put_nowait(None)
            await self._speak(generation, tts, length_scale, sentences, stopped=lambda: not self._greeting_on())
            if self._greeting_on():
                self._say("Listening…" if self.models.ready else self.models.status)
        except AvatarError as error:  # e.g. the character was deleted meanwhile
            self._say(error.message)
        except Exception:  # the call goes on without a greeting
            log.exception("voice: the greeting failed")
        finally:
            self._greeting = None

    async def _reply(self, turn: Turn, text: str) -> None:
        latency = turn.latency
        persona_id, conversation_id = await self._target()
        persona = self.ctx.personas.get(persona_id)
        tts: PiperTTS | None = None
        length_scale: float | None = None
        voice_problem: str | None = None
        try:
            tts, length_scale = await asyncio.to_thread(self.models.voice_for, persona)
        except AvatarError as error:
            voice_problem = error.message  # answer in text anyway, and say why it is silent
        if not conversation_id:
            conversation_id = self._new_conversation(persona_id)
        turn.persona_id, turn.conversation_id = persona_id, conversation_id
        turn.generation = self.playback.begin()

        sentences: asyncio.Queue[str | None] = asyncio.Queue()
        splitter = SentenceSplitter()

        reply_text = ""

        async def heard() -> None:
            # Runs inside the flow's stream once the model is done: speak the rest, wait until it is heard.
            self._expression = asyncio.get_running_loop().create_task(self._show_expression(reply_text))
            for sentence in splitter.flush():
                sentences.put_nowait(sentence)
            sentences.put_nowait(None)
            await turn.heard.wait()

        async def speak() -> None:
            await self._speak(turn.generation, tts, length_scale, sentences, stopped=lambda: turn.interrupted)
            turn.heard.set()

        speaker = asyncio.get_running_loop().create_task(speak())
        final = None
        reply_len = 0
        try:
            async for update in self.ctx.chat.send(persona_id, conversation_id, text, until_heard=heard):
                if not turn.user_saved:
                    turn.user_saved = True
                    self._post(VoiceEvent(status="Thinking…", conversation_id=conversation_id, persona_id=persona_id))
                    continue
                if update.done:
                    final = update
                    break
                if latency.first_token_at is None and update.reply:
                    latency.first_token_at = self.clock()
                    self._say(voice_problem or "Speaking… (talk over me to interrupt)")
                for sentence in splitter.feed(update.reply[reply_len:]):
                    sentences.put_nowait(sentence)
                reply_len, reply_text = len(update.reply), update.reply
            if final is not None and final.status is MessageStatus.partial and not turn.interrupted:
                # Stopped from the Chat tab (or the API): silence the voice as well.
                turn.interrupted = True
                self.playback.stop()
                if self._clear_queue is not None:
                    self._clear_queue()
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
        if final is not None and final.error:
            latency.outcome = "error"
            self._say(final.error)
        elif final is not None and final.status is MessageStatus.partial:
            latency.outcome = "stopped"
            self._say("Stopped. Listening…")
        elif turn.interrupted:
            latency.outcome = "interrupted"
        else:
            latency.outcome = "complete" if tts is not None else "no voice"
            self._say(voice_problem or "Listening…")
        self._post(VoiceEvent(conversation_id=conversation_id, persona_id=persona_id))

    async def _speak(
        self,
        generation: int,
        tts: PiperTTS | None,
        length_scale: float | None,
        sentences: asyncio.Queue[str | None],
        stopped: Callable[[], bool],
    ) -> None:
        """Synthesize sentences as they come and queue their audio; return once all was played (or stopped)."""
        while True:
            sentence = await sentences.get()
            if sentence is None or stopped():
                break
            index = self.playback.add_sentence(generation, sentence)
            text = speakable(sentence)
            audio = np.zeros(0, dtype=np.float32)
            if text and tts is not None:
                rate, spoken = await asyncio.to_thread(tts.synthesize, text, length_scale)
                audio = resample(spoken, rate, OUTPUT_RATE)
            if stopped():
                break
            self.playback.add_audio(generation, index, audio)
        while not stopped() and self.playback.busy(generation):
            await asyncio.sleep(0.02)

    # -- telling the page -----------------------------------------------------------------------
    async def _show_expression(self, reply: str) -> None:
        """The call screen shows the reply's expression while it is spoken (labelled off the reply's path)."""
        try:
            label = await self.ctx.chat.expression_of(reply)
        except Exception:  # the face just stays as it is
            log.exception("voice: no expression for the reply")
            return
        if label is not None:
            self._post(VoiceEvent(emotion=label))

    def _show_caption(self, sentence: str) -> None:
        if sentence != self._caption:
            self._caption = sentence
            self._post(VoiceEvent(caption=sentence))

    def _say(self, status: str) -> None:
        if status != self._status:
            self._status = status
            self._post(VoiceEvent(status=status))

    def _post(self, event: VoiceEvent) -> None:
        self._outputs.append(AdditionalOutputs(event))
