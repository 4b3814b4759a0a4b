"""Card distillation through the provider's structured output, against the fake Ollama and OpenAI-compatible
servers: the schema as a constraint or in words, retries, the chat's own options, never during a reply."""

from __future__ import annotations

import asyncio
import json

import pytest

from avatar.context import create_context
from avatar.llm.base import ChatMessage, GenerationOptions
from avatar.llm.ollama import OllamaProvider
from avatar.llm.openai_compat import OpenAICompatibleProvider
from avatar.memory.distill import CardBatch, CardDistiller, parse_cards
from tests.memory.conftest import card, cards_json
from tests.support.fake_model_server import Reply

MODEL = "llama3.2:3b"
SCHEMA = CardBatch.model_json_schema()


def ollama(server, model: str = MODEL) -> OllamaProvider:
    return OllamaProvider(server.url, model, timeout_s=10)


def openai(server) -> OpenAICompatibleProvider:
    return OpenAICompatibleProvider(server.url + "/v1", MODEL, timeout_s=10)


def distill(provider, excerpt: str = "Sam: my dog Biscuit", options: GenerationOptions | None = None):
    return asyncio.run(CardDistiller(provider, options or GenerationOptions()).distill(excerpt, "Aria"))


def test_ollama_constrains_the_answer_with_the_schema_and_the_chat_options(fake_ollama):
    fake_ollama.script_structured(cards_json(card("The user has a dog named Biscuit.")))
    cards = distill(ollama(fake_ollama), options=GenerationOptions(context_tokens=4096, max_reply_tokens=300))
    assert [(c.type, c.text, c.scope) for c in cards] == [("fact", "The user has a dog named Biscuit.", "profile")]
    [request] = fake_ollama.structured_requests()
    assert request.body["format"] == SCHEMA and request.body["stream"] is False
    assert request.body["options"] == {"num_ctx": 4096, "num_predict": 300, "temperature": 0.0}
    assert "Sam: my dog Biscuit" in request.body["messages"][-1]["content"]
    assert "Aria" in request.body["messages"][0]["content"]


def test_invalid_json_is_asked_for_once_more(fake_ollama):
    fake_ollama.script_structured(
        "Sure! Here are the cards: {cards: [", cards_json(card("The user likes tea.", "preference"))
    )
    assert [c.text for c in distill(ollama(fake_ollama), "Sam: I like tea")] == ["The user likes tea."]
    _first, second = fake_ollama.structured_requests()
    assert second.body["format"] == SCHEMA
    assert second.body["messages"][-2]["content"].startswith("Sure!")  # the bad answer, then the nudge
    assert "not valid JSON" in second.body["messages"][-1]["content"]


def test_always_invalid_is_skipped_without_raising(fake_ollama):
    fake_ollama.script_structured("not json", '{"cards": [{"type": "gossip", "text": "x"}]}', cards_json(card("no")))
    assert distill(ollama(fake_ollama), "Sam: hi") == []
    assert len(fake_ollama.structured_requests()) == 2  # one retry, no more


def test_server_failures_are_skipped_without_raising(fake_ollama):
    assert distill(ollama(fake_ollama, "missing-model"), "Sam: hi") == []  # 404
    fake_ollama.script_structured(Reply(cards_json(card("x y z")), fail_after_tokens=1))
    assert distill(ollama(fake_ollama), "Sam: hi") == []  # connection dropped
    assert distill(OllamaProvider("http://127.0.0.1:9", MODEL, timeout_s=2), "Sam: hi") == []  # nobody there


def test_openai_compatible_server_gets_a_json_schema_response_format(fake_ollama):
    fake_ollama.script_structured(cards_json(card("Aria loves stargazing.", "self", "persona")))
    cards = distill(openai(fake_ollama), "Aria: I love stars", GenerationOptions(max_reply_tokens=256))
    assert [(c.type, c.text) for c in cards] == [("self", "Aria loves stargazing.")]
    [request] = fake_ollama.structured_requests()
    assert request.path == "/v1/chat/completions" and request.body["stream"] is False
    assert request.body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "answer", "schema": SCHEMA},
    }
    assert (request.body["max_tokens"], request.body["temperature"]) == (256, 0.0)
    assert fake_ollama.chat_requests() == []  # a card request is never taken for a chat turn


