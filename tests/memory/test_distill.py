"""Card distillation through Ollama structured output, against the fake Ollama server: retries, never raises."""

from __future__ import annotations

import asyncio

from avatar.memory.distill import CardBatch, CardDistiller, distill_cards, parse_cards
from tests.memory.conftest import card, cards_json
from tests.support.fake_model_server import Reply

MODEL = "llama3.2:3b"


def test_a_valid_answer_gives_cards_and_the_request_carries_the_schema(fake_ollama):
    fake_ollama.script_structured(cards_json(card("The user has a dog named Biscuit.")))
    cards = asyncio.run(distill_cards(fake_ollama.url, MODEL, "Sam: my dog Biscuit", persona_name="Aria"))
    assert [(c.type, c.text, c.scope) for c in cards] == [("fact", "The user has a dog named Biscuit.", "profile")]
    [request] = fake_ollama.structured_requests()
    assert request.body["format"] == CardBatch.model_json_schema()
    assert request.body["stream"] is False
    assert "Sam: my dog Biscuit" in request.body["messages"][-1]["content"]
    assert "Aria" in request.body["messages"][0]["content"]


def test_invalid_json_is_asked_for_once_more(fake_ollama):
    fake_ollama.script_structured(
        "Sure! Here are the cards: {cards: [", cards_json(card("The user likes tea.", "preference"))
    )
    cards = asyncio.run(distill_cards(fake_ollama.url, MODEL, "Sam: I like tea"))
    assert [c.text for c in cards] == ["The user likes tea."]
    _first, second = fake_ollama.structured_requests()
    assert second.body["format"] == CardBatch.model_json_schema()
    assert second.body["messages"][-2]["content"].startswith("Sure!")  # the bad answer, then the nudge
    assert "not valid JSON" in second.body["messages"][-1]["content"]


def test_always_invalid_is_skipped_without_raising(fake_ollama):
    fake_ollama.script_structured(
        "not json", '{"cards": [{"type": "gossip", "text": "x"}]}', cards_json(card("never asked"))
    )
    assert asyncio.run(distill_cards(fake_ollama.url, MODEL, "Sam: hi")) == []
    assert len(fake_ollama.structured_requests()) == 2  # one retry, no more


def test_server_failures_are_skipped_without_raising(fake_ollama):
    assert asyncio.run(distill_cards(fake_ollama.url, "missing-model", "Sam: hi")) == []  # 404
    fake_ollama.script_structured(Reply(cards_json(card("x y z")), fail_after_tokens=1))
    assert asyncio.run(distill_cards(fake_ollama.url, MODEL, "Sam: hi")) == []  # connection dropped
    assert asyncio.run(distill_cards("http://127.0.0.1:9", MODEL, "Sam: hi", timeout_s=2)) == []  # nobody there


def test_distiller_object_uses_its_host_and_model(fake_ollama):
    fake_ollama.script_structured(cards_json(card("Aria loves stargazing.", "self", "persona")))
    cards = asyncio.run(CardDistiller(fake_ollama.url, MODEL).distill("Aria: I love stars", "Aria"))
    assert cards[0].type == "self"
    assert fake_ollama.structured_requests()[0].body["model"] == MODEL


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
