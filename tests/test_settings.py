"""Settings: CLI flags over AVATAR_* environment over defaults; OLLAMA_HOST is honoured."""

from __future__ import annotations

from pathlib import Path

import app as app_module
from avatar.llm.model_choice import ModelChoice, startup_model


def test_defaults_bind_loopback(monkeypatch):
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    settings = app_module.settings_from_args(app_module.parse_args([]))
    assert settings.host == "127.0.0.1" and settings.port == 7860
    assert settings.ollama_host == "http://127.0.0.1:11434"
    assert settings.provider == "ollama" and not settings.log_prompts


def test_flags_override_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("AVATAR_MODEL", "from-env")
    monkeypatch.setenv("AVATAR_PORT", "9000")
    monkeypatch.setenv("OLLAMA_HOST", "10.0.0.5:11434")
    settings = app_module.settings_from_args(
        app_module.parse_args(["--model", "from-flag", "--data-dir", str(tmp_path), "--log-prompts"])
    )
    assert settings.model == "from-flag" and settings.port == 9000
    assert settings.ollama_host == "http://10.0.0.5:11434"
    assert settings.data_dir == Path(tmp_path) and settings.db_path == Path(tmp_path) / "avatar.db"
    assert settings.log_prompts


def test_openai_provider_flags():
    settings = app_module.settings_from_args(
        app_module.parse_args(["--provider", "openai", "--openai-base-url", "http://127.0.0.1:1234/v1"])
    )
    assert settings.provider == "openai" and settings.openai_base_url == "http://127.0.0.1:1234/v1"


def test_invalid_setting_is_a_clear_error(capsys):
    assert app_module.main(["--context-tokens", "10"]) == 2
    assert "context_tokens" in capsys.readouterr().err


def test_model_flag_or_environment_wins_over_the_model_picked_in_the_chat_tab(monkeypatch, tmp_path):
    monkeypatch.delenv("AVATAR_MODEL", raising=False)
    remembered = ModelChoice.for_data_dir(tmp_path)
    remembered.save("ollama", "llama3.1:8b")

    def model_at_start(*argv: str) -> str:
        settings = app_module.settings_from_args(app_module.parse_args(["--data-dir", str(tmp_path), *argv]))
        return startup_model(settings, remembered)

    assert model_at_start() == "llama3.1:8b"
    assert model_at_start("--model", "llama3.2:3b") == "llama3.2:3b"  # given explicitly, even the default wins
    assert model_at_start("--provider", "openai") == "llama3.2:3b"  # remembered per provider
    monkeypatch.setenv("AVATAR_MODEL", "qwen2.5:0.5b")
    assert model_at_start() == "qwen2.5:0.5b"
    monkeypatch.delenv("AVATAR_MODEL")
    (tmp_path / "model_choice.yaml").write_text("ollama: [unclosed\n")  # damaged by hand: the default, no crash
    assert model_at_start() == "llama3.2:3b"
