"""One voice conversation over WebRTC, wiring the stages: echo -> VAD -> end of turn -> transcript -> reply -> speech.

A FastRTC `AsyncStreamHandler`, one copy per connection, all on the server's event loop:

- `receive()` gets 20 ms microphone frames, normalises them, takes the avatar's own voice out
  (`EchoCanceller`, with what `emit()` played as the reference) and runs the 32 ms VAD (`Endpointer`).
- While the user talks, whisper transcribes the audio so far (`LiveTranscriber`) and the page shows it.
- At a short pause the end-of-turn model (Smart Turn v3) judges whether the utterance sounds finished:
  if so the turn ends now; if not, it ends at the long pause limit (`--silence-ms`) unless the user goes on.
- A turn (a task): the transcript (usually already there) -> `ChatFlow.send` in the persona and
  conversation chosen in the page -> sentences as tokens arrive -> Piper -> `Playback`, which `emit()`
  drains in real time. The reply is speculative until its first audio is queued: speech before that
  cancels it silently (nothing saved, nothing played) and the new words join the same utterance.
- Speech while the avatar is answering holds its voice and is judged (`overlap.TalkOver`): a real
  interruption stops it (what was heard is saved, "interrupted"); after a backchannel ("mm-hmm", "okay")
  it carries on.
- The call's conversation and the greeting a new chat opens with: `conversation.CallConversation`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

import av
import numpy as np
from fastrtc import AdditionalOutputs, AsyncStreamHandler

from avatar.context import AppContext
from avatar.core.errors import AvatarError
from avatar.speech.audio import SAMPLE_RATE, to_mono_16k
from avatar.speech.stt import Transcript
from avatar.speech.tts import PiperTTS
from avatar.speech.turn import COMPLETE
from avatar.voice.conversation import CallConversation
from avatar.voice.echo import EchoCanceller
from avatar.voice.endpointing import Endpointer, EndpointOptions, NotSpeech, Pause, Quiet, SpeechStarted, Utterance
from avatar.voice.latency import TurnLatency
from avatar.voice.models import VoiceModels
from avatar.voice.overlap import TalkOver
from avatar.voice.playback import OUTPUT_RATE, Playback
from avatar.voice.reply import Reply, Speaker
from avatar.voice.scene_call import SceneReply
from avatar.voice.state import BargeIn, Mode, Turn, VoiceEvent, VoiceInputs
from avatar.voice.transcription import Key, LiveTranscriber
from avatar.voice.turn_end import judge
from avatar.voice.words import HUM_SPELLINGS, heard_words

__all__ = ["BargeIn", "Mode", "VoiceEvent", "VoiceHandler", "VoiceInputs"]

log = logging.getLogger(__name__)

MUTE_TAIL_S = 0.3  # in "mute while speaking" mode, the mic stays off this long after the avatar's audio (echo)
# Speech over the avatar holds its voice at once; this much speech makes it a real interruption. Shorter
# speech is judged by its words when it ends: "mm-hmm", "yeah", "okay" let the avatar carry on.
BACKCHANNEL_MAX_S = 0.7
# Speech over the echo no louder than the echo can be holds the avatar only after this long (s): what AEC3 lets
# through lasts 100-300 ms, and a hold at each made the avatar stutter (7-9 replies of 40 in the WebRTC bench).
ECHO_HOLD_AFTER_S = 0.5
AFTER_STOPPED_S = 2.0  # a new turn waits at most this long for the reply it interrupted to be saved


class VoiceHandler(CallConversation, TalkOver, AsyncStreamHandler):
    """FastRTC copies this per connection (`copy()`); the models and the app context are shared."""

    def __init__(self, ctx: AppContext, models: VoiceModels, clock: Callable[[], float] = time.monotonic) -> None:
        # 16 kHz mono in: resample() below converts the browser's 48 kHz Opus before receive().
        super().__init__(expected_layout="mono", output_sample_rate=OUTPUT_RATE, input_sample_rate=SAMPLE_RATE)
        self.ctx = ctx
        self.models = models
        self.clock = clock
        self.inputs = VoiceInputs()
        self.playback = Playback(clock)
        self.speaker = Speaker(self.playback)
        self.transcriber = LiveTranscriber(models, self._hearing)
        self.echo = EchoCanceller()
        self.backchannels = 0  # speech over the avatar that let it carry on
        self.barge_ins: list[BargeIn] = []
        self.latencies: deque[TurnLatency] = deque(maxlen=8)
        self._endpointer: Endpointer | None = None
        self._outputs: deque[AdditionalOutputs] = deque()
        self._turn: Turn | None = None
        self._judging: asyncio.Task | None = None  # the end-of-turn model at the current pause
        self._unsure_since: float | None = None  # the avatar is held: is the user interrupting, or saying "mm-hmm"?
        self._judged_utterance: Utterance | None = None  # speech over the avatar that ended while being judged
        self._onset_over_echo = False  # speech began over the avatar's echo: held once it lasts (see listen())
        self._speech_began_at: float | None = None  # when the latest speech began (clock time)
        self._carry: np.ndarray | None = None  # an utterance cut off by more speech before it was saved
        self._carry_speech_s = 0.0  # how much speech the VAD heard in it
        self._turn_count = 0
        self._created: tuple[str, str] | None = None  # (persona, conversation) this connection started
        self._created_seen = False  # the page has reported that conversation back
        self._greeting: int | None = None  # the Playback generation of the greeting being spoken
        self._status = ""
        self._shown_hearing = ""
        self._caption = ""
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
            user_speaking = self._endpointer is not None and self._endpointer.in_speech
            audio = self.echo.clean(to_mono_16k(samples, rate), self.clock(), user_speaking)
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
            self.echo.played(chunk, OUTPUT_RATE, self.clock())
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
            pause_ms=s.vad_pause_ms,
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
            self._on_utterance(event, ended_by="button")
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
                self._speech_began_at = self.clock() - endpointer.speech_s  # (the VAD's onset took that long)
                self.transcriber.reset()
                over_avatar = self._audible_reply()
                # Over the avatar it may be "mm-hmm": the prompt has whisper spell a hum as one (see words.py).
                self.transcriber.prompt = self.names_in_call() + (f" {HUM_SPELLINGS}" if over_avatar else "")
                if over_avatar and (self.echo.echo_heard() or self.echo.echo_unmeasured()):
                    # On speakers AEC3 lets through 100-200 ms of echo now and then (the reply's start, a loud
                    # word after a gap): a hold at each made 6 of 20 replies stutter for ~1 s in the WebRTC bench.
                    # So here speech must last as long as the shortest utterance, and be louder than the echo can
                    # be, before the avatar holds (see below). Until the echo is measured, that is not known: at a
                    # call's first reply its echo arrived before the canceller knew of it, a hold cut it to a
                    # fragment, and whisper made "To-" (p 0.85) of that, which stopped the reply.
                    self._onset_over_echo = True
                elif over_avatar:
                    self._hold()
                elif self.replying():
                    self.barge_in(reason="speech", began_at=self._speech_began_at)
                elif self._echo_may_follow():
                    # Its last words may still be coming back: judged by loudness as over the avatar (no hold).
                    self._onset_over_echo = True
                    log.debug("voice: speech as the reply's echo may still come back: told from it by loudness")
            elif self._unsure_since is not None and isinstance(event, NotSpeech):
                self._resume("too short to be words")
            elif self._unsure_since is not None and isinstance(event, Pause):
                self._judge_interruption(event)
            elif self._unsure_since is not None and isinstance(event, Utterance):
                # The pause limit came before whisper's words on this speech over the avatar: they still decide.
                self._judged_utterance = event
            elif self._onset_over_echo and isinstance(event, (Quiet, Pause, Utterance)):
                # It paused never louder than the echo, so never held: what AEC3 left of the echo, not a turn. (Also
                # just after a reply: "That's... enjoy it.", its last words coming back, was answered as a turn.)
                if isinstance(event, Pause):
                    endpointer.end_turn(event.number)
                if not isinstance(event, Quiet):
                    self._onset_over_echo = False
                    log.debug("voice: speech over the avatar no louder than its echo: not held, dropped")
            elif isinstance(event, Quiet):
                # The user may be done: whisper starts on what they said, before the pause is judged.
                self.transcriber.at_pause(self._key(), self._audio_so_far(event.audio))
            elif isinstance(event, Pause):
                self._on_pause(event)
            elif isinstance(event, Utterance):
                self._on_utterance(event, ended_by="length" if event.reason == "max_length" else "silence")
            elif isinstance(event, NotSpeech) and self._carry is not None:
                # A cough cut in while the previous utterance was being answered: answer that one.
                carried, self._carry = self._carry, None
                utterance = Utterance(audio=carried, reason="pause", speech_s=self._carry_speech_s)
                self._on_utterance(utterance, ended_by="silence")
            elif isinstance(event, NotSpeech) and self._turn is None:
                self._hearing("")
                self._say("Listening…")
        if not endpointer.in_speech:
            self._onset_over_echo = False  # it ended too short to be words: no hold, no stutter
        elif (
            self._onset_over_echo
            and endpointer.speech_s * 1000 >= endpointer.options.min_speech_ms
            # Held once it is louder than the echo can be, or goes on too long for the echo AEC3 lets through.
            # (After the reply nothing is held: it waits for its pause to be told by loudness alone.)
            and (
                (endpointer.speech_s >= ECHO_HOLD_AFTER_S and self._audible_reply())
                or self._voice_over_echo(endpointer.heard_s)
            )
        ):
            self._onset_over_echo = False
            if self._audible_reply():
                self._hold()
        if endpointer.in_speech:
            if (
                self._unsure_since is not None
                and endpointer.speech_s > BACKCHANNEL_MAX_S
                and self._voice_over_echo(endpointer.heard_s)
            ):
                self._interrupt("speech")  # too long for "mm-hmm": the user is taking the turn
            self.transcriber.maybe_live(self._key(), endpointer.speech_s, self._audio_so_far)

    def _key(self) -> Key:
        endpointer = self._endpointer_now()
        carried = 0 if self._carry is None else self._carry.size
        return (endpointer.utterances, round(endpointer.speech_s * 1000), carried)

    def _audio_so_far(self, audio: np.ndarray | None = None) -> np.ndarray:
        audio = self._endpointer_now().audio_so_far() if audio is None else audio
        return audio if self._carry is None else np.concatenate((self._carry, audio))

    def _on_pause(self, pause: Pause) -> None:
        """A short pause: ask the end-of-turn model and the words so far whether the user is done."""
        audio = self._audio_so_far(pause.audio)
        key = self._key()
        self.transcriber.at_pause(key, audio)  # (already running since the user went quiet)
        if self._judging is not None and not self._judging.done():
            self._judging.cancel()
        self._judging = asyncio.get_running_loop().create_task(self._judge(pause, audio, key))

    async def _judge(self, pause: Pause, audio: np.ndarray, key: Key) -> None:
        try:
            model = await asyncio.to_thread(self.models.turn)
            probability = await asyncio.to_thread(model.probability, audio)
            log.debug(
                "voice: pause %d sounds %s (p=%.2f)",
                pause.number,
                "finished" if probability >= COMPLETE else "unfinished",
                probability,
            )
            # Even when it sounds unfinished the words may be a whole question (turn_end.py); that pass has been
            # running since the user went quiet, so reading it costs little more than Smart Turn did.
            transcript = await self.transcriber.final(key, audio)
        except AvatarError as error:  # no end-of-turn model: the long pause still ends turns
            self._say(error.message)
            return
        except Exception:
            log.exception("voice: the end-of-turn model failed; the long pause ends this turn")
            return
        verdict = judge(probability, transcript.text, transcript.probability)
        log.debug("voice: pause %d: %s", pause.number, verdict)
        if not verdict.complete:
            return  # sounds or reads unfinished ("... and the"): keep listening until the long pause, or more words
        utterance = self._endpointer_now().end_turn(pause.number)
        if utterance is not None:  # None: they went on talking meanwhile
            self._on_utterance(utterance, ended_by="meaning", key=self._key_of(utterance))

    def _key_of(self, utterance: Utterance) -> Key:
        # end_turn() has reset the endpointer: the key of the utterance it returned, as it was at the pause.
        endpointer = self._endpointer_now()
        carried = 0 if self._carry is None else self._carry.size
        return (endpointer.utterances, round(utterance.speech_s * 1000), carried)

    def _on_utterance(self, event: Utterance, ended_by: str, key: Key | None = None) -> None:
        now = self.clock()
        key = key or self._key_of(event)
        audio, speech_s = event.audio, event.speech_s
        previous = self._turn
        if self.replying():
            # First: a reply taken back leaves its words to go with these.
            self.barge_in(reason="new utterance", began_at=self._speech_began_at)
        carried = self._carry is not None
        if self._carry is not None:
            audio, self._carry = np.concatenate((self._carry, audio)), None
            speech_s += self._carry_speech_s
        if self._judging is not None and not self._judging.done() and ended_by != "meaning":
            self._judging.cancel()
        if event.reason == "max_length":
            self._say(f"You talked for over {self.ctx.settings.max_utterance_s:.0f} s: answering what I heard so far.")
        self._turn_count += 1
        latency = TurnLatency(self._turn_count, endpoint_at=now, speech_s=audio.size / SAMPLE_RATE)
        latency.pause_s, latency.ended_by = event.pause_s, ended_by
        if ended_by != "button":
            latency.speculative = "started"
        turn = Turn(latency=latency, audio=audio, speech_s=speech_s, carried=carried)
        self._turn = turn
        after = previous.task if previous is not None and previous.task is not None else None
        turn.task = asyncio.get_running_loop().create_task(self._run_turn(turn, key, after))

    # -- one turn -------------------------------------------------------------------------------
    async def _run_turn(self, turn: Turn, key: Key, after: asyncio.Task | None = None) -> None:
        latency = turn.latency
        try:
            self._say("Transcribing…" if self.models.ready else self.models.status)
            transcript: Transcript = await self.transcriber.final(key, turn.audio)
            latency.transcript_at = self.clock()
            if after is not None and not after.done():
                # The reply this turn interrupted is saved as it stops: before these words, not after them.
                await asyncio.wait({after}, timeout=AFTER_STOPPED_S)
            text = heard_words(transcript, turn.speech_s)
            if not text and not turn.carried:
                text = self.transcriber.live_words()  # (not when audio was carried in: the live pass lacks it)
                if text:
                    log.info("voice: the final transcript was guesswork; the live one of a moment before stands")
            if not text:
                latency.outcome = "no words heard"
                latency.speculative = ""
                self._hearing("")
                self._say("I didn't catch that. Could you say it again?")
                return
            self._hearing("")
            self._say("Thinking…")
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

    async def _reply(self, turn: Turn, text: str) -> None:
        persona_id, conversation_id = await self._target()
        speculative = turn.latency.ended_by != "button"  # released, the button says the turn is over for certain
        if conversation_id and self.ctx.scenes.is_scene(conversation_id):
            await SceneReply(self, turn, conversation_id).run(text, speculative)  # each in its speaker's voice
            return
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
        reply = Reply(self.ctx.chat, self.speaker, turn, self.clock, self._say, self._post, self._silence)
        await reply.run(text, tts, length_scale, voice_problem, speculative=speculative)

    def _silence(self) -> None:
        self.echo.forget_unplayed(self.playback.unsent_s())
        self.playback.stop()
        if self._clear_queue is not None:
            self._clear_queue()

    # -- telling the page -----------------------------------------------------------------------
    def _say(self, status: str) -> None:
        if status != self._status:
            self._status = status
            self._post(VoiceEvent(status=status))

    def _hearing(self, text: str) -> None:
        """The live transcript of what the user is saying ("" when the turn is over)."""
        if text != self._shown_hearing:
            self._shown_hearing = text
            self._post(VoiceEvent(hearing=text))

    def _show_caption(self, sentence: str) -> None:
        if sentence != self._caption:
            self._caption = sentence
            self._post(VoiceEvent(caption=sentence))

    def _post(self, event: VoiceEvent) -> None:
        self._outputs.append(AdditionalOutputs(event))
