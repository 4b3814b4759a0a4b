"""Settings: CLI flags over AVATAR_* environment over defaults; OLLAMA_HOST is honoured."""

from __future__ import annotations

from pathlib import Path

import app as app_module


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
