"""A fake model server on 127.0.0.1 speaking Ollama's real HTTP/NDJSON protocol and the OpenAI SSE shape.

Replies are scripted (`script(...)`), tokens come with a configurable delay, and every request is
recorded (`requests`, `events`) so tests can assert exactly what the model was sent and whether the
client closed the stream. The official `ollama` client cannot tell it from the real thing.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.support.model_costs import CacheUse, ModelMemory, Rates, count_tokens, render_chat

DEFAULT_REPLY = "Hello! It is lovely to hear from you."


def tokenize(text: str) -> list[str]:
    """Word-sized pieces that concatenate back to exactly `text`."""
    return re.findall(r"\s*\S+|\s+", text) or [""]


def is_warm_up(body: dict[str, Any]) -> bool:
    """A request for one token (or none: Ollama's load request) is the app warming the server up."""
    limit = body.get("max_tokens") or (body.get("options") or {}).get("num_predict")
    return not body.get("messages") or limit == 1


@dataclass
class RecordedRequest:
    path: str
    body: dict[str, Any]
    at: float  # time.perf_counter() when the request arrived
    connection: int = 0  # the client's port: the same port, the same (kept-alive) connection


@dataclass
class Reply:
    text: str
    # After this many tokens the server drops the connection, as a crashing server would.
    fail_after_tokens: int | None = None


@dataclass
class FakeModelServer:
    models: list[str] = field(default_factory=lambda: ["llama3.2:3b"])
    pullable: list[str] = field(default_factory=lambda: ["llama3.2:3b", "qwen2.5:0.5b"])
    token_delay_s: float = 0.0
    requests: list[RecordedRequest] = field(default_factory=list)
    # (name, perf_counter time): chat_started, chat_finished, chat_closed_by_client, chat_crashed
    events: list[tuple[str, float]] = field(default_factory=list)
    default_reply: str = DEFAULT_REPLY
    # Called with the request body when a chat request arrives (tests look at the app's state then).
    on_chat_request: Callable[[dict[str, Any]], None] | None = None
    # Set: the OpenAI-compatible routes want `Authorization: Bearer <key>`, as a server started with
    # --api-key does (llama.cpp server, vLLM); Ollama's own routes never ask for one.
    openai_api_key: str | None = None
    # Time charged as a real server would (model_costs.py); zero by default: tests stay fast.
    rates: Rates = field(default_factory=Rates)
    # KV-cache slots (Ollama: 1 by default; llama.cpp server -np N, vLLM: many). Requests beyond them wait.
    slots: int = 1
    # How Ollama's prompt_eval_count counts: "whole" (the whole prompt, the cached part in
    # prompt_eval_cached_count beside it, as 2026 versions do) or "evaluated" (only what it evaluated, as
    # 2024 versions did, leaving the field out when everything was cached).
    ollama_counts: str = "whole"
    # Every chat request's cache use, in order (tests assert prefix reuse on it).
    cache_log: list[CacheUse] = field(default_factory=list)
    # Charge loading and prompt evaluation on paper (CacheUse.charged_s) instead of sleeping: benches add it
    # to what they measure, and run in minutes what would take an hour at laptop-CPU rates.
    virtual_time: bool = False
    # False: the OpenAI-compatible route refuses `response_format: json_schema` as older llama.cpp servers did.
    openai_json_schema: bool = True

    def __post_init__(self) -> None:
        self._replies: deque[Reply] = deque()
        # Standing answers (`answer_when`): a reply for every request whose system prompt holds some text.
        self._standing: list[tuple[str, Reply]] = []
        # Structured-output requests (a `format` schema: memory cards) have their own script, so a
        # background distillation never takes a chat reply a test scripted.
        self._structured: deque[Reply] = deque()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0
        self.memory = ModelMemory(self.slots)
        self._busy: asyncio.Semaphore | None = None  # made in the server's loop

    def chat_uses(self) -> list[CacheUse]:
        """Cache use of the conversation requests (memory-card requests and warm-ups left out)."""
        return [use for use in self.cache_log if not use.structured and not use.warm_up]

    # -- test API ---------------------------------------------------------------------------
    def script(self, *replies: str | Reply) -> None:
        """Queue the next replies, in order; when the queue is empty `default_reply` is used."""
        for reply in replies:
            self._replies.append(reply if isinstance(reply, Reply) else Reply(reply))

    def answer_when(self, system_contains: str, reply: str | Reply) -> None:
        """Answer every conversation request whose system prompt holds `system_contains` with `reply`, as a
        real model asked the same thing answers alike. Unlike `script`, a request does not use it up: a voice
        reply started speculatively and then dropped (the user went on) leaves it for the turn that stands."""
        self._standing.append((system_contains, reply if isinstance(reply, Reply) else Reply(reply)))

    def clear_scripts(self) -> None:
        self._replies.clear()
        self._standing.clear()

    def script_structured(self, *replies: str | Reply) -> None:
        """Queue replies for requests that carry a `format` schema; when empty: '{"cards": []}'."""
        for reply in replies:
            self._structured.append(reply if isinstance(reply, Reply) else Reply(reply))

    def structured_requests(self) -> list[RecordedRequest]:
        """Requests answered from the structured script: Ollama's with a `format`, OpenAI's not streamed."""
        return [r for r in self.requests if self._is_structured(r.path, r.body)]

    @staticmethod
    def _is_structured(path: str, body: dict[str, Any]) -> bool:
        if path == "/api/chat":
            return bool(body.get("format"))
        return path == "/v1/chat/completions" and not body.get("stream")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def chat_requests(self) -> list[RecordedRequest]:
        """Conversation requests (structured-output ones, such as memory distillation, and warm-ups excluded)."""
        return [
            r
            for r in self.requests
            if r.path in ("/api/chat", "/v1/chat/completions")
            and not self._is_structured(r.path, r.body)
            and r.body.get("messages")
            and not is_warm_up(r.body)
        ]

    def warm_ups(self) -> list[RecordedRequest]:
        """Requests that load the model or put a prompt into its cache, without a reply anyone reads."""
        return [r for r in self.requests if r.path in ("/api/chat", "/v1/chat/completions") and is_warm_up(r.body)]

    def event_names(self) -> list[str]:
        return [name for name, _ in self.events]

    def wait_for_event(self, name: str, timeout_s: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if name in self.event_names():
                return True
            time.sleep(0.01)
        return False

    def start(self) -> FakeModelServer:
        # IPPROTO_TCP, not 0: asyncio turns Nagle off (TCP_NODELAY) only on sockets that say they are TCP, and
        # with Nagle on, each streamed reply's first token sat ~40 ms behind the headers until the client's
        # delayed ACK. Ollama's Go server streams with Nagle off, as every Go TCP connection does.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))  # 0 the first time; after stop(), the server comes back where it was
        self.port = sock.getsockname()[1]
        # "critical": a scripted crash is expected, its traceback is noise.
        # Ollama's Go server keeps an idle connection open for as long as the client does (no IdleTimeout).
        config = uvicorn.Config(self._app(), log_level="critical", lifespan="off", timeout_keep_alive=3600)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)

    # -- protocol ---------------------------------------------------------------------------
    def _next_reply(self, body: dict[str, Any], structured: bool = False) -> Reply:
        if structured:
            return self._structured.popleft() if self._structured else Reply('{"cards": []}')
        system = " ".join(str(m.get("content")) for m in body.get("messages") or [] if m.get("role") == "system")
        for marker, reply in self._standing:
            if marker in system:
                return reply
        return self._replies.popleft() if self._replies else Reply(self.default_reply)

    def _model_info(self, name: str) -> dict[str, Any]:
        return {
            "name": name,
            "model": name,
            "modified_at": "2026-11-01T10:00:00.000000Z",
            "size": 2019393189,
            "digest": "a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72",
            "details": {
                "parent_model": "",
                "format": "gguf",
                "family": "llama",
                "families": ["llama"],
                "parameter_size": "3.2B",
                "quantization_level": "Q4_K_M",
            },
        }

    async def _record(self, request: Request) -> dict[str, Any]:
        raw = await request.body()
        body = json.loads(raw) if raw else {}
        port = request.client.port if request.client else 0
        self.requests.append(RecordedRequest(request.url.path, body, time.perf_counter(), port))
        return body

    def _has_model(self, name: str) -> bool:
        wanted = name if ":" in name else f"{name}:latest"
        return name in self.models or wanted in self.models

    @staticmethod
    def _not_found(name: str) -> JSONResponse:
        # Ollama's words for /api/chat and /api/generate (server/routes.go: `model %q not found, try pulling it first`).
        return JSONResponse({"error": f'model "{name}" not found, try pulling it first'}, status_code=404)

    def _refused_key(self, request: Request) -> JSONResponse | None:
        """llama.cpp server's answer to a missing or wrong API key; None when the key is right or not needed."""
        if self.openai_api_key is None or request.headers.get("authorization") == f"Bearer {self.openai_api_key}":
            return None
        error = {"code": 401, "message": "Invalid API Key", "type": "authentication_error"}
        return JSONResponse({"error": error}, status_code=401)

    async def _tokens(self, reply: Reply, limit: int | None = None):
        pieces = tokenize(reply.text)
        if limit is not None and limit > 0:
            pieces = pieces[:limit]  # the reply stops at the token limit, as num_predict / max_tokens make it
        for index, piece in enumerate(pieces):
            if reply.fail_after_tokens is not None and index >= reply.fail_after_tokens:
                self.events.append(("chat_crashed", time.perf_counter()))
                raise ConnectionResetError("fake server crash (scripted)")
            delay = self.token_delay_s + self.rates.decode_s_per_token
            if delay:
                await asyncio.sleep(delay)
            yield piece

    async def _tags(self, request: Request) -> Response:
        await self._record(request)
        return JSONResponse({"models": [self._model_info(m) for m in self.models]})

    async def _version(self, request: Request) -> Response:
        await self._record(request)
        return JSONResponse({"version": "0.12.6"})

    async def _show(self, request: Request) -> Response:
        body = await self._record(request)
        name = body.get("model") or body.get("name", "")
        if not self._has_model(name):
            # /api/show words it differently from /api/chat (server/routes.go, ShowHandler).
            return JSONResponse({"error": f"model '{name}' not found"}, status_code=404)
        info = self._model_info(name)
        return JSONResponse(
            {
                "modelfile": f"FROM {name}",
                "parameters": "stop <|eot_id|>",
                "template": "{{ .Prompt }}",
                "details": info["details"],
                "model_info": {"general.architecture": "llama", "llama.context_length": 131072},
                "capabilities": ["completion"],
                "modified_at": info["modified_at"],
            }
        )

    async def _pull(self, request: Request) -> Response:
        body = await self._record(request)
        name = body.get("model") or body.get("name", "")
        if name not in self.pullable:
            return JSONResponse({"error": "pull model manifest: file does not exist"}, status_code=500)

        async def progress():
            total = 2_019_393_189
            yield json.dumps({"status": "pulling manifest"}) + "\n"
            for step in range(11):
                await asyncio.sleep(0.01)
                yield (
                    json.dumps(
                        {
                            "status": "pulling dde5aa3fc5ff",
                            "digest": "sha256:dde5aa3fc5ff",
                            "total": total,
                            "completed": total * step // 10,
                        }
                    )
                    + "\n"
                )
            for status in ("verifying sha256 digest", "writing manifest", "success"):
                yield json.dumps({"status": status}) + "\n"
            if name not in self.models:
                self.models.append(name)

        return StreamingResponse(progress(), media_type="application/x-ndjson")

    # -- what a request costs ----------------------------------------------------------------
    def _slot_lock(self) -> asyncio.Semaphore:
        if self._busy is None:
            self._busy = asyncio.Semaphore(self.slots)
        return self._busy

    @staticmethod
    async def _spend(seconds: float, request: Request | None) -> None:
        """Work for `seconds`; a client that hangs up stops it, as a real server aborts the request."""
        deadline = time.perf_counter() + seconds
        while (left := deadline - time.perf_counter()) > 0:
            await asyncio.sleep(min(left, 0.02))
            if request is not None and await request.is_disconnected():
                raise asyncio.CancelledError("the client went away")

    async def _prefill(
        self, body: dict[str, Any], structured: bool, request: Request | None
    ) -> tuple[list[str], int, CacheUse]:
        """Load the model if needed and evaluate the prompt past the cached prefix: (tokens, slot, use)."""
        model = body.get("model", "")
        num_ctx = (body.get("options") or {}).get("num_ctx")
        loaded = self.memory.load(model, num_ctx)
        tokens = count_tokens(render_chat(body.get("messages") or []))
        slot, cached = self.memory.take_slot(tokens)
        use = CacheUse(model, len(tokens), cached, slot, loaded, structured, warm_up=is_warm_up(body))
        self.cache_log.append(use)
        self.memory.store(slot, tokens[:cached])  # evaluating overwrites the slot from the first difference
        cost = (self.rates.load_s if loaded else 0.0) + use.evaluated_tokens * self.rates.prefill_s_per_token
        if self.virtual_time:
            use.charged_s = cost
        else:
            await self._spend(cost, request)
        return tokens, slot, use

    def _figures(self, use: CacheUse, generated: int, started: float, first_at: float | None) -> dict[str, Any]:
        """Ollama's timing fields (nanoseconds) for a reply, counted as this server's `ollama_counts` says."""
        ns = 1_000_000_000
        end = time.perf_counter()
        prompt_s = use.evaluated_tokens * self.rates.prefill_s_per_token
        figures: dict[str, Any] = {
            "total_duration": int((end - started) * ns),
            "load_duration": int((self.rates.load_s if use.loaded else 0.0) * ns) + 1_000,
            "prompt_eval_count": use.evaluated_tokens,
            "prompt_eval_duration": int(prompt_s * ns) + 1_000,
            "eval_count": generated,
            "eval_duration": int(max(end - (first_at or end), 0.0) * ns) + 1_000,
        }
        if self.ollama_counts == "whole":
            figures["prompt_eval_count"] = use.prompt_tokens
            if use.cached_tokens:
                figures["prompt_eval_cached_count"] = use.cached_tokens
        return figures

    async def _generate(
        self,
        body: dict[str, Any],
        reply: Reply,
        structured: bool,
        report: dict[str, Any],
        request: Request | None = None,
    ):
        """The reply's pieces, charged and cached as a real server does; `report` gets the figures at the end
        (also when the client goes away mid-reply: the slot then holds what was generated so far).
        `request`: a reply that is not streamed, whose client hanging up is noticed while working."""
        async with self._slot_lock():
            started = time.perf_counter()
            tokens, slot, use = await self._prefill(body, structured, request)
            generated: list[str] = []
            first_at: float | None = None
            try:
                limit = body.get("max_tokens") or (body.get("options") or {}).get("num_predict")
                async for piece in self._tokens(reply, limit if isinstance(limit, int) else None):
                    first_at = first_at or time.perf_counter()
                    generated.append(piece)
                    yield piece
            finally:
                self.memory.store(slot, tokens + count_tokens("".join(generated)))
                self.memory.keep(body.get("keep_alive"))
                report.update(self._figures(use, len(generated), started, first_at))
                report["use"] = use

    async def _load_only(self, body: dict[str, Any]) -> Response:
        """Ollama's answer to a request without messages: load the model (or unload it, keep_alive 0)."""
        name = body.get("model", "")
        keep_alive = body.get("keep_alive")
        if keep_alive in (0, "0", "0s", "0m"):
            self.memory.unload()
            reason = "unload"
        else:
            async with self._slot_lock():
                loaded = self.memory.load(name, (body.get("options") or {}).get("num_ctx"))
                if loaded and self.rates.load_s and not self.virtual_time:
                    await asyncio.sleep(self.rates.load_s)
                self.memory.keep(keep_alive)
            reason = "load"
        data = {
            "model": name,
            "created_at": "2026-11-24T10:00:00.000000Z",
            "message": {"role": "assistant", "content": ""},
            "done_reason": reason,
            "done": True,
        }
        return Response(json.dumps(data) + "\n", media_type="application/json")

    async def _chat(self, request: Request) -> Response:
        body = await self._record(request)
        if self.on_chat_request is not None:
            self.on_chat_request(body)
        name = body.get("model", "")
        if not self._has_model(name):
            return self._not_found(name)
        if not body.get("messages"):
            return await self._load_only(body)
        structured = bool(body.get("format"))
        # A warm-up never takes a reply a test scripted for a conversation.
        reply = Reply(self.default_reply) if is_warm_up(body) else self._next_reply(body, structured=structured)

        def chunk(content: str, done: bool, figures: dict[str, Any] | None = None) -> str:
            data: dict[str, Any] = {
                "model": name,
                "created_at": "2026-11-24T10:00:00.000000Z",
                "message": {"role": "assistant", "content": content},
                "done": done,
            }
            if done:
                data.update(done_reason="stop", **{k: v for k, v in (figures or {}).items() if k != "use"})
            return json.dumps(data) + "\n"

        report: dict[str, Any] = {}
        if body.get("stream") is False:
            try:
                text = "".join([piece async for piece in self._generate(body, reply, structured, report, request)])
            except asyncio.CancelledError:
                self.events.append(("chat_closed_by_client", time.perf_counter()))
                return Response(status_code=499)  # nobody is listening any more
            return Response(chunk(text, True, report), media_type="application/json")

        async def stream():
            self.events.append(("chat_started", time.perf_counter()))
            finished = False
            try:
                async for piece in self._generate(body, reply, structured, report):
                    yield chunk(piece, False)
                yield chunk("", True, report)
                finished = True
                self.events.append(("chat_finished", time.perf_counter()))
            finally:
                if not finished:
                    self.events.append(("chat_closed_by_client", time.perf_counter()))

        return StreamingResponse(stream(), media_type="application/x-ndjson")

    async def _openai_models(self, request: Request) -> Response:
        await self._record(request)
        if (refused := self._refused_key(request)) is not None:
            return refused
        return JSONResponse(
            {
                "object": "list",
                "data": [{"id": m, "object": "model", "created": 0, "owned_by": "library"} for m in self.models],
            }
        )

    async def _openai_chat(self, request: Request) -> Response:
        body = await self._record(request)
        if (refused := self._refused_key(request)) is not None:
            return refused
        name = body.get("model", "")
        if not self._has_model(name):
            # Ollama's /v1 wraps the same words in OpenAI's error shape (openai/openai.go, NewError).
            return JSONResponse(
                {
                    "error": {
                        "message": f'model "{name}" not found, try pulling it first',
                        "type": "not_found_error",
                        "param": None,
                        "code": None,
                    }
                },
                status_code=404,
            )
        if not body.get("stream"):
            return await self._openai_whole(name, body)
        reply = Reply(self.default_reply) if is_warm_up(body) else self._next_reply(body)
        report: dict[str, Any] = {}
        usage_wanted = bool((body.get("stream_options") or {}).get("include_usage"))

        def event(delta: dict[str, Any] | None, finish: str | None, usage: dict[str, Any] | None = None) -> str:
            data: dict[str, Any] = {
                "id": "chatcmpl-1",
                "object": "chat.completion.chunk",
                "created": 1764000000,
                "model": name,
                "system_fingerprint": "fp_ollama",
                "choices": [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
            if usage is not None:
                data["usage"] = usage
            return f"data: {json.dumps(data)}\n\n"

        def usage() -> dict[str, Any]:
            use: CacheUse = report["use"]
            return {
                "prompt_tokens": use.prompt_tokens,
                "completion_tokens": report["eval_count"],
                "total_tokens": use.prompt_tokens + report["eval_count"],
                "prompt_tokens_details": {"cached_tokens": use.cached_tokens},
            }

        async def stream():
            self.events.append(("chat_started", time.perf_counter()))
            finished = False
            try:
                async for piece in self._generate(body, reply, False, report):
                    yield event({"role": "assistant", "content": piece}, None)
                yield event({"role": "assistant", "content": ""}, "stop")
                if usage_wanted:
                    yield event(None, None, usage())
                yield "data: [DONE]\n\n"
                finished = True
                self.events.append(("chat_finished", time.perf_counter()))
            finally:
                if not finished:
                    self.events.append(("chat_closed_by_client", time.perf_counter()))

        return StreamingResponse(stream(), media_type="text/event-stream")

    async def _openai_whole(self, name: str, body: dict[str, Any]) -> Response:
        """A completion that is not streamed (memory cards): from the structured script."""
        if (body.get("response_format") or {}).get("type") == "json_schema" and not self.openai_json_schema:
            # llama.cpp server's words before it took JSON schemas (server/utils.hpp, oaicompat_completion_params_parse).
            message = 'response_format type must be one of "text" or "json_object", but got: json_schema'
            return JSONResponse(
                {"error": {"code": 400, "message": message, "type": "invalid_request_error"}}, status_code=400
            )
        text = "".join([piece async for piece in self._tokens(self._next_reply(body, structured=True))])
        return JSONResponse(
            {
                "id": "chatcmpl-2",
                "object": "chat.completion",
                "created": 1764000000,
                "model": name,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 10, "completion_tokens": len(tokenize(text)), "total_tokens": 10},
            }
        )

    def _app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/api/tags", self._tags, methods=["GET"]),
                Route("/api/version", self._version, methods=["GET"]),
                Route("/api/show", self._show, methods=["POST"]),
                Route("/api/pull", self._pull, methods=["POST"]),
                Route("/api/chat", self._chat, methods=["POST"]),
                Route("/v1/models", self._openai_models, methods=["GET"]),
                Route("/v1/chat/completions", self._openai_chat, methods=["POST"]),
            ]
        )
