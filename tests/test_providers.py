"""LLM providers against a fake server speaking Ollama's and OpenAI's real wire protocols."""

from __future__ import annotations

import asyncio
import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from avatar.llm.base import ChatMessage, GenerationOptions, ModelNotFound, ProviderError, ProviderUnavailable
from avatar.llm.ollama import OllamaProvider
from avatar.llm.openai_compat import OpenAICompatibleProvider
from tests.conftest import free_port
from tests.support.fake_model_server import Reply

HELLO = [ChatMessage(role="system", content="be nice"), ChatMessage(role="user", content="hi 👋")]


async def collect(stream) -> list[str]:
    return [piece async for piece in stream]


@pytest.fixture(params=["ollama", "openai"])
def provider(request, fake_ollama):
    if request.param == "ollama":
        return OllamaProvider(fake_ollama.url, "llama3.2:3b")
    return OpenAICompatibleProvider(fake_ollama.url + "/v1", "llama3.2:3b")


def test_streams_tokens_and_sends_the_whole_prompt(provider, fake_ollama):
    fake_ollama.script("One two three.")
    pieces = asyncio.run(collect(provider.stream_chat(HELLO, GenerationOptions(context_tokens=4096))))
    assert pieces == ["One", " two", " three."]
    [request] = fake_ollama.chat_requests()
    assert request.body["messages"] == [m.model_dump() for m in HELLO]
    assert request.body["stream"] is True
    if provider.name == "ollama":
        assert request.body["options"]["num_ctx"] == 4096


def test_missing_model_raises_model_not_found(provider):
    with pytest.raises(ModelNotFound) as error:
        asyncio.run(collect(provider.stream_chat(HELLO, GenerationOptions(), model="nope:1b")))
    assert "nope:1b" in error.value.message


@pytest.mark.parametrize("kind", ["ollama", "openai"])
def test_unreachable_server_says_how_to_fix_it(kind):
    url = f"http://127.0.0.1:{free_port()}"
    provider = OllamaProvider(url, "m") if kind == "ollama" else OpenAICompatibleProvider(url + "/v1", "m")
    with pytest.raises(ProviderUnavailable) as error:
        asyncio.run(collect(provider.stream_chat(HELLO, GenerationOptions())))
    assert url in error.value.message
    health = asyncio.run(provider.health())
    assert not health.reachable and health.detail
    if kind == "ollama":
        assert "ollama serve" in error.value.message


def test_server_dying_mid_reply_is_a_provider_error(provider, fake_ollama):
    fake_ollama.script(Reply("one two three four five", fail_after_tokens=2))
    seen: list[str] = []

    async def run():
        async for piece in provider.stream_chat(HELLO, GenerationOptions()):
            seen.append(piece)

    with pytest.raises(ProviderError):
        asyncio.run(run())
    assert seen == ["one", " two"]


def test_closing_the_stream_closes_the_request(provider, fake_ollama):
    fake_ollama.token_delay_s = 0.05
    fake_ollama.script("a b c d e f g h i j k l m n o p")

    async def run():
        stream = provider.stream_chat(HELLO, GenerationOptions())
        first = await anext(stream)
        await stream.aclose()
        return first

    assert asyncio.run(run()) == "a"
    assert fake_ollama.wait_for_event("chat_closed_by_client")


def test_replies_in_a_row_use_one_connection(provider, fake_ollama):
    """A stream read to its end goes back to the pool: the next turn does not open a connection first (on a
    busy event loop that took 5-30 ms of the reply's start). Streams stopped early still close theirs."""

    async def turns() -> None:
        for _ in range(3):
            await collect(provider.stream_chat(HELLO, GenerationOptions(context_tokens=4096)))
        stream = provider.stream_chat(HELLO, GenerationOptions(context_tokens=4096))
        await anext(stream)
        await stream.aclose()  # the user stopped the reply
        await collect(provider.stream_chat(HELLO, GenerationOptions(context_tokens=4096)))

    fake_ollama.script(*["One two three."] * 5)
    asyncio.run(turns())
    connections = [request.connection for request in fake_ollama.chat_requests()]
    assert len(connections) == 5 and len(set(connections[:4])) == 1, connections
    assert connections[4] != connections[3]


def test_ollama_health_and_pull_with_progress(fake_ollama):
    provider = OllamaProvider(fake_ollama.url, "qwen2.5:0.5b")
    health = asyncio.run(provider.health())
    assert health.reachable and not health.model_available and health.can_pull

    async def pull():
        return [step async for step in provider.pull("qwen2.5:0.5b")]

    steps = asyncio.run(pull())
    fractions = [s.fraction for s in steps if s.fraction is not None]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert steps[-1].status == "success"
    assert asyncio.run(provider.health()).model_available


def test_ollama_pull_of_unknown_model_is_a_clear_error(fake_ollama):
    provider = OllamaProvider(fake_ollama.url, "nope")

    async def pull():
        return [step async for step in provider.pull("does-not-exist")]

    with pytest.raises(ProviderError) as error:
        asyncio.run(pull())
    assert "does-not-exist" in error.value.message


def test_model_without_tag_matches_latest(fake_ollama):
    fake_ollama.models.append("mistral:latest")
    assert asyncio.run(OllamaProvider(fake_ollama.url, "mistral").health()).model_available


