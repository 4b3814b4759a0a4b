"""One spoken turn against a launched app, as the Voice tab's page makes it (tests/voice's aiortc client),
optionally logged in to LAN mode; and the addresses that client offered for the WebRTC media."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import numpy as np

from tests.voice.rtc_client import GradioSession, VoiceCall


class LoggedInSession(GradioSession):
    """A browser tab on LAN mode: HTTPS with the self-signed certificate, the login sent on every request."""

    def __init__(self, url: str, login: tuple[str, str]) -> None:
        # GradioSession's constructor reads /config without a login, which LAN mode refuses: do the same
        # set-up with the login (and without verifying the self-signed certificate, as a user accepts it).
        self.url = url.rstrip("/")
        self.session_hash = uuid.uuid4().hex[:11]
        self.http = httpx.AsyncClient(timeout=30, auth=login, verify=False)
        self.config = httpx.get(self.url + "/config", auth=login, verify=False, timeout=30).json()
        self._events = {}
        self._pending = set()
        self._reader = None


async def wait_for(predicate: Callable[[], Any], timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


async def spoken_turn(session: GradioSession, audio_48k: np.ndarray, persona_id: str = "aria") -> VoiceCall:
    """Connect, say `audio_48k`, and hang up once the answer has been heard and the turn is complete."""
    call = await VoiceCall(session, persona_id=persona_id).connect()
    try:
        await wait_for(lambda: call.inputs_sent, 10, "the page to send its inputs")
        await call.play_and_wait(audio_48k)
        # A new chat's call opens with the greeting (talked over by the question): what comes after is the answer.
        said_at = time.monotonic()
        await wait_for(lambda: call.audio_heard_since(said_at) > 0.5, 60, "the avatar's answer")
        await wait_for(call.latency_rows, 30, "the turn to complete")
    finally:
        await call.close()
        await session.close()
    return call


def replies_shown(call: VoiceCall) -> list[str]:
    """The avatar's messages as the Chat tab last showed them during the call (the line of model-server
    figures under each reply left out)."""
    chats = [o[4] for o in call.outputs if isinstance(o[4], list)]
    replies = [m["content"] for m in chats[-1] if m.get("role") == "assistant"] if chats else []
    return [reply.split("\n\n<sub>")[0] for reply in replies]


def media_peers(call: VoiceCall) -> set[tuple[str, int]]:
    """The (address, port) pairs the client offered as ICE candidates: where the app's WebRTC media may go."""
    peers = set()
    for line in call.pc.localDescription.sdp.splitlines():
        if line.startswith("a=candidate:"):
            # a=candidate:<foundation> <component> <transport> <priority> <address> <port> typ <type> ...
            fields = line.split()
            peers.add((fields[4], int(fields[5])))
    return peers
