"""The browser's side of the Voice tab, in Python: what FastRTC's WebRTC component does in the page.

1. POST /gradio_api/component_server {fn_name: "offer"} with an SDP offer (audio sendrecv + a
   data channel named "text") and the component's id; the answer comes back in the response.
2. The server asks for the additional inputs over the data channel ({"type": "send_input"}); the
   page answers by running the component's "tick" event (FastRTC's set_input_gradio) through the
   Gradio queue with [webrtc_id, *inputs]. Stateful inputs (gr.State) come from the session.
3. {"type": "fetch_output"} makes the page run the "state_change" event (on_additional_outputs),
   a generator that streams the handler's AdditionalOutputs to the page's components.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import json
import secrets
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import aiortc.rtcrtpreceiver
import av
import httpx
import numpy as np
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCRtpReceiver, RTCSessionDescription
from aiortc.codecs.opus import OpusDecoder
from aiortc.jitterbuffer import JitterBuffer, JitterFrame
from aiortc.mediastreams import MediaStreamError
from gradio_client.utils import apply_diff

from avatar.voice.rtc import keep_calls_through_busy_moments


def _browser_like_jitter_buffer(capacity: int, prefetch: int = 0, is_video: bool = False) -> JitterBuffer:
    # aiortc holds 4 audio packets (80 ms) before playing any; a browser's adaptive buffer holds about
    # one on loopback. The client plays the browser here, so it should not add 60 ms a browser does not.
    return JitterBuffer(capacity, prefetch=min(prefetch, 1), is_video=is_video)


aiortc.rtcrtpreceiver.JitterBuffer = _browser_like_jitter_buffer  # type: ignore[assignment,misc]
# This client runs in Python beside the app loading its models, and misses consent checks as the app does: a browser
# retransmits its checks, so it does not hang up a call for a few late answers either.
keep_calls_through_busy_moments()


async def wait_until(predicate, timeout_s: float, what: str = "", step_s: float = 0.05):
    """`predicate()`'s first true value, checked every `step_s`; TimeoutError after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        await asyncio.sleep(step_s)
    raise TimeoutError(f"timed out after {timeout_s} s waiting for {what}")


