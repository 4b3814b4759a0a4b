"""aiortc's receive side tuned for a server that listens to the microphone rather than playing it.

aiortc holds 4 audio packets (80 ms) in its jitter buffer before handing the first one on, so that
a *player* has some slack, and even with no prefetch it hands a packet on only when the next one
arrives (that is how it knows a video frame is complete). Here the microphone goes to the VAD and
whisper, which have no playout clock to keep: the slack is only delay, and it delays everything
the user says, the end of a turn and a barge-in included. An Opus packet is a whole 20 ms frame,
so each one goes on as it arrives. A packet that arrives after a newer one (reordered, or a
duplicate) is dropped: on loopback and a home network that is rare, and waiting for it would hold
back every packet after it. Video keeps aiortc's own buffer.

And for the same reason, a call's threads hand the GIL on sooner (`switch_threads_often`), and a call is not
hung up for answering ICE's consent checks late while the machine is busy (`keep_calls_through_busy_moments`).
"""

from __future__ import annotations

import sys

import aioice.ice
import aiortc.rtcrtpreceiver
from aiortc.jitterbuffer import JitterBuffer, JitterFrame
from aiortc.rtp import RtpPacket
from aiortc.utils import uint16_add


class MicrophoneBuffer(JitterBuffer):
    """Audio packets out as they come in, in order; late ones dropped."""

    def __init__(self, capacity: int, prefetch: int = 0, is_video: bool = False) -> None:
        super().__init__(capacity, prefetch=0, is_video=is_video)
        self._newest: int | None = None

    def add(self, packet: RtpPacket) -> tuple[bool, JitterFrame | None]:
        if self._newest is not None:
            ahead = uint16_add(packet.sequence_number, -self._newest)
            if ahead == 0 or ahead >= 0x8000:  # the same packet again, or one older than what went on already
                return False, None
        self._newest = packet.sequence_number
        return False, JitterFrame(data=packet._data, timestamp=packet.timestamp)  # type: ignore[attr-defined]


def _listening_jitter_buffer(capacity: int, prefetch: int = 0, is_video: bool = False) -> JitterBuffer:
    if is_video:
        return JitterBuffer(capacity, prefetch=prefetch, is_video=True)
    return MicrophoneBuffer(capacity)


def listen_without_prefetch() -> None:
    """Make every WebRTC audio receiver created from now on (FastRTC's included) pass audio on at once."""
    aiortc.rtcrtpreceiver.JitterBuffer = _listening_jitter_buffer  # type: ignore[assignment,misc]


# A call's event loop shares the GIL with the threads that build its reply (recall: SQLite and the embedder,
# each call letting the GIL go). After each such call a thread waits for the GIL until whoever holds it gives it
# up, at most the switch interval (5 ms by default), and a recall makes a dozen such calls: in a bench run the
# prompt took p50 34 / p90 66 ms in the app against 7 ms alone. At 0.5 ms: p50 30 / p90 39 (recall p90 58 -> 26).
# The heavy work (whisper, Piper, the ONNX models) runs in C without the GIL, so more frequent switches should
# not slow it (not measured on its own: the bench's end-to-end numbers did not get worse).
SWITCH_INTERVAL_S = 0.0005


def switch_threads_often() -> None:
    """Let a thread that waits for the GIL have it sooner (see SWITCH_INTERVAL_S): for the whole process."""
    sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL_S))


# aioice checks the peer's consent (RFC 7675) every ~5 s with one STUN request, no retransmission, given 500 ms;
# six misses in a row (30 s) end the call. A call's first seconds load the voice models (20 s on a slow 2-core
# machine, both cores busy), and the two ends, on the same computer, answer late: in the WebRTC bench the app's
# checks missed 4 times in a row then, and in 4 runs of 10 one day the call was hung up ~36 s in ("Consent to send
# expired"). Twelve misses (a minute) ride that out; a peer that really went away is still let go (a closed tab ends
# the call at once, through DTLS).
CONSENT_MISSES_TO_HANG_UP = 12


def keep_calls_through_busy_moments() -> None:
    """Let ICE consent checks miss for a minute before a call is given up (see CONSENT_MISSES_TO_HANG_UP)."""
    aioice.ice.CONSENT_FAILURES = max(aioice.ice.CONSENT_FAILURES, CONSENT_MISSES_TO_HANG_UP)