def test_fake_ollama_says_model_missing_in_ollamas_own_words(fake_ollama):
    import ollama

    async def answers() -> list[tuple[int, str]]:
        client = ollama.AsyncClient(host=fake_ollama.url)
        seen = []
        for call in (client.chat(model="nope:1b", messages=[]), client.show("nope:1b")):
            with pytest.raises(ollama.ResponseError) as error:
                await call
            seen.append((error.value.status_code, error.value.error))
        return seen

    assert asyncio.run(answers()) == [
        (404, 'model "nope:1b" not found, try pulling it first'),
        (404, "model 'nope:1b' not found"),
    ]


def test_openai_server_refusing_the_key_says_where_to_set_it(fake_ollama):
    fake_ollama.openai_api_key = "sk-local-123"
    refused = OpenAICompatibleProvider(fake_ollama.url + "/v1", "llama3.2:3b", api_key="wrong")
    with pytest.raises(ProviderError) as error:
        asyncio.run(collect(refused.stream_chat(HELLO, GenerationOptions())))
    assert "401" in error.value.message and "AVATAR_OPENAI_API_KEY" in error.value.message
    health = asyncio.run(refused.health())
    assert health.reachable and not health.listed and "AVATAR_OPENAI_API_KEY" in health.detail

    fake_ollama.script("with the right key")
    accepted = OpenAICompatibleProvider(fake_ollama.url + "/v1", "llama3.2:3b", api_key="sk-local-123")
    assert "".join(asyncio.run(collect(accepted.stream_chat(HELLO, GenerationOptions())))) == "with the right key"


def test_openai_base_url_without_v1_says_to_check_it(fake_ollama):
    provider = OpenAICompatibleProvider(fake_ollama.url, "llama3.2:3b")
    with pytest.raises(ProviderError) as error:
        asyncio.run(collect(provider.stream_chat(HELLO, GenerationOptions())))
    assert "--openai-base-url" in error.value.message and "/v1" in error.value.message
    assert not isinstance(error.value, ProviderUnavailable)
    assert "/v1" in asyncio.run(provider.health()).detail


class WebPage(http.server.BaseHTTPRequestHandler):
    """Another web server where the model server was expected: a web UI answering every path with its page."""

    def do_GET(self) -> None:
        self._page()

    def do_POST(self) -> None:
        self._page()

    def _page(self) -> None:
        body = b"<!doctype html><title>Some web UI</title>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@contextmanager
def serving(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    """A stand-in HTTP server on loopback answering with `handler`; yields its URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def web_page_url() -> Iterator[str]:
    with serving(WebPage) as url:
        yield url


def test_openai_provider_pointed_at_a_web_page_is_a_clear_error(web_page_url):
    health = asyncio.run(OpenAICompatibleProvider(web_page_url + "/v1", "m").health())
    assert health.reachable and not health.listed and "not OpenAI-compatible" in health.detail


def test_openai_chat_against_a_web_page_says_so_instead_of_an_empty_reply(web_page_url):
    provider = OpenAICompatibleProvider(web_page_url + "/v1", "m")
    with pytest.raises(ProviderError, match="not OpenAI-compatible") as error:
        asyncio.run(collect(provider.stream_chat(HELLO, GenerationOptions())))
    assert "--openai-base-url" in error.value.message


class UnstreamedCompletion(http.server.BaseHTTPRequestHandler):
    """A server that ignores "stream": true and answers with one whole chat completion."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        body = b'{"object": "chat.completion", "choices": [{"index": 0, "message": {"role": "assistant", "content": "Whole at once."}}]}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def test_openai_server_that_does_not_stream_still_gets_its_reply_read():
    with serving(UnstreamedCompletion) as url:
        provider = OpenAICompatibleProvider(url + "/v1", "m")
        assert asyncio.run(collect(provider.stream_chat(HELLO, GenerationOptions()))) == ["Whole at once."]


class ClosesIdleConnections(http.server.BaseHTTPRequestHandler):
    """An Ollama /api/tags that keeps each connection alive after its first answer, then drops it without a
    word when a second request comes on it: what a client meets when the server closed an idle connection."""

    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        self.answered = 0

    def do_GET(self) -> None:
        if self.answered:
            self.close_connection = True
            return
        self.answered += 1
        body = b'{"models": [{"name": "llama3.2:3b", "model": "llama3.2:3b"}]}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def test_a_connection_the_server_closed_meanwhile_does_not_fail_the_status_check():
    with serving(ClosesIdleConnections) as url:
        provider = OllamaProvider(url, "llama3.2:3b")

        async def twice() -> list[list[str]]:
            return [await provider.list_models(), await provider.list_models()]  # the second reuses the connection

        assert asyncio.run(twice()) == [["llama3.2:3b"], ["llama3.2:3b"]]


def test_ollama_host_pointed_at_another_server_is_a_clear_error(web_page_url, fake_ollama):
    for host in (web_page_url, fake_ollama.url + "/v1"):  # a web page; an address where /api/tags is 404
        provider = OllamaProvider(host, "llama3.2:3b")
        health = asyncio.run(provider.health())
        assert health.reachable and not health.listed and "--ollama-host" in health.detail, host
    with pytest.raises(ProviderError) as error:
        asyncio.run(collect(OllamaProvider(web_page_url, "llama3.2:3b").stream_chat(HELLO, GenerationOptions())))
    assert "not as Ollama does" in error.value.message