class GradioSession:
    """One browser tab's Gradio session: config lookups and queue calls sharing one session_hash."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.session_hash = uuid.uuid4().hex[:11]
        self.http = httpx.AsyncClient(timeout=30)
        self.config: dict[str, Any] = httpx.get(self.url + "/config").json()
        self._events: dict[str, asyncio.Queue[dict[str, Any]]] = {}
        self._pending: set[str] = set()
        self._reader: asyncio.Task | None = None

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        await self.http.aclose()

    def component_id(self, elem_id: str) -> int:
        return next(c["id"] for c in self.config["components"] if c.get("props", {}).get("elem_id") == elem_id)

    def fn_index(self, component_id: int, event: str) -> int:
        for dependency in self.config["dependencies"]:
            if [component_id, event] in [list(t) for t in dependency["targets"]]:
                return dependency["id"]
        raise LookupError(f"no {event} event on component {component_id}")

    async def component_server(self, component_id: int, fn_name: str, data: Any) -> Any:
        response = await self.http.post(
            f"{self.url}/gradio_api/component_server",
            json={"component_id": component_id, "fn_name": fn_name, "session_hash": self.session_hash, "data": data},
        )
        response.raise_for_status()
        return response.json()

    async def submit(self, fn_index: int, data: list[Any]) -> asyncio.Queue[dict[str, Any]]:
        """Start an event; its messages (process_generating, process_completed) arrive on the queue returned."""
        response = await self.http.post(
            f"{self.url}/gradio_api/queue/join",
            json={
                "data": data,
                "fn_index": fn_index,
                "session_hash": self.session_hash,
                "event_data": None,
                "trigger_id": None,
            },
        )
        response.raise_for_status()
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        event_id = response.json()["event_id"]
        self._events[event_id] = queue
        self._pending.add(event_id)
        if self._reader is None or self._reader.done():
            self._reader = asyncio.create_task(self._read())
        return queue

    async def call(self, fn_index: int, data: list[Any], timeout_s: float = 30) -> dict[str, Any]:
        """Run an event to completion; returns the process_completed message."""
        queue = await self.submit(fn_index, data)
        deadline = time.monotonic() + timeout_s
        while True:
            message = await asyncio.wait_for(queue.get(), max(0.01, deadline - time.monotonic()))
            if message.get("msg") == "process_completed":
                return message

    async def _read(self) -> None:
        # The page keeps one event stream per session and reopens it while events are pending.
        while self._pending:
            async with self.http.stream(
                "GET", f"{self.url}/gradio_api/queue/data", params={"session_hash": self.session_hash}, timeout=None
            ) as stream:
                async for line in stream.aiter_lines():
                    if not line.startswith("data:"):
                        continue
                    message = json.loads(line[5:])
                    if message.get("msg") == "close_stream":
                        break
                    event_id = message.get("event_id", "")
                    queue = self._events.get(event_id)
                    if queue is not None:
                        queue.put_nowait(message)
                    if message.get("msg") == "process_completed":
                        self._pending.discard(event_id)


class Microphone(MediaStreamTrack):
    """A microphone track playing queued float32 audio (silence in between), paced in real time.

    Any rate, mono or stereo, any frame size: what a browser or a sound card might produce.
    `sent` records (clock time, rms) of each frame as it leaves, to time speech onsets.
    """

    kind = "audio"

    def __init__(
        self,
        rate: int = 48_000,
        channels: int = 1,
        frame_samples: int | None = None,
        echo_delay_s: float | None = None,
        echo_gain_db: float = -12.0,
    ) -> None:
        super().__init__()
        self.rate = rate
        self.channels = channels
        self.frame_samples = frame_samples or rate // 50
        self._buffer: deque[np.ndarray] = deque()
        self._pts = 0
        self._start: float | None = None
        self.sent: list[tuple[float, float]] = []
        # Speakers heard by this microphone (a laptop without the browser's echo cancellation): the
        # avatar's voice, as received, comes back `echo_delay_s` later and `echo_gain_db` quieter.
        self.echo_delay_s = echo_delay_s
        self.echo_gain = 10 ** (echo_gain_db / 20)
        self._speaker: deque[np.ndarray] = deque()  # received audio waiting to be played (mono, self.rate)
        self._played = np.zeros(rate, np.float32)  # the last second the speakers played, newest last

    def play(self, audio: np.ndarray) -> None:
        """Queue float32 audio at self.rate: shape (n,) or (n, channels)."""
        audio = np.asarray(audio, dtype=np.float32)
        if audio.ndim == 1 and self.channels > 1:
            audio = np.repeat(audio[:, None], self.channels, axis=1)
        if audio.ndim == 1:
            audio = audio[:, None]
        for start in range(0, len(audio), self.rate // 50):
            self._buffer.append(audio[start : start + self.rate // 50])

    @property
    def idle(self) -> bool:
        return not self._buffer

    def hear(self, at: float, pcm: np.ndarray, rate: int) -> None:
        """Audio received for the speakers (kept only with an echo path): they play it at this track's pace."""
        if self.echo_delay_s is None:
            return
        if rate != self.rate:
            pcm = np.interp(np.arange(0, pcm.size, rate / self.rate), np.arange(pcm.size), pcm)
        self._speaker.append(pcm.astype(np.float32))
        while len(self._speaker) > 25:  # a sound card's buffer is short: old audio is dropped, not delayed
            self._speaker.popleft()

    def _echo(self, n: int) -> np.ndarray:
        """The speakers play their next `n` samples; the microphone hears what they played `echo_delay_s` ago."""
        out = np.zeros(n, np.float32)
        filled = 0
        while self._speaker and filled < n:
            pcm = self._speaker.popleft()
            take = min(n - filled, pcm.size)
            out[filled : filled + take] = pcm[:take]
            filled += take
            if take < pcm.size:
                self._speaker.appendleft(pcm[take:])
        self._played = np.concatenate((self._played[n:], out))
        delay = round(self.echo_delay_s * self.rate) if self.echo_delay_s else 0
        end = self._played.size - delay
        return self._played[end - n : end] * self.echo_gain

    def _take(self, n: int) -> np.ndarray:
        out = np.zeros((n, self.channels), dtype=np.float32)
        filled = 0
        while filled < n and self._buffer:
            head = self._buffer[0]
            take = min(n - filled, len(head))
            out[filled : filled + take] = head[:take]
            filled += take
            if take == len(head):
                self._buffer.popleft()
            else:
                self._buffer[0] = head[take:]
        return out

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        n = self.frame_samples
        if self._start is None:
            self._start = time.time()
        else:
            wait = self._start + self._pts / self.rate - time.time()
            if wait > 0:
                await asyncio.sleep(wait)
        samples = self._take(n)
        if self.echo_delay_s is not None:
            samples = samples + self._echo(n)[:, None]
        pcm = (np.clip(samples, -1, 1) * 32767).astype(np.int16)
        frame = av.AudioFrame(format="s16", layout="mono" if self.channels == 1 else "stereo", samples=n)
        frame.planes[0].update(pcm.reshape(-1).tobytes())
        frame.pts = self._pts
        frame.sample_rate = self.rate
        frame.time_base = fractions.Fraction(1, self.rate)
        self._pts += n
        self.sent.append((time.monotonic(), float(np.sqrt(np.mean(np.square(samples))))))
        return frame


