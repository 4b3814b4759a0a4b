"""Live transcription: passes while the user talks, and the live words kept for when the final pass is guesswork."""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np

from avatar.speech.stt import Transcript
from avatar.speech.stt_worker import WhisperWorker
from avatar.voice.models import VoiceModels
from avatar.voice.transcription import LiveTranscriber
from tests.voice.conftest import QUESTION, Speech


def started(worker: WhisperWorker, timeout_s: float = 30) -> WhisperWorker:
    """`worker` started (again) and ready for a pass."""
    worker.start()
    deadline = time.monotonic() + timeout_s
    while not worker.ready():
        assert time.monotonic() < deadline, "the live transcription process did not come up"
        time.sleep(0.02)
    return worker


def live_worker_up(models: VoiceModels) -> WhisperWorker:
    """The models' live transcription process, ready (another test may have stopped it)."""
    worker = models.live_stt()
    assert worker is not None, "the live transcription process could not start"
    return started(worker)


def test_the_newest_believable_live_words_stand_until_the_next_utterance(voice_models, speech: Speech):
    shown: list[str] = []
    transcriber = LiveTranscriber(voice_models, shown.append)
    audio = speech.at(QUESTION, before_s=0, after_s=0)
    live_worker_up(voice_models)

    async def live_pass() -> None:
        transcriber.maybe_live((1, 1, 0), audio.size / 16_000, lambda: audio)
        await asyncio.wait_for(transcriber._pass.task, 30)

    asyncio.run(live_pass())
    assert shown and transcriber.live_words() == shown[-1]
    assert "capital" in transcriber.live_words().lower()
    transcriber.reset()  # the user starts a new utterance: those words are not its words
    assert transcriber.live_words() == ""

    # A live result whisper was guessing at (p=0.2) is not words either.
    transcriber._live_heard = (Transcript("I'm not a good one. I'm not a good one.", 0.2), 1.0)
    assert transcriber.live_words() == ""


def test_a_pass_started_at_a_gap_between_words_gives_way_when_the_user_goes_on(voice_models, speech: Speech):
    """The first silent window starts whisper (the user may be done). They were not: the next words make that
    pass stale, and it is told to stop (whisper.cpp stops after its encoder), while the new pass is whole."""
    transcriber = LiveTranscriber(voice_models, lambda text: None)
    audio = speech.at(QUESTION, before_s=0, after_s=0)

    async def gap_then_more() -> tuple[Transcript, Transcript]:
        transcriber.at_pause((1, 1000, 0), audio)  # a gap between words
        gap_pass = transcriber._pass
        await asyncio.sleep(0.02)
        transcriber.maybe_live((1, 1100, 0), 0.3, lambda: audio)  # more speech: that pass is stale
        stale = await asyncio.wait_for(gap_pass.task, 30)
        final = await asyncio.wait_for(transcriber.final((1, 1100, 0), audio), 30)
        return stale, final

    stale, final = asyncio.run(gap_then_more())
    assert stale.aborted and stale.text == ""  # never taken for the turn's words
    assert not final.aborted and "capital" in final.text.lower()


def test_a_pass_a_turn_waits_for_is_never_aborted(voice_models, speech: Speech):
    transcriber = LiveTranscriber(voice_models, lambda text: None)
    audio = speech.at(QUESTION, before_s=0, after_s=0)

    async def final_then_newer() -> Transcript:
        transcriber.at_pause((1, 1000, 0), audio)
        final = asyncio.ensure_future(transcriber.final((1, 1000, 0), audio))
        await asyncio.sleep(0.02)
        transcriber.at_pause((2, 500, 0), audio)  # the next utterance's gap: must not take this turn's words
        return await asyncio.wait_for(final, 30)

    result = asyncio.run(final_then_newer())
    assert not result.aborted and "capital" in result.text.lower()


def test_a_live_pass_still_running_when_the_user_stops_is_stopped_at_once(voice_models, speech: Speech):
    """whisper.cpp in a thread finishes its encoder before it stops (~200 ms the final pass waited); the live
    transcription process is killed instead, and the final pass has the words."""
    transcriber = LiveTranscriber(voice_models, lambda text: None)
    audio = speech.at(QUESTION, before_s=0, after_s=0)
    worker = live_worker_up(voice_models)

    async def live_then_final() -> tuple[Transcript, Transcript]:
        transcriber.maybe_live((1, 1000, 0), 1.0, lambda: audio[: audio.size * 2 // 3])
        live = transcriber._pass
        assert live is not None and live.in_worker
        await asyncio.sleep(0.05)  # in its encoder now
        transcriber.at_pause((1, 1600, 0), audio)  # the user went quiet: the final pass starts
        stopped = await asyncio.wait_for(live.task, 5)
        assert not worker.ready()  # killed, not left to finish
        final = await asyncio.wait_for(transcriber.final((1, 1600, 0), audio), 30)
        return stopped, final

    stopped, final = asyncio.run(live_then_final())
    assert stopped.aborted and stopped.text == ""
    assert not final.aborted and "capital" in final.text.lower()
    transcriber.reset()  # the next utterance starts it again
    assert live_worker_up(voice_models).transcribe(audio).text.lower().count("capital") == 1


def test_the_live_transcription_process_stops_a_pass_at_once_and_starts_again(ggml_tiny_en, speech: Speech):
    worker = WhisperWorker(ggml_tiny_en)
    try:
        worker.start()  # (started again below while still starting: still one process)
        started(worker)
        audio = speech.at(QUESTION, before_s=0.3, after_s=0.2)
        heard = worker.transcribe(audio, prompt="Aria.")
        assert "capital of france" in heard.text.lower() and heard.probability > 0.5
        assert worker.transcribe(np.zeros(16_000, np.float32)).text == ""  # silence: no words invented

        threading.Timer(0.05, worker.stop).start()
        stopped = worker.transcribe(audio)
        assert stopped.aborted and not worker.ready()
        assert worker.transcribe(audio).aborted  # nothing to send it to until it is started again

        started(worker)
        assert worker.transcribe(audio, abort=lambda: True).aborted  # stopped before it was sent
        assert "capital" in worker.transcribe(audio).text.lower()
    finally:
        worker.close()


def test_a_process_that_cannot_start_leaves_live_passes_to_the_app(tmp_path, speech: Speech):
    """A broken model file: the process says so (it reported ready on one before), the worker is marked failed,
    and VoiceModels.live_stt() then gives None, so live passes run in the app rather than being skipped for good."""
    broken = tmp_path / "ggml-broken.bin"
    broken.write_bytes(b"not a whisper model")
    worker = WhisperWorker(broken)
    try:
        worker.start()
        deadline = time.monotonic() + 30
        while not worker.failed:
            assert time.monotonic() < deadline, "a process that cannot load its model was not noticed"
            time.sleep(0.05)
        assert not worker.ready() and worker.transcribe(speech.at(QUESTION)).aborted
    finally:
        worker.close()
