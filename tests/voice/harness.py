"""Drive a VoiceHandler in-process as FastRTC does: receive() microphone frames, emit() in a loop, set_args().

The microphone runs in real time (20 ms frames, silence when nobody talks). With an `EchoPath` it also
hears the avatar, as a laptop's microphone hears its speakers: what was played, later and quieter.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np

from avatar.speech.audio import resample, to_int16
from avatar.voice.handler import VoiceEvent, VoiceHandler
from avatar.voice.playback import OUTPUT_RATE, PLAYOUT_DELAY_S

MIC_FRAME = 320  # 20 ms at 16 kHz


@dataclass(frozen=True)
class EchoPath:
    """The avatar's voice reaching the microphone: `delay_s` after it played, `gain_db` quieter."""

    delay_s: float = 0.08
    gain_db: float = -12.0


class Harness:
    def __init__(self, handler: VoiceHandler, echo: EchoPath | None = None) -> None:
        self.handler = handler.copy()  # as FastRTC does for each connection
        self.echo = echo
        self._far = np.zeros(0, np.float32)  # the avatar's voice as played, 16 kHz from self._t0
        self._t0 = time.monotonic()
        self._talk: deque[np.ndarray] = deque()  # 20 ms frames the user is about to say (real time)
        self.audio: list[tuple[float, np.ndarray]] = []  # (clock, chunk) of the avatar's voice
        self.events: list[VoiceEvent] = []
        self.cleared: list[float] = []
        self._drain: asyncio.Task | None = None
        self._quiet_mic: asyncio.Task | None = None
        self._start_up: asyncio.Task | None = None
        self._saying = False

    async def __aenter__(self) -> Harness:  # noqa: PYI034
        h = self.handler
        h._loop = asyncio.get_running_loop()
        h._clear_queue = self._clear
        self._drain = asyncio.create_task(self._emit_forever())
        self._quiet_mic = asyncio.create_task(self._silence_forever())
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in (self._drain, self._quiet_mic):
            if task is not None:
                task.cancel()
        if self._start_up is not None:
            self._start_up.cancel()
            await asyncio.gather(self._start_up, return_exceptions=True)
        turn = self.handler._turn
        if turn is not None and turn.task is not None:
            turn.task.cancel()
            await asyncio.gather(turn.task, return_exceptions=True)

    async def _emit_forever(self) -> None:
        while True:
            out = await self.handler.emit()
            if out is None:
                continue
            if isinstance(out, tuple):
                rate, chunk = out
                assert rate == OUTPUT_RATE and chunk.shape == (1, OUTPUT_RATE // 50)
                self.audio.append((time.monotonic(), chunk[0]))
                if self.echo is not None:
                    self._played(chunk[0], self.handler.playback.last_due + PLAYOUT_DELAY_S)
            else:
                self.events.append(out.args[0])

    def _clear(self) -> None:
        # FastRTC drops the frames it had not sent yet: they are never played, so they never echo either.
        now = time.monotonic()
        self.cleared.append(now)
        self._far[max(0, round((now + PLAYOUT_DELAY_S - self._t0) * 16_000)) :] = 0.0

    def _played(self, chunk: np.ndarray, due: float) -> None:
        audio = resample(chunk, OUTPUT_RATE, 16_000)
        start = max(0, round((due - self._t0) * 16_000))
        if self._far.size < start + audio.size:
            self._far = np.pad(self._far, (0, start + audio.size - self._far.size + 16_000))
        self._far[start : start + audio.size] = audio

    def _echo_at(self, now: float) -> np.ndarray:
        assert self.echo is not None
        end = round((now - self.echo.delay_s - self._t0) * 16_000)
        piece = self._far[max(0, end - MIC_FRAME) : max(0, end)]
        piece = np.pad(piece, (MIC_FRAME - piece.size, 0))
        return piece * 10 ** (self.echo.gain_db / 20)

    async def _silence_forever(self) -> None:
        # A microphone never stops sending: 20 ms frames in real time, silence when the user says nothing
        # (and the avatar's voice, with an echo path). The echo canceller learns from these frames.
        next_at = time.monotonic()
        while True:
            next_at += MIC_FRAME / 16_000
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            if self._saying:
                continue
            frame = self._talk.popleft() if self._talk else np.zeros(MIC_FRAME, np.float32)
            if self.echo is not None:
                # On the microphone's own clock: a late frame still carries the echo of its own 20 ms.
                frame = frame + self._echo_at(next_at)
            await self.handler.receive((16_000, to_int16(frame).reshape(1, -1)))

    def start(self) -> None:
        """The call starts: FastRTC runs the handler's start_up() as a task of its own (the greeting)."""
        self._start_up = asyncio.create_task(self.handler.start_up())

    async def started(self, timeout_s: float = 20) -> None:
        """Wait until start_up() is over: the greeting spoken (or stopped), or nothing to say."""
        assert self._start_up is not None, "start() first"
        await asyncio.wait_for(asyncio.shield(self._start_up), timeout_s)
        await self.until(lambda: not self.handler._outputs, what="its events to reach the page")

    async def page(
        self,
        persona: str | None = "aria",
        conversation: str | None = None,
        greeting: int = 0,
        mode: str = "Hands-free",
        threshold: float = 0.5,
        silence_ms: int = 600,
        talking: bool = False,
    ) -> None:
        """What the page sends (FastRTC's set_input: its own marker and the WebRTC id come first)."""
        self.handler.set_args(
            ["__webrtc_value__", "webrtc-id", persona, conversation, greeting, mode, threshold, silence_ms, talking]
        )
        await asyncio.sleep(0.01)

    async def say(self, audio_16k: np.ndarray, realtime: bool = False, frame: int = 320) -> float | None:
        """Send 16 kHz audio as int16 microphone frames; returns when speech started being sent."""
        onset = None
        self._saying = True
        try:
            for start in range(0, audio_16k.size, frame):
                piece = audio_16k[start : start + frame]
                if onset is None and np.sqrt(np.mean(piece**2)) > 0.01:
                    onset = time.monotonic()
                await self.handler.receive((16_000, to_int16(piece).reshape(1, -1)))
                await asyncio.sleep(frame / 16_000 if realtime else 0)
        finally:
            self._saying = False
        return onset

    async def talk(self, audio_16k: np.ndarray) -> float:
        """Say `audio_16k` through the real-time microphone (mixed with any echo); returns when speech started.

        Returns once all of it was sent."""
        frames = [audio_16k[i : i + MIC_FRAME] for i in range(0, audio_16k.size, MIC_FRAME)]
        frames[-1] = np.pad(frames[-1], (0, MIC_FRAME - frames[-1].size))
        loud = next((i for i, f in enumerate(frames) if np.sqrt(np.mean(f**2)) > 0.01), 0)
        started = time.monotonic()
        self._talk.extend(frames)
        while self._talk:
            await asyncio.sleep(0.01)
        return started + loud * MIC_FRAME / 16_000

    async def idle(self, timeout_s: float = 30) -> None:
        """Wait until the current turn is over and its audio played."""
        deadline = time.monotonic() + timeout_s
        await asyncio.sleep(0.05)
        while self.handler.replying():
            if time.monotonic() > deadline:
                h = self.handler
                turn = h._turn
                raise AssertionError(
                    f"the handler is still busy: turn={turn and turn.latency.row()} "
                    f"task={turn and turn.task} queued={h.playback.queued_s():.1f}s"
                )
            await asyncio.sleep(0.02)

    async def until(self, predicate, timeout_s: float = 20, what: str = "") -> Any:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            await asyncio.sleep(0.02)
        # (What the page was told says where it stuck: a rare full-suite-only timeout left nothing else to go on.)
        raise AssertionError(f"timed out waiting for {what}; the page was told: {self.statuses()[-6:]}")

    # -- what tests look at ---------------------------------------------------------------------
    def statuses(self) -> list[str]:
        return [e.status for e in self.events if e.status]

    def conversation_id(self) -> str | None:
        ids = [e.conversation_id for e in self.events if e.conversation_id]
        return ids[-1] if ids else None

    def audio_seconds(self, since: float = 0.0) -> float:
        return sum(c.size for t, c in self.audio if t >= since) / OUTPUT_RATE

    def last_audio_at(self) -> float | None:
        loud = [t for t, c in self.audio if np.abs(c).max() > 0.001]
        return loud[-1] if loud else None