@dataclass
class VoiceCall:
    """One connection to the Voice tab, as the page makes it."""

    session: GradioSession
    persona_id: str = "aria"
    mode: str = "Hands-free"
    threshold: float = 0.5
    silence_ms: int = 1000  # the page's default: Settings.vad_min_silence_ms
    microphone: Microphone = field(default_factory=Microphone)
    webrtc_id: str = field(default_factory=lambda: secrets.token_hex(5))
    received: list[tuple[float, float]] = field(default_factory=list)  # (clock, rms) of each frame heard
    # (clock, rms) of each RTP packet as it arrives, decoded on the spot: no jitter buffer in between.
    rtp_received: list[tuple[float, float]] = field(default_factory=list)
    outputs: list[list[Any]] = field(default_factory=list)  # additional outputs streamed to the page
    messages: list[dict[str, Any]] = field(default_factory=list)  # data channel messages
    inputs_sent: int = 0

    async def connect(self) -> VoiceCall:
        s = self.session
        self.component = s.component_id("voice-webrtc")
        self.tick = s.fn_index(self.component, "tick")
        self.state_change = s.fn_index(self.component, "state_change")
        self.pc = RTCPeerConnection()
        channel = self.pc.createDataChannel("text")
        self._tasks: list[asyncio.Task] = []
        self._outputs_task: asyncio.Task | None = None

        @channel.on("open")
        def _open() -> None:
            channel.send("handshake")

        @channel.on("message")
        def _message(raw: str) -> None:
            try:
                message = json.loads(raw)
            except ValueError:
                return
            self.messages.append(message)
            if message.get("type") == "send_input":
                self._tasks.append(asyncio.create_task(self.send_inputs()))
            elif message.get("type") == "fetch_output" and (self._outputs_task is None or self._outputs_task.done()):
                self._outputs_task = asyncio.create_task(self._stream_outputs())

        @self.pc.on("track")
        def _track(track: MediaStreamTrack) -> None:
            self._tasks.append(asyncio.create_task(self._listen(track)))

        self.pc.addTrack(self.microphone)
        await self.pc.setLocalDescription(await self.pc.createOffer())
        answer = await s.component_server(
            self.component,
            "offer",
            {"sdp": self.pc.localDescription.sdp, "type": self.pc.localDescription.type, "webrtc_id": self.webrtc_id},
        )
        if answer.get("status") == "failed":
            raise RuntimeError(f"offer refused: {answer}")
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type=answer["type"]))
        for receiver in self.pc.getReceivers():
            if receiver.track.kind == "audio":
                self._tap_rtp(receiver)
        deadline = time.monotonic() + 15
        while self.pc.connectionState != "connected":
            if time.monotonic() > deadline:
                raise TimeoutError(f"WebRTC did not connect: {self.pc.connectionState}")
            await asyncio.sleep(0.05)
        return self

    def _tap_rtp(self, receiver: RTCRtpReceiver) -> None:
        """Record each incoming RTP packet's arrival and loudness, before aiortc's jitter buffer holds it.

        The jitter buffer hands a packet on only once the next one has arrived (a browser's does much
        the same), so the last packet of a reply would never be heard through it: timing the end of the
        avatar's voice there would be off by a packet, and by however many packets it prefetches.
        """
        decoder = OpusDecoder()
        handle = receiver._handle_rtp_packet

        async def tapped(packet: Any, arrival_time_ms: int) -> None:
            arrived = time.monotonic()
            try:
                frames = decoder.decode(JitterFrame(data=packet.payload, timestamp=packet.timestamp))
                pcm = np.concatenate([f.to_ndarray().reshape(-1) for f in frames]).astype(np.float32) / 32768
                self.rtp_received.append((arrived, float(np.sqrt(np.mean(np.square(pcm))))))
            except (av.FFmpegError, ValueError):
                pass  # not Opus audio (or a damaged packet): the track itself still gets it
            await handle(packet, arrival_time_ms)

        receiver._handle_rtp_packet = tapped  # type: ignore[method-assign]

    async def send_inputs(self) -> None:
        # The tick event's inputs: [webrtc, persona, conversation, greeting index, mode, threshold, silence,
        # talking]; the States (null here) are the session's own, as the page's are.
        await self.session.call(
            self.tick, [self.webrtc_id, self.persona_id, None, None, self.mode, self.threshold, self.silence_ms, None]
        )
        self.inputs_sent += 1

    async def _stream_outputs(self) -> None:
        queue = await self.session.submit(self.state_change, [self.webrtc_id, self.persona_id])
        latest: list[Any] | None = None
        while True:
            message = await queue.get()
            if message.get("msg") == "process_generating" and message.get("output"):
                data = message["output"].get("data") or []
                # The first result comes whole, the following ones as diffs against the previous one.
                latest = data if latest is None else [apply_diff(old, diff) for old, diff in zip(latest, data)]
                self.outputs.append(latest)
            if message.get("msg") == "process_completed":
                return

    async def _listen(self, track: MediaStreamTrack) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            pcm = frame.to_ndarray().astype(np.float32) / 32768
            now = time.monotonic()
            self.received.append((now, float(np.sqrt(np.mean(np.square(pcm))))))
            mono = pcm.reshape(-1)[:: max(1, len(frame.layout.channels))]
            self.microphone.hear(now, mono, frame.sample_rate)

    async def close(self) -> None:
        await self.pc.close()
        with contextlib.suppress(Exception):
            await self.session.component_server(self.component, "quit_output_stream", {"webrtc_id": self.webrtc_id})
        for task in [*self._tasks, *([self._outputs_task] if self._outputs_task else [])]:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    # -- what the test looks at -----------------------------------------------------------------
    def audio_heard_since(self, since: float, level: float = 0.003) -> float:
        """Seconds of non-silent audio received since `since`."""
        return sum(0.02 for at, rms in self.received if at >= since and rms > level)

    def last_audio_at(self, level: float = 0.003) -> float | None:
        times = [at for at, rms in self.received if rms > level]
        return times[-1] if times else None

    def onset_after(self, since: float, level: float = 0.01) -> float | None:
        """When the microphone first sent speech-level audio after `since`."""
        return next((at for at, rms in self.microphone.sent if at >= since and rms > level), None)

    def statuses(self) -> list[str]:
        return [o[0] for o in self.outputs if isinstance(o[0], str)]

    def latency_rows(self) -> list[list[Any]]:
        rows: list[list[Any]] = []
        for output in self.outputs:
            table = output[2]
            if isinstance(table, dict) and table.get("value") is not None:
                value = table["value"]
                rows = value.get("data", value) if isinstance(value, dict) else value
        return rows

    async def play_and_wait(self, audio: np.ndarray) -> float:
        """Speak `audio` into the microphone and return once it has all been sent. A call whose media stopped
        flowing raises rather than waiting for ever (a bench run once hung here with the call gone)."""
        start = time.monotonic()
        self.microphone.play(audio)
        deadline = start + len(audio) / self.microphone.rate + 30
        while not self.microphone.idle:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the microphone's audio was not taken by the call: {self.statuses()[-3:]}")
            await asyncio.sleep(0.02)
        return start