def test_a_server_refusing_json_schema_is_asked_in_words_from_then_on(fake_ollama):
    fake_ollama.openai_json_schema = False
    fake_ollama.script_structured(
        cards_json(card("The user plays the cello.")), "```json\n" + cards_json(card("The user has a cat.")) + "\n```"
    )
    provider = openai(fake_ollama)
    assert [c.text for c in distill(provider)] == ["The user plays the cello."]
    refused, asked = fake_ollama.structured_requests()
    assert "response_format" in refused.body and "response_format" not in asked.body
    assert json.dumps(SCHEMA) in asked.body["messages"][0]["content"]  # the schema, in the system message
    assert [c.text for c in distill(provider)] == ["The user has a cat."]  # fenced JSON is found too
    *_, third = fake_ollama.structured_requests()
    assert len(fake_ollama.structured_requests()) == 3 and "response_format" not in third.body  # remembered


def test_an_answer_that_ignores_the_schema_is_asked_again_in_words(fake_ollama):
    fake_ollama.script_structured("I think the user likes tea!", cards_json(card("The user likes tea.")))
    assert [c.text for c in distill(openai(fake_ollama))] == ["The user likes tea."]
    first, second = fake_ollama.structured_requests()
    assert "response_format" in first.body and "response_format" not in second.body
    assert json.dumps(SCHEMA) in second.body["messages"][0]["content"]


@pytest.mark.parametrize("make", [ollama, openai])
def test_cards_wait_while_a_reply_streams(fake_ollama, make):
    fake_ollama.token_delay_s = 0.02
    fake_ollama.script("one two three four five six seven eight nine ten")
    fake_ollama.script_structured(cards_json(card("The user counts to ten.")))
    provider = make(fake_ollama)

    async def both() -> list:
        async def chat() -> str:
            return "".join([p async for p in provider.stream_chat([ChatMessage(role="user", content="count")],
                                                                    GenerationOptions())])  # fmt: skip

        reply = asyncio.create_task(chat())
        await asyncio.sleep(0.05)  # the reply is streaming
        cards = await CardDistiller(provider).distill("Sam: count", "Aria")
        await reply
        return cards

    assert [c.text for c in asyncio.run(both())] == ["The user counts to ten."]
    [structured] = fake_ollama.structured_requests()
    finished = dict(fake_ollama.events)["chat_finished"]
    assert structured.at >= finished


def test_the_app_asks_for_cards_with_the_chat_options_on_either_provider(settings, embedder, fake_ollama):
    for provider in ("ollama", "openai"):
        app_settings = settings.model_copy(
            update={"provider": provider, "openai_base_url": fake_ollama.url + "/v1", "context_tokens": 4096}
        )
        ctx = create_context(app_settings, embedder=embedder)
        try:
            fake_ollama.script_structured(cards_json(card("The user is Sam.")))
            assert [c.text for c in asyncio.run(ctx.memory.distiller.distill("Sam: I'm Sam", "Aria"))] == [
                "The user is Sam."
            ]
            ctx.use_model("qwen2.5:0.5b")
            fake_ollama.models.append("qwen2.5:0.5b")
            asyncio.run(ctx.memory.distiller.distill("Sam: hi", "Aria"))
        finally:
            ctx.close()
        first, second = fake_ollama.structured_requests()[-2:]
        assert second.body["model"] == "qwen2.5:0.5b"  # cards follow the model picked in the Chat tab
        if provider == "ollama":
            assert first.body["options"]["num_ctx"] == 4096 == ctx.settings.context_tokens


def test_parsing_is_lenient_where_it_is_safe():
    cards = parse_cards(
        '{"cards": [{"type": "fact", "text": "  The user\\n is 30.  ", "importance": 8},'
        ' {"type": "event", "text": "The user moved to Lyon.", "importance": -1}]}'
    )
    assert [(c.text, c.importance, c.scope) for c in cards] == [
        ("The user is 30.", 0.8, "persona"),
        ("The user moved to Lyon.", 0.0, "persona"),
    ]
    assert parse_cards('{"cards": [{"type": "fact"}]}') is None
    assert parse_cards("") is None
    assert [c.text for c in parse_cards('Here you go:\n{"cards": [{"type": "fact", "text": "A b c."}]} Bye')] == [
        "A b c."
    ]
