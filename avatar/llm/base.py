"""The provider interface every LLM backend implements, and the errors it speaks in.

Streaming is a plain async iterator of text pieces. Cancelling is closing that iterator
(`aclose()`, or cancelling the task iterating it): the HTTP stream closes with it, which is how
the model server learns to stop generating.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import BaseModel

from avatar.core.errors import AvatarError
from avatar.llm.stats import GenerationStats

if TYPE_CHECKING:
    from avatar.core.settings import Settings


class ChatMessage(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: str


class GenerationOptions(BaseModel):
    context_tokens: int = 8192
    max_reply_tokens: int = 512
    temperature: float = 0.8
    # How long the server keeps the model loaded after a request (Ollama's keep_alive: "30m", "-1" for ever).
    keep_alive: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> GenerationOptions:
        """The options of every request to the chat model, chat and memory cards alike: Ollama loads the
        model again when num_ctx (context_tokens) differs from the previous request's."""
        return cls(
            context_tokens=settings.context_tokens,
            max_reply_tokens=settings.reply_tokens,
            temperature=settings.temperature,
            keep_alive=settings.keep_alive,
        )


class PullProgress(BaseModel):
    status: str
    completed: int | None = None
    total: int | None = None

    @property
    def fraction(self) -> float | None:
        if self.total:
            return min(1.0, (self.completed or 0) / self.total)
        return None


class ProviderHealth(BaseModel):
    reachable: bool
    listed: bool = True  # False: the server answered, but with an error instead of its models (detail says)
    model: str
    model_available: bool = False
    models: list[str] = []
    can_pull: bool = False
    detail: str = ""


def listed_name(model: str, listed: list[str]) -> str | None:
    """The name under which the server lists `model`, if it does: Ollama lists 'llama3.2:latest' for 'llama3.2'."""
    if model in listed:
        return model
    tagged = model if ":" in model else f"{model}:latest"
    return tagged if tagged in listed else None


class ProviderError(AvatarError):
    """The model server failed; the message says what the user can do."""


class ProviderUnavailable(ProviderError):
    """The model server cannot be reached at all."""


class ModelNotFound(ProviderError):
    def __init__(self, model: str, message: str) -> None:
        super().__init__(message)
        self.model = model


class ChatProvider(Protocol):
    """What the app needs from a model server."""

    name: str
    model: str

    def stream_chat(
        self,
        messages: list[ChatMessage],
        options: GenerationOptions,
        model: str | None = None,
        stats: GenerationStats | None = None,
    ) -> AsyncIterator[str]:
        """The reply, piece by piece. Raises ProviderUnavailable / ModelNotFound / ProviderError.
        `stats` is filled with the server's own figures once it sends them (at the end)."""
        ...

    async def preload(
        self, options: GenerationOptions, model: str | None = None, messages: list[ChatMessage] | None = None
    ) -> float:
        """Have the server load `model` now (and evaluate `messages`, the start of the next prompts, into
        its cache); returns the seconds it took. Raises like stream_chat."""
        ...

    async def complete_json(
        self,
        messages: list[ChatMessage],
        schema: dict[str, Any],
        options: GenerationOptions,
        model: str | None = None,
        *,
        constrained: bool = True,
    ) -> str:
        """One whole answer (not streamed) meant to be a JSON object of `schema`: constrained to it where
        the server can (constrained=False: only asked for it, the schema written into the prompt). The
        caller validates. Waits while this provider streams a reply. Raises ProviderUnavailable /
        ModelNotFound / ProviderError."""
        ...

    async def list_models(self) -> list[str]: ...

    def pull(self, model: str) -> AsyncIterator[PullProgress]:
        """Download a model, reporting progress. Raises ProviderError where the server cannot pull."""
        ...

    async def health(self, model: str | None = None) -> ProviderHealth: ...
