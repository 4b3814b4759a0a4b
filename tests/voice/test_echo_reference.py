"""The echo canceller's clock: the reference laid out by hand-on time, the microphone by its sample count."""

from __future__ import annotations

import numpy as np

from avatar.voice.echo_reference import MicClock, RenderTimeline


def test_a_burst_handed_on_at_once_is_laid_end_to_end_and_a_dropped_queue_starts_afresh():
    timeline = RenderTimeline()
    chunk = np.ones(320, np.float32)
    for n in range(3):  # three 20 ms chunks handed on together, as after a pause: they play one after another
        timeline.write(10.0, chunk * (n + 1))
    start = 10 * 16_000
    assert timeline.read(start, 960).tolist() == [1.0] * 320 + [2.0] * 320 + [3.0] * 320
    assert timeline.read(start + 960, 320).tolist() == [0.0] * 320  # nothing handed on for then
    timeline.restart()  # the connection's queue was dropped: the next chunk plays when it is handed on
    timeline.write(10.01, chunk * 7)
    assert timeline.read(start + 160, 320).tolist() == [7.0] * 320
    assert timeline.read(start - 4 * 16_000, 320).tolist() == [0.0] * 320  # long gone, never stale


def test_the_microphone_clock_is_not_moved_by_frames_handled_late():
    clock = MicClock()
    for n in range(100):  # 20 ms frames; every fifth handled 120 ms late, the rest 10-30 ms
        heard = (n + 1) * 0.02
        clock.arrived(320, 5.0 + heard + (0.12 if n % 5 == 0 else 0.01 + 0.02 * (n % 2)))
    assert clock.sample_time(0) == round(5.01 * 16_000)  # the least delay seen: the frames' own times


def test_audio_dropped_before_it_played_leaves_no_reference():
    """A hold drops the connection's unsent queue: no echo of it will come, so the canceller must not expect one."""
    timeline = RenderTimeline()
    chunk = np.ones(320, np.float32)
    for n in range(5):
        timeline.write(10.0 + 0.02 * n, chunk * (n + 1))
    timeline.unwrite(2 * 320)  # the last two chunks were still queued
    start = 10 * 16_000
    assert timeline.read(start, 5 * 320).tolist() == [1.0] * 320 + [2.0] * 320 + [3.0] * 320 + [0.0] * 640
    timeline.restart()
    timeline.write(10.2, chunk * 9)  # played again after the hold, at its new time
    assert timeline.read(start + 3200, 320).tolist() == [9.0] * 320
