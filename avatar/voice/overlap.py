"""Speech over the avatar: hold its voice, then a real interruption stops it, a "mm-hmm" lets it go on.

Mixed into `VoiceHandler` (handler.py decides when: at speech onset over an audible reply, and when that
speech pauses). Holding pauses the avatar's audio at once (`Playback.hold`); the words said decide:
none, a backchannel ("mm-hmm", "okay") or the avatar's own echo (by its loudness, or its words) resume
it; anything else is a barge-in, which stops the reply and saves only what the user heard of it. A reply
stopped before a word of it was heard is taken back: the user was still talking, and their words join
what follows.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from avatar.core.logging import private
from avatar.speech.audio import SAMPLE_RATE
from avatar.speech.stt import Transcript
from avatar.voice.endpointing import Pause
from avatar.voice.state import BargeIn, Mode
from avatar.voice.words import heard_words, is_backchannel, is_echo

if TYPE_CHECKING:
    from avatar.voice.handler import VoiceHandler

log = logging.getLogger("avatar.voice.handler")  # (the handler's log, as before this was split out of it)

# Speech over the avatar is the user only if the microphone was clearly louder than the echo this long (s). Measured
# over WebRTC, echo -12 dB: the echo alone 0-0.06 s; the user talking over it 0.37-0.79 s by the 0.7 s rule, and
# a one-word "Stop." or "Wait." 5 dB over the echo 0.14-0.23 s (test_echo.py).
VOICE_OVER_ECHO_MIN_S = 0.1
# A reply's last words come back this long (s) after they were heard, at most: the echo's delay (up to 400 ms,
# echo.MAX_LAG_FRAMES) and the VAD's onset. Speech that starts by then may be only that echo.
ECHO_TAIL_S = 0.5


class TalkOver:
    """Mixed into `VoiceHandler`: speech while the avatar is speaking."""

    def _audible_reply(self: VoiceHandler) -> bool:
        """Whether the avatar is saying a reply the user hears (or its greeting): talking over it holds it."""
        if self.inputs.mode is Mode.push_to_talk or not self.playback.busy():
            return False
        turn = self._turn
        return self._greeting_on() or (turn is not None and turn.user_saved and not turn.interrupted)

    def _hold(self: VoiceHandler) -> None:
        self._unsure_since = self.clock()
        self._judged_utterance = None
        self.echo.forget_unplayed(self.playback.unsent_s())
        self.playback.hold()
        if self._clear_queue is not None:
            self._clear_queue()  # FastRTC's queue: those chunks are back in the playback's queue
        log.debug("voice: speech over the avatar: holding its voice (echo cancelled: %s)", self.echo.echo_heard())

    def _resume(self: VoiceHandler, why: str) -> None:
        self._unsure_since = None
        self.backchannels += 1
        self.playback.resume()
        log.info("voice: not an interruption (%s): carrying on", why)

    def _interrupt(self: VoiceHandler, reason: str) -> None:
        self._unsure_since = None
        self.barge_in(reason=reason, began_at=self._speech_began_at)

    def _judge_interruption(self: VoiceHandler, pause: Pause) -> None:
        """Short speech over the avatar ended: its words say whether it was "mm-hmm" or the user's turn."""
        key, audio = self._key(), self._audio_so_far(pause.audio)
        said = " ".join(s.text for s in self.playback.sentences)
        paused_at, heard_s = self.clock(), pause.audio.size / SAMPLE_RATE

        async def judge() -> None:
            try:
                transcript = await self.transcriber.final(key, audio)
            except Exception:
                log.exception("voice: could not transcribe speech over the avatar; taking it as an interruption")
                transcript = Transcript("interruption", 1.0)
            words = heard_words(transcript, pause.speech_s, over_avatar=True)
            # Ended by the pause limit while whisper worked (else it ends here, if the user is still quiet).
            ended, self._judged_utterance = self._judged_utterance, None
            if self._unsure_since is None:
                return  # decided meanwhile (more speech)
            # (The microphone since the speech began, to now: the user may have gone on while whisper worked.)
            echo_only = self._only_echo(heard_s + self.clock() - paused_at)
            log.debug("voice: speech over the avatar: %s", "its own echo" if echo_only else "louder than its echo")
            if echo_only or not words or is_backchannel(words) or is_echo(words, said):
                self._endpointer_now().end_turn(pause.number)  # dropped: not a turn
                self._resume("its own echo" if echo_only else "backchannel" if words else "no words")
                return
            self._interrupt("short interruption")
            if ended is not None:
                self._on_utterance(ended, ended_by="interruption", key=self._key_of(ended))
                return
            # The avatar is silent now, and whether the user is done is asked as at any pause: "Wait, stop for a
            # moment" pauses at the comma, and a reply to "Wait." alone would talk over the rest of it.
            await self._judge(pause, audio, key)

        self.transcriber.at_pause(key, audio)
        self._judging = asyncio.get_running_loop().create_task(judge())

    def _echo_may_follow(self: VoiceHandler) -> bool:
        """Whether the avatar's voice, just played to its end, may still be coming back through the microphone.
        (Not after a barge-in: the user is talking then, and "Wait, ... stop" goes on as before.)"""
        if not self.echo.echo_heard() or self.playback.cut_short:
            return False
        return self.clock() < self.playback.audible_until() + ECHO_TAIL_S

    def _only_echo(self: VoiceHandler, last_s: float) -> bool:
        """Whether the microphone's last `last_s` seconds were never clearly louder than the avatar's echo: what
        the VAD took for speech was what AEC3 left of the echo. (Whisper makes words of that too: "Brest from."
        for "breeze from", "Buddy." and "Like the reason." stopped replies in the bench at p 0.6-0.97.)"""
        voice_s = self.echo.voice_over_echo_s(last_s)
        return voice_s is not None and voice_s < VOICE_OVER_ECHO_MIN_S

    def _voice_over_echo(self: VoiceHandler, last_s: float) -> bool:
        """Whether the microphone's last `last_s` seconds were someone talking over the avatar, as far as loudness
        tells. While its echo is not yet measured and may be coming back, that is not known: no (how long it goes
        on over the avatar, then its words, decide); once the avatar is done and its echo with it, yes."""
        echo_may_come = self.replying() or self.clock() < self.playback.audible_until() + ECHO_TAIL_S
        if echo_may_come and self.echo.echo_unmeasured():
            return False
        return not self._only_echo(last_s)

    def replying(self: VoiceHandler) -> bool:
        """Whether the avatar is working on or speaking a reply (or its greeting)."""
        turn = self._turn
        working = turn is not None and turn.task is not None and not turn.task.done() and not turn.interrupted
        return working or self._greeting_on() or self.playback.busy()

    def _greeting_on(self: VoiceHandler) -> bool:
        # A barge-in or a reply starts a new playback generation: the greeting is over then.
        return self._greeting is not None and self._greeting == self.playback.generation

    def barge_in(self: VoiceHandler, reason: str = "speech", began_at: float | None = None) -> BargeIn:
        """Silence the avatar now and cancel its reply, keeping only the words the user heard. `began_at`: when the
        speech that stops it began; a reply not a word of which was heard by then is taken back (the user was
        still talking), though it went on over them for a while (speech over an echo not yet measured holds it
        only once it lasts)."""
        now = self.clock()
        self._unsure_since = None
        self.echo.forget_unplayed(self.playback.unsent_s())
        heard_before = self.playback.spoken_text(began_at) if began_at is not None else None
        spoken = self.playback.stop()
        heard_before = spoken if heard_before is None else heard_before
        if self._clear_queue is not None:
            self._clear_queue()  # FastRTC's own queue of frames not yet sent
        stopped = False
        turn = self._turn
        if turn is not None and turn.task is not None and not turn.task.done() and not turn.interrupted:
            turn.interrupted = True
            if turn.user_saved and turn.conversation_id:
                if not heard_before and turn.latency.ended_by != "button" and turn.speculation.withdraw():
                    # Not a word of the reply heard: the user was still talking (a pause ended the turn a moment
                    # too soon). Take it back, as before its first audio: one user message, not two in a row.
                    # (Not once the reply is saved: the turn stands then, and their words are not heard again.)
                    turn.latency.speculative, turn.latency.outcome = "cancelled", "you went on"
                    self._carry, self._carry_speech_s = turn.audio, turn.speech_s
                # Cancels the model stream, or the wait for the reply to be heard, whichever is on.
                stop = self.ctx.scenes.stop if turn.scene else self.ctx.chat.stop  # (a scene's: the rest too)
                stopped = stop(turn.conversation_id, spoken_text=spoken)
                if not stopped:
                    turn.heard.set()
            else:
                # Not heard yet: the user was not done. Nothing of it is kept; hear it with what comes next.
                turn.speculation.discard()
                turn.latency.speculative = "cancelled"
                turn.latency.outcome = "you went on"
                turn.task.cancel()
                self._carry, self._carry_speech_s = turn.audio, turn.speech_s
                self._turn = None
        record = BargeIn(at=now, spoken_text=spoken, stopped_generation=stopped)
        self.barge_ins.append(record)
        log.info("voice barge-in (%s): reply stopped, heard %s", reason, private(spoken))
        self._say("Listening…")
        return record
