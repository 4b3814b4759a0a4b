"""What one reply cost: the model server's own figures (tokens evaluated, cached, generated, durations)
and what the app measured (time to the first token). Numbers only, never text: safe to log.

Servers report differently, and each field is None when the server did not say:
- Ollama's final chunk: `prompt_eval_count` (recent versions: the whole prompt, cache included),
  `prompt_eval_cached_count` (where reported: the part read from the cache), `prompt_eval_duration`,
  `load_duration`, `eval_count`, `eval_duration` (nanoseconds).
- OpenAI-compatible servers, with `stream_options.include_usage`: a last chunk with `usage`
  (`prompt_tokens`, `completion_tokens`, and `prompt_tokens_details.cached_tokens` where the server
  gives it: vLLM with --enable-prompt-tokens-details); llama.cpp server adds `timings` (`prompt_n`
  evaluated, `cache_n` cached, `prompt_ms`, `predicted_n`, `predicted_ms`).
"""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel

NS_PER_MS = 1_000_000


class GenerationStats(BaseModel):
    model: str = ""
    prompt_tokens: int | None = None  # the whole prompt
    cached_tokens: int | None = None  # of those, read from the server's cache
    evaluated_tokens: int | None = None  # of those, evaluated for this reply
    prompt_eval_ms: float | None = None
    load_ms: float | None = None  # loading the model first (it was not in memory)
    generated_tokens: int | None = None
    generation_ms: float | None = None
    first_token_ms: float | None = None  # measured by the app: request sent -> first piece of text
    total_ms: float | None = None  # measured by the app: request sent -> last piece

    @property
    def tokens_per_s(self) -> float | None:
        if self.generated_tokens and self.generation_ms:
            return self.generated_tokens / (self.generation_ms / 1000)
        return None

    @property
    def reuse(self) -> float | None:
        """The fraction of the prompt the server took from its cache."""
        if self.prompt_tokens and self.cached_tokens is not None:
            return self.cached_tokens / self.prompt_tokens
        return None

    def read_ollama(self, final: Any) -> None:
        """The final chunk of Ollama's /api/chat stream (the client's ChatResponse, or a dict)."""
        get = final.get if isinstance(final, dict) else lambda name: getattr(final, name, None)
        prompt, cached = get("prompt_eval_count"), get("prompt_eval_cached_count")
        if cached is None and isinstance(final, BaseModel):
            cached = (final.model_extra or {}).get("prompt_eval_cached_count")
        if cached is not None and prompt is not None:
            self.prompt_tokens, self.cached_tokens, self.evaluated_tokens = prompt, cached, max(0, prompt - cached)
        elif prompt is not None:
            # Without the cached count, Ollama's versions differ on whether this counts the cached part too
            # (older ones counted only what they evaluated): shown as what Ollama reports, with its duration.
            self.prompt_tokens = prompt
        self.prompt_eval_ms = _ms(get("prompt_eval_duration"))
        self.load_ms = _ms(get("load_duration"))
        self.generated_tokens = get("eval_count")
        self.generation_ms = _ms(get("eval_duration"))

    def read_openai(self, chunk: dict[str, Any]) -> None:
        """Whatever figures one OpenAI-compatible stream chunk carries (usage, llama.cpp's timings)."""
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            self.prompt_tokens = _int(usage.get("prompt_tokens"), self.prompt_tokens)
            self.generated_tokens = _int(usage.get("completion_tokens"), self.generated_tokens)
            details = usage.get("prompt_tokens_details")
            if isinstance(details, dict) and details.get("cached_tokens") is not None:
                self.cached_tokens = _int(details.get("cached_tokens"), None)
        timings = chunk.get("timings")
        if isinstance(timings, dict):
            self.evaluated_tokens = _int(timings.get("prompt_n"), self.evaluated_tokens)
            self.cached_tokens = _int(timings.get("cache_n"), self.cached_tokens)
            self.prompt_eval_ms = _float(timings.get("prompt_ms"), self.prompt_eval_ms)
            self.generated_tokens = _int(timings.get("predicted_n"), self.generated_tokens)
            self.generation_ms = _float(timings.get("predicted_ms"), self.generation_ms)
        if self.prompt_tokens is not None and self.cached_tokens is not None:
            self.evaluated_tokens = max(0, self.prompt_tokens - self.cached_tokens)
        elif self.prompt_tokens is None and self.evaluated_tokens is not None and self.cached_tokens is not None:
            self.prompt_tokens = self.evaluated_tokens + self.cached_tokens

    def summary(self) -> str:
        """One short line for under a reply: '412 of 3,530 prompt tokens evaluated · prompt 0.9 s ·
        first token 1.1 s · 14.0 tokens/s'."""
        parts: list[str] = []
        if self.evaluated_tokens is not None and self.prompt_tokens is not None:
            parts.append(f"{self.evaluated_tokens:,} of {self.prompt_tokens:,} prompt tokens evaluated")
        elif self.evaluated_tokens is not None:
            parts.append(f"{self.evaluated_tokens:,} prompt tokens evaluated")
        elif self.prompt_tokens is not None:
            parts.append(f"{self.prompt_tokens:,} prompt tokens")
        if self.prompt_eval_ms is not None:
            parts.append(f"prompt {self.prompt_eval_ms / 1000:.1f} s")
        if self.load_ms and self.load_ms >= 100:
            parts.append(f"model loaded in {self.load_ms / 1000:.1f} s")
        if self.first_token_ms is not None:
            parts.append(f"first token {self.first_token_ms / 1000:.1f} s")
        if (rate := self.tokens_per_s) is not None:
            parts.append(f"{rate:.1f} tokens/s")
        return " · ".join(parts)


class StatsClock:
    """Times a streamed reply into `stats`, from the moment it is made (just before the request)."""

    def __init__(self, stats: GenerationStats) -> None:
        self.stats = stats
        self.started = time.perf_counter()

    def piece(self) -> None:
        if self.stats.first_token_ms is None:
            self.stats.first_token_ms = (time.perf_counter() - self.started) * 1000

    def done(self) -> None:
        self.stats.total_ms = (time.perf_counter() - self.started) * 1000


def _ms(nanoseconds: object) -> float | None:
    return nanoseconds / NS_PER_MS if isinstance(nanoseconds, (int, float)) else None


def _int(value: object, default: int | None) -> int | None:
    return int(value) if isinstance(value, (int, float)) else default


def _float(value: object, default: float | None) -> float | None:
    return float(value) if isinstance(value, (int, float)) else default
