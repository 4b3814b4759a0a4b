"""Pick the provider the settings ask for. Swapping providers is configuration only."""

from __future__ import annotations

from avatar.core.settings import Settings
from avatar.llm.base import ChatProvider
from avatar.llm.ollama import OllamaProvider
from avatar.llm.openai_compat import OpenAICompatibleProvider


def make_provider(settings: Settings) -> ChatProvider:
    if settings.provider == "openai":
        return OpenAICompatibleProvider(
            settings.openai_base_url, settings.model, settings.openai_api_key, settings.request_timeout_s
        )
    return OllamaProvider(settings.ollama_host, settings.model, settings.request_timeout_s)
