"""Ollama through its official async client: streaming /api/chat, model list, pull with progress."""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import ollama

from avatar.llm.activity import ReplyActivity
from avatar.llm.base import (
    ChatMessage,
    GenerationOptions,
    ModelNotFound,
    ProviderError,
    ProviderHealth,
    ProviderUnavailable,
    PullProgress,
    listed_name,
)
from avatar.llm.loop_clients import PerLoopClient, finish_stream
from avatar.llm.stats import GenerationStats, StatsClock

log = logging.getLogger(__name__)


def request_options(options: GenerationOptions) -> dict[str, object]:
    """Ollama's model options for every request to a model: chat, preload and memory cards alike. Ollama
    reloads the model (and loses its cache) when num_ctx differs from the request before."""
    return {
        "num_ctx": options.context_tokens,
        "num_predict": options.max_reply_tokens,
        "temperature": options.temperature,
    }


KEEP_ALIVE_S = 600.0  # an idle connection to Ollama is kept this long (it never closes one itself)
# What the ollama client raises when the server fails; JSONDecodeError: something else answered at that address.
CLIENT_ERRORS = (ollama.ResponseError, ConnectionError, httpx.TransportError, json.JSONDecodeError)


class OllamaProvider:
    name = "ollama"

    def __init__(self, host: str, model: str, timeout_s: float = 300.0) -> None:
        self.host = host
        self.model = model
        self.activity = ReplyActivity()
        # A short connect timeout: "Ollama is not running" should be said in seconds, not minutes.
        # Ollama keeps an idle connection open as long as the client does: kept here for the next turn, which
        # is seldom within httpx's default 5 s in a conversation.
        self._new_client = lambda: ollama.AsyncClient(
            host=host,
            timeout=httpx.Timeout(timeout_s, connect=5.0),
            limits=httpx.Limits(keepalive_expiry=KEEP_ALIVE_S),
        )
        self._clients = PerLoopClient(self._new_client)

    def unavailable(self) -> ProviderUnavailable:
        return ProviderUnavailable(
            f"Can't reach Ollama at {self.host}. Install Ollama (ollama.com/download), start it with "
            f"`ollama serve`, or point the app at your server with --ollama-host / OLLAMA_HOST."
        )

    def model_not_found(self, model: str) -> ModelNotFound:
        return ModelNotFound(
            model,
            f"The model '{model}' is not downloaded in Ollama yet. Use the Pull button "
            f"(or run `ollama pull {model}`), or choose another model in the Chat tab's Model list or with --model.",
        )

    def not_ollama(self) -> ProviderError:
        return ProviderError(
            f"The server at {self.host} answered, but not as Ollama does. Check --ollama-host (Ollama listens "
            f"on port 11434), or use --provider openai with --openai-base-url for an OpenAI-compatible server."
        )

    def _translate(self, error: Exception, model: str) -> ProviderError:
        if isinstance(error, ollama.ResponseError):
            if error.status_code == 404 or "not found" in str(error.error).lower():
                return self.model_not_found(model)
            return ProviderError(f"Ollama answered with an error: {error.error}")
        if isinstance(error, (ConnectionError, httpx.ConnectError, httpx.ConnectTimeout)):
            return self.unavailable()
        if isinstance(error, httpx.TransportError):
            return ProviderError(f"The connection to Ollama broke off ({type(error).__name__}). Try again.")
        if isinstance(error, json.JSONDecodeError):
            return self.not_ollama()
        raise error

    async def stream_chat(
        self,
        messages: list[ChatMessage],
        options: GenerationOptions,
        model: str | None = None,
        stats: GenerationStats | None = None,
    ) -> AsyncIterator[str]:
        model = model or self.model
        with self.activity.reply():
            stats = stats if stats is not None else GenerationStats()
            stats.model = model
            clock = StatsClock(stats)
            try:
                stream = await self._clients.get().chat(
                    model=model,
                    messages=[m.model_dump() for m in messages],
                    stream=True,
                    options=request_options(options),
                    keep_alive=options.keep_alive,
                )
                # aclosing: when our consumer stops early, the HTTP response must close now, not at GC time,
                # or Ollama keeps generating a reply nobody reads.
                async with contextlib.aclosing(stream):
                    async for part in stream:
                        piece = part.message.content if part.message else ""
                        if piece:
                            clock.piece()
                            yield piece
                        if part.done:
                            clock.done()
                            stats.read_ollama(part)
                            await finish_stream(stream)
                            return
            except CLIENT_ERRORS as error:
                raise self._translate(error, model) from None

    async def complete_json(
        self,
        messages: list[ChatMessage],
        schema: dict[str, Any],
        options: GenerationOptions,
        model: str | None = None,
        *,
        constrained: bool = True,
    ) -> str:
        """Ollama constrains the answer to `schema` itself (`format`), always: `constrained` changes nothing."""
        model = model or self.model
        await self.activity.idle()
        try:
            # A client of its own: this runs on short-lived event loops (the memory writer's jobs).
            async with self._new_client() as client:
                response = await client.chat(
                    model=model,
                    messages=[m.model_dump() for m in messages],
                    format=schema,
                    stream=False,
                    options=request_options(options),
                    keep_alive=options.keep_alive,
                )
        except CLIENT_ERRORS as error:
            raise self._translate(error, model) from None
        return response.message.content or ""

    async def preload(
        self, options: GenerationOptions, model: str | None = None, messages: list[ChatMessage] | None = None
    ) -> float:
        """Ollama loads a model on a request without messages; with messages, one generated token puts
        their evaluation into its cache. The same options as chat: a different num_ctx reloads the model."""
        model = model or self.model
        started = time.perf_counter()
        try:
            await self._clients.get().chat(
                model=model,
                messages=[m.model_dump() for m in messages or []],
                stream=False,
                options={**request_options(options), "num_predict": 1} if messages else request_options(options),
                keep_alive=options.keep_alive,
            )
        except CLIENT_ERRORS as error:
            raise self._translate(error, model) from None
        return time.perf_counter() - started

    async def list_models(self) -> list[str]:
        try:
            try:
                listing = await self._clients.get().list()
            except httpx.RemoteProtocolError:
                # A kept-alive connection the server had closed meanwhile (Ollama closes idle ones): a GET is
                # safe to send again, once. Otherwise the status banner said "broke off" until the next event.
                listing = await self._clients.get().list()
        except CLIENT_ERRORS as error:
            if isinstance(error, ollama.ResponseError) and error.status_code == 404:
                raise self.not_ollama() from None  # every Ollama has /api/tags: this is another server
            raise self._translate(error, self.model) from None
        return [m.model for m in listing.models if m.model]

    async def pull(self, model: str) -> AsyncIterator[PullProgress]:
        try:
            async for part in await self._clients.get().pull(model, stream=True):
                yield PullProgress(status=part.status or "", completed=part.completed, total=part.total)
        except CLIENT_ERRORS as error:
            if isinstance(error, ollama.ResponseError):
                raise ProviderError(f"Ollama could not pull '{model}': {error.error}") from None
            raise self._translate(error, model) from None

    async def health(self, model: str | None = None) -> ProviderHealth:
        model = model or self.model
        try:
            models = await self.list_models()
        except ProviderUnavailable as error:
            return ProviderHealth(reachable=False, model=model, detail=error.message)
        except ProviderError as error:  # it answered, but with an error (a proxy refusing us, a server fault)
            return ProviderHealth(reachable=True, listed=False, model=model, detail=error.message)
        available = listed_name(model, models) is not None
        detail = "" if available else self.model_not_found(model).message
        return ProviderHealth(
            reachable=True, model=model, model_available=available, models=models, can_pull=True, detail=detail
        )
