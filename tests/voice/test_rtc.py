"""The microphone's way in over WebRTC: how much audio is held back before the VAD sees it."""

from __future__ import annotations

import fractions
import sys

import aiortc.rtcrtpreceiver
import av
import numpy as np
import pytest
from aiortc.rtp import RtpPacket

from avatar.voice.handler import VoiceHandler
from avatar.voice.rtc import SWITCH_INTERVAL_S, listen_without_prefetch, switch_threads_often


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
