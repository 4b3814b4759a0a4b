"""The conversation's mood and affinity: moved by each exchange, stored, and given to the model as one line."""

from __future__ import annotations

import asyncio

from avatar.expressions.mood import Mood, after_exchange, prompt_line, resting
from avatar.expressions.service import MoodService
from tests.test_chat_flow import run_turn


def test_mood_follows_the_replies_and_drifts_back_to_the_resting_mood():
    mood = resting("caring")
    assert mood.name == "caring" and mood.affinity == 50
    for _ in range(3):
        mood = after_exchange(mood, "caring", "anger", None)
    assert mood.valence < -0.2 and mood.arousal > 0.3 and mood.name != "caring" and mood.exchanges == 3
    for _ in range(12):
        mood = after_exchange(mood, "caring", None, None)  # nothing new: it settles back
    assert mood.name == "caring"


def test_affinity_grows_with_kind_words_falls_with_hostile_ones_and_stays_in_bounds():
    warm = Mood(0.0, 0.0)
    for _ in range(60):
        warm = after_exchange(warm, "neutral", "joy", "gratitude")
    cold = Mood(0.0, 0.0)
    for _ in range(60):
        cold = after_exchange(cold, "neutral", "sadness", "anger")
    assert 90 < warm.affinity <= 100 and warm.closeness == "close"
    assert 0 <= cold.affinity < 10 and cold.closeness == "distant"
    assert after_exchange(Mood(0.0, 0.0), "neutral", "neutral", "neutral").affinity == 50.5  # talking brings closer


def test_the_state_is_stored_after_each_exchange_and_given_to_the_model_before_the_newest_message(ctx, fake_ollama):
    fake_ollama.script(
        "How dare he say that to you! I am furious.",
        "Still fuming, honestly.",
    )
    first = asyncio.run(run_turn(ctx, "My boss yelled at me."))[-1]
    conversation_id = first.conversation_id
    sent_first = fake_ollama.chat_requests()[-1].body["messages"]
    assert not any("current state" in m["content"] for m in sent_first)  # nothing before the first exchange
    stored = MoodService(ctx.engine).get(conversation_id)  # a new service: read from the database
    assert stored is not None and stored.exchanges == 1 and stored.label == "anger"

    asyncio.run(run_turn(ctx, "What should I do?", conversation_id))
    sent = fake_ollama.chat_requests()[-1].body["messages"]
    line = prompt_line(stored, "Aria", ctx.profile.user_name())
    assert sent[-2] == {"role": "system", "content": line} and sent[-1]["content"] == "What should I do?"
    assert "current state" not in sent[0]["content"]  # never in the system prompt: it changes every turn
    assert MoodService(ctx.engine).get(conversation_id).exchanges == 2

    ctx.conversations.delete(conversation_id)
    assert MoodService(ctx.engine).get(conversation_id) is None  # goes with the conversation
