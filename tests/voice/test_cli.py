"""The voice flags of `python app.py`, parsed as the app parses them, and what --offline does to models."""

from __future__ import annotations

from pathlib import Path

import pytest

import app as app_module
from avatar.speech.exceptions import SpeechModelError
from avatar.voice.models import VoiceModels


def settings_for(argv: list[str]):
    return app_module.settings_from_args(app_module.parse_args(argv))


def test_voice_flags_set_the_voice_settings(tmp_path: Path):
    settings = settings_for(
        [
            "--data-dir", str(tmp_path),
            "--stt-model", "tiny.en",
            "--stt-threads", "2",
            "--tts-voice", "/voices/joe.onnx",
            "--vad-threshold", "0.6",
            "--min-speech-ms", "200",
            "--silence-ms", "700",
            "--max-utterance-s", "20",
            "--barge-in-ms", "96",
        ]
    )  # fmt: skip
    assert settings.stt_model == "tiny.en" and settings.stt_threads == 2
    assert settings.tts_voice == "/voices/joe.onnx"
    assert settings.vad_threshold == 0.6 and settings.vad_barge_in_ms == 96
    assert settings.vad_min_speech_ms == 200 and settings.vad_min_silence_ms == 700
    assert settings.max_utterance_s == 20.0


def test_flags_not_given_leave_the_environment_in_force(monkeypatch):
    monkeypatch.setenv("AVATAR_STT_MODEL", "tiny.en")
    monkeypatch.setenv("AVATAR_VAD_BARGE_IN_MS", "128")
    settings = settings_for(["--vad-threshold", "0.4"])
    assert settings.stt_model == "tiny.en" and settings.vad_barge_in_ms == 128 and settings.vad_threshold == 0.4
    assert settings.tts_voice == "en_US-amy-medium" and settings.stt_threads is None


@pytest.mark.parametrize(
    ("flag", "value", "setting"),
    [
        ("--vad-threshold", "1.5", "vad_threshold"),
        ("--barge-in-ms", "5", "vad_barge_in_ms"),
        ("--stt-threads", "0", "stt_threads"),
    ],
)
def test_a_bad_voice_flag_is_a_clear_error(flag: str, value: str, setting: str, capsys):
    assert app_module.main([flag, value]) == 2
    assert f"Invalid setting {setting}" in capsys.readouterr().err


def test_offline_without_the_models_says_what_to_do(tmp_path: Path):
    models = VoiceModels(settings_for(["--offline", "--data-dir", str(tmp_path)]))  # base.en-q8_0, en_US-amy-medium
    with pytest.raises(SpeechModelError) as stt_error:
        models.whisper_path()
    assert stt_error.value.message == (
        "The speech recognition model base.en-q8_0 is not downloaded yet and downloads are off (--offline). "
        f"Start once without --offline to download it into {tmp_path / 'models'}, "
        "or give a file you have: --stt-model PATH_TO_GGML_BIN."
    )
    with pytest.raises(
        SpeechModelError, match=r"voice en_US-amy-medium is not downloaded yet .*--tts-voice PATH_TO_ONNX"
    ):
        models.default_voice_path()
    # The Voice tab shows the message (the warm-up reports it instead of raising); nothing was fetched.
    models.warm_up()
    assert models.error == stt_error.value.message and models.status == models.error
    assert not (tmp_path / "models").exists() or not any((tmp_path / "models").rglob("*"))
