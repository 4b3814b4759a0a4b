"""The speech models all voice connections share: found or downloaded, loaded once, warmed in the background.

Nothing here is imported or loaded on the way to the first page: the Voice tab asks for a warm-up
when it is opened, and the first connection does too.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path

from avatar.core.gc_pauses import freeze_loaded
from avatar.core.settings import Settings
from avatar.personas.schemas import Persona
from avatar.speech.exceptions import SpeechModelError
from avatar.speech.stt import WhisperSTT, default_threads, first_sentence_threads
from avatar.speech.stt_worker import WhisperWorker
from avatar.speech.tts import PiperTTS
from avatar.speech.turn import MODEL_NAME as TURN_MODEL_NAME
from avatar.speech.turn import MODEL_URL as TURN_MODEL_URL
from avatar.speech.turn import SmartTurn, bundled_model_path

log = logging.getLogger(__name__)

WHISPER_URL = "https://huggingface.co/ggerganov/whisper.cpp/resolve/main/ggml-{name}.bin"
PIPER_URL = (
    "https://huggingface.co/rhasspy/piper-voices/resolve/main/"
    "{family}/{family}_{region}/{name}/{quality}/{voice}{ext}?download=true"
)
_PIPER_ID = re.compile(r"^(?P<family>[a-z]{2,3})_(?P<region>[A-Z]{2})-(?P<name>[^-/\\]+)-(?P<quality>[a-z_]+)$")

Progress = Callable[[str], None]


def looks_like_path(value: str) -> bool:
    return value.endswith((".bin", ".onnx")) or "/" in value or "\\" in value


def download(url: str, dest: Path, what: str, progress: Progress) -> Path:
    """Stream `url` into `dest` (via a .part file, so a broken download is never taken for a model)."""
    import httpx

    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    progress(f"Downloading {what}…")
    try:
        with httpx.stream("GET", url, follow_redirects=True, timeout=httpx.Timeout(30, read=60)) as response:
            response.raise_for_status()
            total = int(response.headers.get("content-length") or 0)
            done, last = 0, 0.0
            with part.open("wb") as out:
                for chunk in response.iter_bytes(1 << 20):
                    out.write(chunk)
                    done += len(chunk)
                    if time.monotonic() - last > 0.5:
                        last = time.monotonic()
                        share = (
                            f"{100 * done / total:.0f}% of {total / 1e6:.0f} MB" if total else f"{done / 1e6:.0f} MB"
                        )
                        progress(f"Downloading {what}: {share}")
        part.replace(dest)
    except (httpx.HTTPError, OSError) as error:
        part.unlink(missing_ok=True)
        raise SpeechModelError(
            f"Could not download {what} ({error}). Check the connection, or give a file path."
        ) from error
    progress(f"Downloaded {what}.")
    return dest


class VoiceModels:
    """Whisper (one model, every connection) and Piper voices (one per voice file), loaded on first use."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._stt: WhisperSTT | None = None
        self._live_stt: WhisperWorker | None = None
        self._voices: dict[Path, PiperTTS] = {}
        self._turn: SmartTurn | None = None
        self._lock = threading.RLock()
        self._warm_thread: threading.Thread | None = None
        self.status = "Speech models load when you open this tab."
        self.ready = False
        self.error: str | None = None

    def _progress(self, text: str) -> None:
        self.status = text
        log.info("voice models: %s", text)

    def _download(self, url: str, dest: Path, what: str, instead: str) -> Path:
        if self.settings.offline:
            raise SpeechModelError(
                f"The {what} is not downloaded yet and downloads are off (--offline). Start once without "
                f"--offline to download it into {dest.parent}, or give a file you have: {instead}."
            )
        return download(url, dest, what, self._progress)

    # -- speech recognition ---------------------------------------------------------------------
    def whisper_path(self) -> Path:
        model = self.settings.stt_model
        if looks_like_path(model):
            path = Path(model).expanduser()
            if not path.is_file():
                raise SpeechModelError(f"Speech recognition model file not found: {path}. Check --stt-model.")
            return path
        path = self.settings.models_dir / f"ggml-{model}.bin"
        if path.is_file():
            return path
        return self._download(
            WHISPER_URL.format(name=model), path, f"speech recognition model {model}", "--stt-model PATH_TO_GGML_BIN"
        )

    def stt(self) -> WhisperSTT:
        """The loaded whisper.cpp model (downloading it first if needed). Blocks: call from a worker thread."""
        with self._lock:
            if self._stt is None:
                self._stt = WhisperSTT(
                    self.whisper_path(),
                    threads=self.settings.stt_threads,
                    # Encode only as much of the 30 s window as the utterance needs: ~3x faster replies.
                    adaptive_context=True,
                )
        self._stt.load()
        return self._stt

    def live_stt(self) -> WhisperWorker | None:
        """The same model in a process of its own, for the live transcript (stt_worker.py); None until whisper is
        loaded, or when the process cannot start (live passes then run in the app)."""
        worker = self._live_stt
        return None if worker is None or worker.failed else worker

    def _start_live_stt(self, stt: WhisperSTT) -> None:
        with self._lock:
            if self._live_stt is None:
                self._live_stt = WhisperWorker(Path(stt.model), threads=stt.threads)
        self._live_stt.start()

    # -- end of turn ----------------------------------------------------------------------------
    def turn_model_path(self) -> Path:
        """Smart Turn's ONNX: a path as given, the copy in an installed pipecat-ai, or downloaded once."""
        model = self.settings.turn_model
        if looks_like_path(model):
            path = Path(model).expanduser()
            if not path.is_file():
                raise SpeechModelError(f"End-of-turn model file not found: {path}. Check --turn-model.")
            return path
        if model == TURN_MODEL_NAME:
            bundled = bundled_model_path()
            if bundled is not None:
                return bundled
        path = self.settings.models_dir / f"{model}.onnx"
        if path.is_file():
            return path
        if model != TURN_MODEL_NAME:
            raise SpeechModelError(f"Unknown end-of-turn model '{model}': use {TURN_MODEL_NAME} or a path to an ONNX.")
        return self._download(TURN_MODEL_URL, path, "end-of-turn model (Smart Turn v3)", "--turn-model PATH_TO_ONNX")

    def turn(self) -> SmartTurn:
        """The loaded Smart Turn model (downloading it first if needed). Blocks: call from a worker thread."""
        with self._lock:
            if self._turn is None:
                self._turn = SmartTurn(self.turn_model_path())
        self._turn.load()
        return self._turn

    # -- voices ---------------------------------------------------------------------------------
    def local_voice(self, voice: str | None) -> Path | None:
        """A voice given as a path to an .onnx file, or a voice id already downloaded; else None."""
        if not voice:
            return None
        if looks_like_path(voice):
            path = Path(voice).expanduser()
            return path if path.is_file() else None
        path = self.settings.models_dir / "piper" / f"{voice}.onnx"
        return path if path.is_file() and Path(f"{path}.json").is_file() else None

    def default_voice_path(self) -> Path:
        voice = self.settings.tts_voice
        path = self.local_voice(voice)
        if path is not None:
            return path
        if looks_like_path(voice):
            raise SpeechModelError(f"Voice file not found: {voice}. Check --tts-voice.")
        match = _PIPER_ID.match(voice)
        if match is None:
            raise SpeechModelError(
                f"No voice named '{voice}' in {self.settings.models_dir / 'piper'}. "
                "Use a Piper voice id like en_US-amy-medium or a path to an .onnx voice."
            )
        target = self.settings.models_dir / "piper" / f"{voice}.onnx"
        with self._lock:
            if not target.is_file() or not Path(f"{target}.json").is_file():
                for ext, dest in ((".onnx.json", Path(f"{target}.json")), (".onnx", target)):
                    url = PIPER_URL.format(voice=voice, ext=ext, **match.groupdict())
                    self._download(url, dest, f"voice {voice}", "--tts-voice PATH_TO_ONNX_VOICE")
        return target

    def voice_path_for(self, persona: Persona) -> Path:
        """The persona's own voice if it is a path or a downloaded voice, else the app's default voice."""
        own = self.local_voice(persona.voice.id)
        if own is not None:
            return own
        if persona.voice.id:
            log.info("voice %s of %s is not downloaded; using the default voice", persona.voice.id, persona.id)
        return self.default_voice_path()

    def tts(self, path: Path) -> PiperTTS:
        """The loaded Piper voice at `path`. Blocks: call from a worker thread."""
        with self._lock:
            tts = self._voices.get(path)
            if tts is None:
                tts = self._voices[path] = PiperTTS(
                    path, threads=default_threads(), first_threads=first_sentence_threads()
                )
        tts.load()
        return tts

    def voice_for(self, persona: Persona) -> tuple[PiperTTS, float | None]:
        """(loaded voice, length_scale) for a persona; raises SpeechModelError with what to do."""
        tts = self.tts(self.voice_path_for(persona))
        rate = persona.voice.rate
        return tts, (1.0 / rate if rate and rate != 1.0 else None)

    # -- warm-up --------------------------------------------------------------------------------
    def warm_up_in_background(self) -> None:
        """Load and run every model once in a thread, so the first utterance does not wait. Idempotent."""
        with self._lock:
            if self.ready or (self._warm_thread is not None and self._warm_thread.is_alive()):
                return
            self._warm_thread = threading.Thread(target=self.warm_up, name="voice-warmup", daemon=True)
            self._warm_thread.start()

    def warm_up(self) -> None:
        from avatar.voice.endpointing import SileroSession

        started = time.perf_counter()
        try:
            self._progress("Loading voice detection…")
            SileroSession.get()
            self._progress("Loading end-of-turn detection…")
            self.turn().warmup()
            self._progress(f"Loading speech recognition ({self.settings.stt_model})…")
            self.stt().warmup()
            self._start_live_stt(self.stt())
            self._progress("Loading the voice…")
            self.tts(self.default_voice_path()).warmup()
        except SpeechModelError as error:
            self.error = error.message
            self._progress(error.message)
            return
        except Exception as error:  # a broken model file must not kill the app, only voice
            log.exception("voice warm-up failed")
            self.error = f"Voice could not start: {error}"
            self._progress(self.error)
            return
        freeze_loaded()  # a full collection walking the models would stall calls for half a second
        # The status first: the Voice tab stops polling once `ready` is set and shows the status it reads then
        # (set the other way round, a page now and then kept "Loading the voice…" for good).
        self._progress(f"Voice ready (models loaded in {time.perf_counter() - started:.1f} s).")
        self.ready, self.error = True, None

    def wait_ready(self, timeout_s: float) -> bool:
        thread = self._warm_thread
        if thread is not None:
            thread.join(timeout_s)
        return self.ready
