"""aiortc's receive side tuned for a server that listens to the microphone rather than playing it.

aiortc holds 4 audio packets (80 ms) in its jitter buffer before handing the first one on, so that
a *player* has some slack. Here the microphone goes to the VAD and whisper, which have no playout
clock to keep: the slack is only delay, and it delays everything the user says, a barge-in
included. With no prefetch a packet is passed on as soon as the next one arrives (20 ms). Lost and
reordered packets are handled as before: the buffer still waits for a missing packet until it is
full; prefetch only set how far behind the newest packet it stayed.
"""

from __future__ import annotations

import aiortc.rtcrtpreceiver
from aiortc.jitterbuffer import JitterBuffer

MICROPHONE_PREFETCH = 0


def _listening_jitter_buffer(capacity: int, prefetch: int = 0, is_video: bool = False) -> JitterBuffer:
    return JitterBuffer(
        capacity, prefetch=prefetch if is_video else min(prefetch, MICROPHONE_PREFETCH), is_video=is_video
    )


def listen_without_prefetch() -> None:
    """Make every WebRTC audio receiver created from now on (FastRTC's included) pass audio on at once."""
    aiortc.rtcrtpreceiver.JitterBuffer = _listening_jitter_buffer  # type: ignore[assignment,misc]
