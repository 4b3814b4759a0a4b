"""The model server's own figures for each reply, read from what Ollama and OpenAI-compatible servers send."""

from __future__ import annotations

import asyncio

from avatar.llm.base import ChatMessage, GenerationOptions
from avatar.llm.ollama import OllamaProvider
from avatar.llm.openai_compat import OpenAICompatibleProvider
from avatar.llm.stats import GenerationStats
from tests.support.fake_model_server import FakeModelServer
from tests.support.model_costs import Rates

SYSTEM = ChatMessage(role="system", content="You are Aria, a warm friend. " * 20)


def two_turns(provider) -> list[GenerationStats]:
    """The same conversation twice, the second turn one exchange longer: its start is in the server's cache."""
    first, second = GenerationStats(), GenerationStats()
    options = GenerationOptions(keep_alive="1h")

    async def run() -> None:
        asked = [SYSTEM, ChatMessage(role="user", content="Hello there, how are you today?")]
        reply = "".join([piece async for piece in provider.stream_chat(asked, options, stats=first)])
        more = [*asked, ChatMessage(role="assistant", content=reply), ChatMessage(role="user", content="Tell me more.")]
        async for _ in provider.stream_chat(more, options, stats=second):
            pass

    asyncio.run(run())
    return [first, second]


def test_openai_usage_says_how_much_of_the_prompt_came_from_the_cache():
    server = FakeModelServer(rates=Rates(prefill_s_per_token=0.0005)).start()
    try:
        first, second = two_turns(OpenAICompatibleProvider(server.url + "/v1", "llama3.2:3b"))
    finally:
        server.stop()
    assert server.requests[-1].body["stream_options"] == {"include_usage": True}
    assert first.cached_tokens == 0 and first.evaluated_tokens == first.prompt_tokens > 100
    assert second.prompt_tokens > first.prompt_tokens and second.cached_tokens >= first.prompt_tokens - 5
    assert second.evaluated_tokens == second.prompt_tokens - second.cached_tokens < 40
    assert second.generated_tokens and second.first_token_ms is not None
    assert second.summary().startswith(f"{second.evaluated_tokens} of {second.prompt_tokens:,} prompt tokens evaluated")


def test_ollama_figures_are_read_from_its_last_chunk_and_keep_alive_is_sent():
    server = FakeModelServer(rates=Rates(prefill_s_per_token=0.0005, load_s=0.2)).start()
    try:
        first, second = two_turns(OllamaProvider(server.url, "llama3.2:3b"))
    finally:
        server.stop()
    assert [r.body["keep_alive"] for r in server.chat_requests()] == ["1h", "1h"]
    assert first.load_ms is not None and first.load_ms >= 200  # the model was loaded for the first request
    assert second.load_ms is not None and second.load_ms < 50
    # The whole prompt, as Ollama counts it; evaluating the second took far less (most of it was cached).
    assert second.prompt_tokens > first.prompt_tokens and second.prompt_eval_ms < first.prompt_eval_ms / 3
    assert "prompt tokens" in second.summary() and "tokens/s" in second.summary()


def test_a_server_that_refuses_stream_options_is_asked_again_without_it():
    from starlette.responses import JSONResponse

    server = FakeModelServer().start()
    original = server._openai_chat

    async def picky(request):
        body = await request.json()
        if "stream_options" in body:
            return JSONResponse({"error": {"message": "Unrecognized request argument: stream_options"}}, 400)
        return await original(request)

    server._openai_chat = picky
    server.stop()
    server.start()  # routes are bound at start
    try:
        provider = OpenAICompatibleProvider(server.url + "/v1", "llama3.2:3b")
        first, second = two_turns(provider)
    finally:
        server.stop()
    assert first.prompt_tokens is None and second.first_token_ms is not None  # answered, without usage
    assert "stream_options" not in server.requests[-1].body  # and not asked for again


def test_figures_from_every_server_shape():
    ollama_2024 = GenerationStats()
    ollama_2024.read_ollama({"prompt_eval_count": 12, "prompt_eval_duration": 40_000_000, "eval_count": 20})
    assert ollama_2024.prompt_tokens == 12 and ollama_2024.cached_tokens is None
    ollama_cached = GenerationStats()
    ollama_cached.read_ollama({"prompt_eval_count": 900, "prompt_eval_cached_count": 870, "eval_duration": 10**9})
    assert (ollama_cached.evaluated_tokens, ollama_cached.reuse) == (30, 870 / 900)
    llama_cpp = GenerationStats()
    llama_cpp.read_openai({"timings": {"prompt_n": 25, "cache_n": 975, "prompt_ms": 300.0, "predicted_n": 40}})
    assert (llama_cpp.prompt_tokens, llama_cpp.evaluated_tokens, llama_cpp.cached_tokens) == (1000, 25, 975)
