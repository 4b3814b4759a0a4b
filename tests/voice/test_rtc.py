"""The microphone's way in over WebRTC: how much audio is held back before the VAD sees it."""

from __future__ import annotations

import asyncio
import fractions
import sys

import aioice.ice
import aioice.stun
import aiortc.rtcrtpreceiver
import av
import numpy as np
import pytest
from aiortc.rtp import RtpPacket

from avatar.voice.handler import VoiceHandler
from avatar.voice.rtc import (
    CONSENT_MISSES_TO_HANG_UP,
    SWITCH_INTERVAL_S,
    keep_calls_through_busy_moments,
    listen_without_prefetch,
    switch_threads_often,
)


def opus_packet(sequence: int) -> RtpPacket:
    packet = RtpPacket(payload_type=111, sequence_number=sequence, timestamp=sequence * 960)
    packet._data = b"opus"  # type: ignore[attr-defined]  (what the receiver sets after depayloading)
    return packet


def test_microphone_packets_are_passed_on_as_they_arrive():
    listen_without_prefetch()
    # What RTCRtpReceiver builds for an audio track (it asks for 4 packets of prefetch).
    buffer = aiortc.rtcrtpreceiver.JitterBuffer(capacity=16, prefetch=4)
    released = [buffer.add(opus_packet(n))[1] for n in range(5)]
    # Each Opus packet is a whole frame: out at once, not with the next packet (20 ms later) or the fifth.
    assert [frame.timestamp for frame in released] == [0, 960, 1920, 2880, 3840]
    assert released[0].data == b"opus"


def test_a_lost_packet_holds_nothing_back_and_a_late_one_is_dropped():
    listen_without_prefetch()
    buffer = aiortc.rtcrtpreceiver.JitterBuffer(capacity=16, prefetch=4)
    assert buffer.add(opus_packet(0))[1] is not None
    later = buffer.add(opus_packet(2))[1]  # 1 is missing: 2 goes on anyway (the VAD hears 20 ms less)
    assert later is not None and later.timestamp == 1920
    assert buffer.add(opus_packet(1))[1] is None  # too late: the audio after it went on already
    assert buffer.add(opus_packet(2))[1] is None  # a duplicate
    assert buffer.add(opus_packet(3))[1].timestamp == 2880


def test_sequence_numbers_wrap_around():
    listen_without_prefetch()
    buffer = aiortc.rtcrtpreceiver.JitterBuffer(capacity=16, prefetch=4)
    assert [buffer.add(opus_packet(n % 65536))[1] is not None for n in (65534, 65535, 65536, 65537)] == [True] * 4


def test_video_keeps_its_own_buffering():
    listen_without_prefetch()
    buffer = aiortc.rtcrtpreceiver.JitterBuffer(capacity=128, prefetch=2, is_video=True)
    assert buffer._prefetch == 2


def browser_frames(rate: int = 48_000, channels: int = 2, count: int = 10) -> list[av.AudioFrame]:
    """20 ms frames as aiortc decodes a browser's Opus: s16, interleaved stereo, 48 kHz."""
    frames = []
    n = rate // 50
    for i in range(count):
        t = (np.arange(n) + i * n) / rate
        tone = (0.3 * np.sin(2 * np.pi * 440 * t) * 32767).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(np.repeat(tone, channels).reshape(1, -1), format="s16", layout="stereo")
        frame.sample_rate = rate
        frame.pts = i * n
        frame.time_base = fractions.Fraction(1, rate)
        frames.append(frame)
    return frames


def test_each_20_ms_of_microphone_reaches_the_handler_at_once(voice_ctx, voice_models):
    handler = VoiceHandler(voice_ctx, voice_models).copy()
    sizes = []
    for frame in browser_frames():
        out = list(handler.resample(frame))
        sizes.append(sum(f.samples for f in out))
        assert all(f.sample_rate == 16_000 and f.layout.name == "mono" for f in out)
    # Every frame in gives audio out (not 60 ms batches); the resampler keeps only a millisecond back.
    assert all(size > 0 for size in sizes)
    assert sum(sizes) >= 10 * 320 - 32


def test_threads_waiting_for_the_gil_get_it_within_half_a_millisecond():
    before = sys.getswitchinterval()
    try:
        sys.setswitchinterval(0.005)  # Python's default
        switch_threads_often()
        assert sys.getswitchinterval() == pytest.approx(SWITCH_INTERVAL_S, rel=0.05)
        sys.setswitchinterval(0.0001)
        switch_threads_often()  # never made longer than asked for elsewhere
        assert sys.getswitchinterval() == pytest.approx(0.0001, rel=0.05)
    finally:
        sys.setswitchinterval(before)


async def ice_pair() -> tuple[aioice.Connection, aioice.Connection]:
    """Two connected ICE agents on this machine's own address, as the app and a browser are."""
    app, browser = aioice.Connection(ice_controlling=False), aioice.Connection(ice_controlling=True)
    await asyncio.gather(app.gather_candidates(), browser.gather_candidates())
    for one, other in ((app, browser), (browser, app)):
        for candidate in other.local_candidates:
            await one.add_remote_candidate(candidate)
        await one.add_remote_candidate(None)
        one.remote_username, one.remote_password = other.local_username, other.local_password
    await asyncio.gather(app.connect(), browser.connect())
    return app, browser


def test_a_call_is_kept_while_the_other_end_answers_consent_checks_late_for_a_while(monkeypatch):
    """While a call's first seconds load the models, the two ends answered ICE's consent checks late 4 times in a
    row in the bench, and aioice hangs up after 6 (30 s). The app lets a minute of misses go (here time runs fast)."""
    monkeypatch.setattr(aioice.ice, "CONSENT_INTERVAL", 0.02)
    monkeypatch.setattr(aioice.stun, "RETRY_RTO", 0.02)
    monkeypatch.setattr(aioice.ice, "CONSENT_FAILURES", 6)  # aioice's own (restored afterwards)
    keep_calls_through_busy_moments()

    async def scenario() -> tuple[int, int]:
        app, browser = await ice_pair()
        answer, missed = browser.request_received, [0]
        hung_up: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        close = app.close

        def busy(*args: object) -> None:
            missed[0] += 1  # a check the browser answers too late

        async def closing() -> None:
            if not hung_up.done():
                hung_up.set_result(missed[0])
            await close()

        app.close = closing  # type: ignore[method-assign]
        try:
            browser.request_received = busy  # type: ignore[method-assign]
            while missed[0] < 8 and not hung_up.done():
                await asyncio.sleep(0.01)
            kept_through = 0 if hung_up.done() else missed[0]
            browser.request_received = answer  # type: ignore[method-assign]  (answering again)
            await asyncio.sleep(0.2)
            missed[0] = 0
            browser.request_received = busy  # type: ignore[method-assign]  (gone for good)
            return kept_through, await asyncio.wait_for(hung_up, 10)
        finally:
            await asyncio.gather(app.close(), browser.close())

    kept_through, misses_at_hang_up = asyncio.run(scenario())
    assert kept_through >= 8  # aioice alone hangs up at 6
    assert CONSENT_MISSES_TO_HANG_UP <= misses_at_hang_up <= CONSENT_MISSES_TO_HANG_UP + 1  # one gone is let go
