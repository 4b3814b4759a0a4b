"""Any OpenAI-compatible server (vLLM, llama.cpp server, LM Studio, Ollama's /v1) over httpx and SSE."""

from __future__ import annotations

import contextlib
import json
import logging
import re
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx

from avatar.llm.activity import ReplyActivity
from avatar.llm.base import (
    ChatMessage,
    GenerationOptions,
    ModelNotFound,
    ProviderError,
    ProviderHealth,
    ProviderUnavailable,
    PullProgress,
)
from avatar.llm.loop_clients import PerLoopClient, finish_stream
from avatar.llm.stats import GenerationStats, StatsClock
from avatar.llm.structured import with_schema_instruction

log = logging.getLogger(__name__)
# A reply that is not a stream is read whole, up to this size (a chat completion; a web page is refused).
MAX_UNSTREAMED_CHARS = 1_000_000
# What a server that cannot constrain an answer to a JSON schema says when asked to (llama.cpp before
# json_schema support: 'response_format type must be one of "text" or "json_object", but got: json_schema').
_NO_SCHEMA = re.compile(r"response_format|json_schema|schema", re.IGNORECASE)


class OpenAICompatibleProvider:
    name = "openai"

    def __init__(self, base_url: str, model: str, api_key: str = "", timeout_s: float = 300.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self._usage_in_stream = True
        self.activity = ReplyActivity()
        # None: not known yet; False: the server refused response_format json_schema once (asked in words since).
        self.json_schema_supported: bool | None = None
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._new_client = lambda: httpx.AsyncClient(
            base_url=self.base_url, headers=headers, timeout=httpx.Timeout(timeout_s, connect=5.0)
        )
        self._clients = PerLoopClient(self._new_client)

    def unavailable(self) -> ProviderUnavailable:
        return ProviderUnavailable(
            f"Can't reach the OpenAI-compatible server at {self.base_url}. Start it (vLLM, llama.cpp "
            f"server, LM Studio…) or point the app at it with --openai-base-url."
        )

    def _http_error(self, response: httpx.Response, body: str, model: str) -> ProviderError:
        try:
            detail = json.loads(body).get("error", body)
            if isinstance(detail, dict):
                detail = detail.get("message", str(detail))
        except (json.JSONDecodeError, AttributeError):
            detail = body
        detail = str(detail).strip()[:300]
        status = response.status_code
        if status == 404 and "model" in detail.lower():
            return ModelNotFound(model, f"The server has no model '{model}': {detail}. Load it there or use --model.")
        if status in (401, 403):
            return ProviderError(
                f"The model server at {self.base_url} refused the request ({status}: {detail}). If it needs an "
                "API key, set it in the AVATAR_OPENAI_API_KEY environment variable."
            )
        if status in (404, 405):
            # A base URL without its /v1 (or pointing at something else) answers every API path like this.
            return ProviderError(
                f"The model server at {self.base_url} has no {response.request.url.path} ({status}: {detail}). "
                "Check --openai-base-url: it usually ends in /v1."
            )
        return ProviderError(f"The model server answered {status}: {detail}")

    def _whole_reply(self, body: str) -> str:
        try:
            reply = json.loads(body)["choices"][0]["message"]["content"]
        except (json.JSONDecodeError, KeyError, IndexError, TypeError):
            raise self._not_openai("a reply") from None
        if not isinstance(reply, str):
            raise self._not_openai("a reply")
        return reply

    def _not_openai(self, what: str) -> ProviderError:
        return ProviderError(
            f"The server at {self.base_url} sent {what} that is not OpenAI-compatible JSON. "
            "Check --openai-base-url, or use --provider ollama for an Ollama server."
        )

    async def stream_chat(
        self,
        messages: list[ChatMessage],
        options: GenerationOptions,
        model: str | None = None,
        stats: GenerationStats | None = None,
    ) -> AsyncIterator[str]:
        model = model or self.model
        stats = stats if stats is not None else GenerationStats()
        stats.model = model
        payload: dict[str, object] = {
            "model": model,
            "messages": [m.model_dump() for m in messages],
            "stream": True,
            "max_tokens": options.max_reply_tokens,
            "temperature": options.temperature,
        }
        clock = StatsClock(stats)
        with self.activity.reply():
            # aclosing: a consumer that stops early closes the HTTP response now (the server stops generating).
            async with contextlib.aclosing(self._stream(payload, model, stats, clock)) as pieces:
                async for piece in pieces:
                    yield piece

    async def _stream(
        self, payload: dict[str, object], model: str, stats: GenerationStats, clock: StatsClock
    ) -> AsyncIterator[str]:
        try:
            while True:
                if self._usage_in_stream:
                    # The token counts (and cached tokens, where the server tells) in a last chunk of the stream.
                    payload["stream_options"] = {"include_usage": True}
                async with self._clients.get().stream("POST", "/chat/completions", json=payload) as response:
                    if response.status_code >= 400:
                        body = (await response.aread()).decode("utf-8", "replace")
                        if response.status_code == 400 and "stream_options" in payload and "stream_options" in body:
                            # An older server that refuses the field: ask again without it, and from now on.
                            self._usage_in_stream = False
                            del payload["stream_options"]
                            continue
                        raise self._http_error(response, body, model)
                    async for piece in self._pieces(response, stats, clock):
                        yield piece
                    clock.done()
                    return
        except (httpx.ConnectError, httpx.ConnectTimeout):
            raise self.unavailable() from None
        except httpx.TransportError as error:
            raise ProviderError(f"The connection to the model server broke off ({type(error).__name__}).") from None

    async def _pieces(self, response: httpx.Response, stats: GenerationStats, clock: StatsClock) -> AsyncIterator[str]:
        """The text of an SSE chat-completion stream; figures go into `stats`."""
        streamed = False
        other: list[str] = []  # what was not an SSE data line, in case the whole reply is one
        other_chars = 0
        lines = response.aiter_lines()
        async for line in lines:
            if not line.startswith("data:"):
                if not streamed and other_chars < MAX_UNSTREAMED_CHARS:
                    other.append(line)
                    other_chars += len(line)
                continue  # SSE comments, event names and keep-alive blank lines
            streamed = True
            data = line[len("data:") :].strip()
            if data == "[DONE]":
                await finish_stream(lines)
                return
            try:
                chunk = json.loads(data)
            except json.JSONDecodeError:
                raise self._not_openai("a reply") from None
            if "error" in chunk:
                raise ProviderError(f"The model server failed mid-reply: {chunk['error']}")
            stats.read_openai(chunk)
            for choice in chunk.get("choices") or []:
                piece = (choice.get("delta") or {}).get("content") or ""
                if piece:
                    clock.piece()
                    yield piece
        if not streamed:
            # Not a stream: a server that ignores "stream" sends one completion; a web page is no server.
            whole = "\n".join(other)
            with contextlib.suppress(json.JSONDecodeError, AttributeError):
                stats.read_openai(json.loads(whole))
            clock.piece()
            yield self._whole_reply(whole)

    async def preload(
        self, options: GenerationOptions, model: str | None = None, messages: list[ChatMessage] | None = None
    ) -> float:
        """One generated token over `messages`: a server that loads models on demand (LM Studio) loads it,
        and every server puts their evaluation in its cache. Without messages, only the model list."""
        started = time.perf_counter()
        if not messages:
            await self.list_models()
            return time.perf_counter() - started
        quick = options.model_copy(update={"max_reply_tokens": 1})
        async for _piece in self.stream_chat(messages, quick, model):
            pass
        return time.perf_counter() - started

    async def complete_json(
        self,
        messages: list[ChatMessage],
        schema: dict[str, Any],
        options: GenerationOptions,
        model: str | None = None,
        *,
        constrained: bool = True,
    ) -> str:
        """With `response_format: json_schema` (vLLM, llama.cpp server, LM Studio, Ollama's /v1 take it); a
        server that refuses it (an error naming it) is asked with the schema in the prompt, from then on."""
        model = model or self.model
        await self.activity.idle()
        payload: dict[str, Any] = {
            "model": model,
            "stream": False,
            "max_tokens": options.max_reply_tokens,
            "temperature": options.temperature,
        }
        # A client of its own: this runs on short-lived event loops (the memory writer's jobs).
        async with self._new_client() as client:
            if constrained and self.json_schema_supported is not False:
                response_format = {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema}}
                messages_json = [m.model_dump() for m in messages]
                response, body = await self._post(
                    client, {**payload, "messages": messages_json, "response_format": response_format}
                )
                if response.status_code < 400:
                    self.json_schema_supported = True
                    return self._whole_reply(body)
                error = self._http_error(response, body, model)
                if response.status_code in (401, 403, 404) or not _NO_SCHEMA.search(error.message):
                    raise error
                self.json_schema_supported = False
                log.info("the model server takes no JSON schema (%d): asking for JSON in words", response.status_code)
            prompted = [m.model_dump() for m in with_schema_instruction(messages, schema)]
            response, body = await self._post(client, {**payload, "messages": prompted})
            if response.status_code >= 400:
                raise self._http_error(response, body, model)
            return self._whole_reply(body)

    async def _post(self, client: httpx.AsyncClient, payload: dict[str, Any]) -> tuple[httpx.Response, str]:
        try:
            response = await client.post("/chat/completions", json=payload)
        except (httpx.ConnectError, httpx.ConnectTimeout):
            raise self.unavailable() from None
        except httpx.TransportError as error:
            raise ProviderError(f"The connection to the model server broke off ({type(error).__name__}).") from None
        return response, response.text[:MAX_UNSTREAMED_CHARS]

    async def list_models(self) -> list[str]:
        try:
            response = await self._clients.get().get("/models")
        except (httpx.ConnectError, httpx.ConnectTimeout):
            raise self.unavailable() from None
        except httpx.TransportError as error:
            raise ProviderError(f"The model server did not answer ({type(error).__name__}).") from None
        if response.status_code >= 400:
            raise self._http_error(response, response.text, self.model)
        try:
            return [item.get("id", "") for item in response.json().get("data", [])]
        except (json.JSONDecodeError, AttributeError, TypeError):
            raise self._not_openai("a model list") from None

    async def pull(self, model: str) -> AsyncIterator[PullProgress]:
        raise ProviderError(
            "OpenAI-compatible servers cannot download models through their API: load the model in the server itself."
        )
        yield  # pragma: no cover  (makes this an async generator like the others)

    async def health(self, model: str | None = None) -> ProviderHealth:
        model = model or self.model
        try:
            models = await self.list_models()
        except ProviderUnavailable as error:
            return ProviderHealth(reachable=False, model=model, detail=error.message)
        except ProviderError as error:  # it answered, but not with a model list (a refused key, a wrong URL)
            return ProviderHealth(reachable=True, listed=False, model=model, detail=error.message)
        # Many such servers serve one model under any name; an empty list is not "missing".
        available = not models or model in models
        detail = "" if available else f"The server does not list '{model}' (it has: {', '.join(models)})."
        return ProviderHealth(reachable=True, model=model, model_available=available, models=models, detail=detail)
