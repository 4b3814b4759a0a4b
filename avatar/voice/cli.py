"""The voice settings as command-line flags (`python app.py --stt-model tiny.en --barge-in-ms 96`).

Each flag's dest is its Settings field, which is how app.py turns flags into settings; a flag not
given leaves the AVATAR_* environment or the default in force.
"""

from __future__ import annotations

import argparse

# flag, Settings field, type, help
FLAGS: list[tuple[str, str, type, str]] = [
    (
        "--stt-model",
        "stt_model",
        str,
        "whisper.cpp model: base.en-q8_0 (default), tiny.en-q8_0, base.en, or a ggml .bin path",
    ),
    ("--stt-threads", "stt_threads", int, "whisper.cpp threads (default: cores - 1)"),
    ("--tts-voice", "tts_voice", str, "default Piper voice: an id like en_US-amy-medium or a path to an .onnx voice"),
    ("--vad-threshold", "vad_threshold", float, "speech probability (0-1) above which sound is speech (0.5)"),
    ("--min-speech-ms", "vad_min_speech_ms", int, "shorter sounds (coughs, clicks) are ignored (250)"),
    ("--silence-ms", "vad_min_silence_ms", int, "a pause this long ends your turn even mid-sentence (1000)"),
    ("--pause-ms", "vad_pause_ms", int, "at a pause this long the end-of-turn model decides if you are done (192)"),
    ("--turn-model", "turn_model", str, "Smart Turn v3 ONNX: smart-turn-v3.2-cpu (default) or a path to the file"),
    ("--max-utterance-s", "max_utterance_s", float, "longer speech is cut and answered (30)"),
    ("--barge-in-ms", "vad_barge_in_ms", int, "this much speech over the avatar interrupts it (64)"),
]


def add_flags(flags: argparse.ArgumentParser) -> None:
    voice = flags.add_argument_group("voice")
    for flag, field, kind, help_text in FLAGS:
        metavar = flag.removeprefix("--").upper().replace("-", "_")
        voice.add_argument(flag, dest=field, type=kind, default=argparse.SUPPRESS, metavar=metavar, help=help_text)
