"""whisper.cpp in a child process, for passes that may turn stale halfway and must then stop at once.

The live transcript runs whisper over the audio so far while the user talks. When they stop, the pass
the reply waits on must start at once, on every core; but a live pass still in whisper.cpp's encoder
cannot be stopped from another thread (whisper.cpp reads its abort flag only after the encoder), and
the final pass waited for it: 0-300 ms, a median of ~100 ms in a bench run, on every turn's critical
path. A process can be killed at once. So live passes run here, on their own copy of the model (tiny.en
q8_0: 157 MB for the process), and `stop()` kills a pass that is no longer wanted. The process starts
again with the next utterance (~0.35 s of one core); until it is ready no live pass runs.

The pipe protocol is private to this file: a JSON header line, then the float32 samples; a JSON line back.
`python -m avatar.speech.stt_worker MODEL THREADS` is the child's side.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np

from avatar.speech.stt import Transcript, WhisperSTT

log = logging.getLogger(__name__)

READY = b"ready\n"


class WhisperWorker:
    """One child process with a whisper.cpp model; `transcribe` from one thread at a time, `stop` from any."""

    def __init__(self, model_path: Path, threads: int = 1) -> None:
        self.model_path = Path(model_path)
        self.threads = threads
        self._process: subprocess.Popen[bytes] | None = None
        self._ready = threading.Event()
        self._busy = False
        self._lock = threading.Lock()
        self.failed = False  # the process could not start: passes run in the app instead

    def start(self) -> None:
        """Start the process if it is not running (returns at once; `ready()` tells when it can take a pass)."""
        with self._lock:
            if self.failed or (self._process is not None and self._process.poll() is None):
                return
            if self._process is not None:
                _close_pipes(self._process)  # the stopped one's
            self._ready.clear()
            # The app may have been started from another directory: the child finds this package where it is.
            package_root = str(Path(__file__).resolve().parents[2])
            env = {
                **os.environ,
                "PYTHONPATH": os.pathsep.join(filter(None, (package_root, os.environ.get("PYTHONPATH")))),
            }
            try:
                process = subprocess.Popen(
                    [sys.executable, "-m", "avatar.speech.stt_worker", str(self.model_path), str(self.threads)],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,  # whisper.cpp's own chatter; a failure shows as the pipe closing
                    env=env,
                )
            except OSError:
                log.exception("voice: could not start the live transcription process; it runs in the app")
                self.failed = True
                return
            self._process = process
        threading.Thread(target=self._wait_ready, args=(process,), name="whisper-worker-start", daemon=True).start()

    def _wait_ready(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None
        if process.stdout.readline() == READY:
            self._ready.set()
            return
        code = process.wait()
        if process is self._process and code != -9:  # (-9: killed by stop(), which is no failure)
            log.warning("voice: the live transcription process did not start (exit %s); it runs in the app", code)
            self.failed = True

    def ready(self) -> bool:
        """Whether a pass would start now (the process is up and idle)."""
        process = self._process
        return self._ready.is_set() and not self._busy and process is not None and process.poll() is None

    def transcribe(
        self, audio: np.ndarray, prompt: str = "", draft: bool = True, abort: Callable[[], bool] | None = None
    ) -> Transcript:
        """`WhisperSTT.transcribe_detailed` in the process (blocks); `aborted` when `stop()` killed it, or when
        `abort()` was already True (stopped before it was sent)."""
        process = self._process
        if process is None or not self._ready.is_set() or process.stdin is None or process.stdout is None:
            return Transcript("", 0.0, aborted=True)
        samples = np.ascontiguousarray(np.asarray(audio, dtype=np.float32).reshape(-1))
        header = json.dumps({"samples": int(samples.size), "prompt": prompt, "draft": draft}).encode()
        with self._lock:  # (stop() kills only a busy process: a pass stopped before this point is not sent)
            if abort is not None and abort():
                return Transcript("", 0.0, aborted=True)
            self._busy = True
        try:
            process.stdin.write(header + b"\n" + samples.tobytes())
            process.stdin.flush()
            line = process.stdout.readline()
        except (BrokenPipeError, OSError, ValueError):  # killed meanwhile (ValueError: its pipe was closed)
            line = b""
        finally:
            self._busy = False
        if not line:
            self._ready.clear()
            return Transcript("", 0.0, aborted=True)
        result = json.loads(line)
        return Transcript(result["text"], float(result["probability"]))

    def stop(self) -> None:
        """Kill the pass running now, if any (the process starts again on the next `start()`)."""
        with self._lock:
            process = self._process
            if process is not None and self._busy and process.poll() is None:
                self._ready.clear()
                process.kill()
                # Until it is reaped it still looks alive, and a start() just after would take it for the running
                # process and start none (the test that starts it again waited 30 s in a loaded full run).
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=2)

    def close(self) -> None:
        with self._lock:
            process, self._process = self._process, None
            self._ready.clear()
        if process is not None:
            if process.poll() is None:
                process.kill()
                process.wait()
            _close_pipes(process)


def _close_pipes(process: subprocess.Popen[bytes]) -> None:
    for pipe in (process.stdin, process.stdout):
        if pipe is not None:
            with contextlib.suppress(OSError):  # (a write to a killed process's stdin cannot be flushed)
                pipe.close()


def serve(model_path: str, threads: int) -> None:
    """The child's loop: a pass per request until the app closes the pipe (or dies)."""
    # The pipe to the app is a copy of stdout; whatever else writes to stdout (a C library's printf) goes to stderr.
    stdout = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    stdin = sys.stdin.buffer
    stt = WhisperSTT(model_path, threads=threads, adaptive_context=True)
    stt.load()
    stdout.write(READY)
    stdout.flush()
    while header := stdin.readline():
        request = json.loads(header)
        audio = np.frombuffer(stdin.read(4 * request["samples"]), dtype=np.float32)
        result = stt.transcribe_detailed(audio, prompt=request["prompt"], draft=request["draft"])
        stdout.write(json.dumps({"text": result.text, "probability": result.probability}).encode() + b"\n")
        stdout.flush()


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]))
