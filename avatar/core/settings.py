"""One settings object for the whole app: CLI flags over AVATAR_* environment variables over defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OLLAMA_HOST = "http://127.0.0.1:11434"


class Settings(BaseSettings):
    """Everything that can be configured. Built once in app.py and passed down explicitly."""

    model_config = SettingsConfigDict(env_prefix="AVATAR_", extra="ignore", populate_by_name=True)

    host: str = "127.0.0.1"
    port: int = Field(default=7860, ge=0, le=65535)
    # LAN mode: all interfaces, HTTPS (browsers allow the microphone only in a secure context), login.
    lan: bool = False
    auth: str | None = None  # USER:PASSWORD; LAN mode without it generates a password
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    offline: bool = False  # never download a model; say what is missing instead
    data_dir: Path = PROJECT_ROOT / "data"
    builtin_personas_dir: Path = PROJECT_ROOT / "personas"

    provider: Literal["ollama", "openai"] = "ollama"
    # OLLAMA_HOST is what the Ollama CLI itself reads, so honour it too.
    ollama_host: str = Field(
        default=DEFAULT_OLLAMA_HOST,
        validation_alias=AliasChoices("ollama_host", "AVATAR_OLLAMA_HOST", "OLLAMA_HOST"),
    )
    model: str = "llama3.2:3b"
    openai_base_url: str = "http://127.0.0.1:8080/v1"
    openai_api_key: str = ""
    request_timeout_s: float = 300.0

    context_tokens: int = Field(default=8192, ge=512)
    reply_tokens: int = Field(default=512, ge=16)
    temperature: float = Field(default=0.8, ge=0.0, le=2.0)
    # Ollama unloads a model 5 minutes after its last request by default; reloading it costs seconds and the
    # cached prompt. A companion is talked to in bursts with pauses: keep it loaded much longer.
    keep_alive: str = "1h"

    # Voice. Models named here are downloaded into <data-dir>/models on first use; paths are used as they are.
    # whisper.cpp: base.en with q8_0 weights (the same words as base.en, ~12% faster on CPU, half the size);
    # tiny.en-q8_0 for slow machines, or a path to a ggml file
    stt_model: str = "base.en-q8_0"
    # None: cores - 1 (the rest keeps audio and the model server moving)
    stt_threads: int | None = Field(default=None, ge=1)
    tts_voice: str = "en_US-amy-medium"  # Piper voice id or a path to an .onnx voice; personas may override
    vad_threshold: float = Field(default=0.5, gt=0.0, lt=1.0)
    vad_min_speech_ms: int = Field(default=250, ge=0)
    # A pause this long ends the user's turn even when it does not sound finished (a thinking pause
    # shorter than this is waited out); a turn that sounds finished ends at the short pause below.
    vad_min_silence_ms: int = Field(default=1000, ge=100)
    vad_pause_ms: int = Field(default=192, ge=64, le=2000)  # a pause this long asks the end-of-turn model
    # (192: six 32 ms VAD windows; 200 was rounded up to seven, 224 ms)
    # Smart Turn v3: a name (downloaded into <data-dir>/models on first use) or a path to its ONNX file.
    turn_model: str = "smart-turn-v3.2-cpu"
    max_utterance_s: float = Field(default=30.0, gt=1.0)
    # How much speech over the avatar interrupts it (barge-in). Short, so it stops as soon as you talk;
    # a cough may interrupt too. Echo-prone setups: use the Voice tab's mute or push-to-talk mode.
    vad_barge_in_ms: int = Field(default=64, ge=32, le=1000)

    # Long-term memory.
    embedding_model: str = "BAAI/bge-small-en-v1.5"  # a sentence-transformers name or a local folder (384-d)
    memory_recall_k: int = Field(default=8, ge=0, le=50)
    memory_token_budget: int = Field(default=800, ge=0)  # how much of the prompt recalled memories may use
    # Memory cards need the chat model; on a server with one slot each such request replaces the conversation's
    # cached prompt. So they are made in batches once a conversation has been quiet this long (or is left).
    card_idle_s: float = Field(default=120.0, ge=0.0)

    user_name: str = "User"
    log_prompts: bool = False
    log_level: str = "INFO"

    @field_validator("ollama_host")
    @classmethod
    def _normalise_ollama_host(cls, value: str) -> str:
        # The Ollama CLI accepts "host:port" without a scheme; the HTTP clients do not.
        value = value.strip().rstrip("/")
        if "://" not in value:
            value = f"http://{value}"
        return value

    @property
    def bind_host(self) -> str:
        return "0.0.0.0" if self.lan else self.host

    @property
    def tls_dir(self) -> Path:
        return self.data_dir / "tls"

    @property
    def db_path(self) -> Path:
        return self.data_dir / "avatar.db"

    @property
    def user_personas_dir(self) -> Path:
        return self.data_dir / "personas"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    def ensure_dirs(self) -> None:
        for path in (self.data_dir, self.user_personas_dir, self.models_dir):
            path.mkdir(parents=True, exist_ok=True)
