"""One turn end to end through the real services, a SQLite file and the fake Ollama server."""

from __future__ import annotations

import asyncio

from avatar.chat.schemas import TurnUpdate
from avatar.context import AppContext, create_context
from avatar.conversations.schemas import MessageStatus
from avatar.llm.tokens import message_tokens
from tests.conftest import free_port
from tests.support.fake_model_server import Reply


async def run_turn(ctx: AppContext, text: str, conversation_id: str | None = None, persona_id: str = "aria"):
    return [u async for u in ctx.chat.send(persona_id, conversation_id, text)]


def contents(ctx: AppContext, conversation_id: str) -> list[tuple[str, str, str]]:
    return [(m.role.value, m.content, m.status.value) for m in ctx.conversations.messages(conversation_id)]


def test_reply_streams_and_both_sides_are_saved_after_the_greeting(ctx, fake_ollama):
    fake_ollama.script("Hi there, friend!")
    updates = asyncio.run(run_turn(ctx, "Hello Aria"))
    assert updates[0].reply == "" and updates[0].user_message_id  # saved, before any token
    partials = [u.reply for u in updates[1:] if not u.done]
    assert partials == ["Hi", "Hi there,", "Hi there, friend!"]
    final = updates[-1]
    assert final.done and final.status is MessageStatus.complete and final.error is None
    greeting = ctx.personas.get("aria").greeting.replace("{{user}}", "User")
    assert contents(ctx, final.conversation_id) == [
        ("assistant", greeting, "complete"),
        ("user", "Hello Aria", "complete"),
        ("assistant", "Hi there, friend!", "complete"),
    ]
    sent = fake_ollama.chat_requests()[0].body["messages"]
    assert sent[0]["role"] == "system" and "You are Aria" in sent[0]["content"]
    assert sent[1:] == [{"role": "assistant", "content": greeting}, {"role": "user", "content": "Hello Aria"}]


def test_user_message_is_saved_before_the_model_is_called(ctx, fake_ollama):
    seen_in_db: list[list[str]] = []
    conversation_id = ctx.chat.start_conversation("aria")
    fake_ollama.on_chat_request = lambda body: seen_in_db.append(
        [m.content for m in ctx.conversations.messages(conversation_id)]
    )
    asyncio.run(run_turn(ctx, "saved first?", conversation_id))
    assert "saved first?" in seen_in_db[0]


def test_history_is_sent_on_the_next_turn(ctx, fake_ollama):
    fake_ollama.script("Nice to meet you, Sam.", "You're Sam!")
    first = asyncio.run(run_turn(ctx, "My name is Sam."))[-1]
    asyncio.run(run_turn(ctx, "What's my name?", first.conversation_id))
    sent = [m for m in fake_ollama.chat_requests()[1].body["messages"] if m["role"] != "system"]  # not the mood line
    assert [m["content"] for m in sent[-3:]] == ["My name is Sam.", "Nice to meet you, Sam.", "What's my name?"]


def test_stop_mid_stream_saves_the_partial_and_closes_the_model_stream(ctx, fake_ollama):
    fake_ollama.token_delay_s = 0.05
    fake_ollama.script("one two three four five six seven eight nine ten eleven twelve")
    conversation_id = ctx.chat.start_conversation("aria")

    async def scenario() -> list[TurnUpdate]:
        updates = []
        async for update in ctx.chat.send("aria", conversation_id, "count please"):
            updates.append(update)
            if update.reply.count(" ") == 2 and not update.done:
                assert ctx.chat.stop(conversation_id)
        return updates

    updates = asyncio.run(scenario())
    final = updates[-1]
    assert final.status is MessageStatus.partial
    assert final.reply.startswith("one two three") and "twelve" not in final.reply
    assert contents(ctx, conversation_id)[-1] == ("assistant", final.reply, "partial")
    assert fake_ollama.wait_for_event("chat_closed_by_client")


def test_cancelled_task_still_saves_what_was_produced(ctx, fake_ollama):
    fake_ollama.token_delay_s = 0.05
    fake_ollama.script("alpha beta gamma delta epsilon zeta eta theta")
    conversation_id = ctx.chat.start_conversation("aria")

    async def scenario():
        # Cancel once words have arrived, not after a fixed sleep: on a loaded
        # host the prompt alone can take longer than any sleep we would pick.
        first_words = asyncio.Event()

        async def consume():
            async for update in ctx.chat.send("aria", conversation_id, "go"):
                if update.reply:
                    first_words.set()

        task = asyncio.create_task(consume())
        await asyncio.wait_for(first_words.wait(), timeout=30)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(scenario())
    role, text, status = contents(ctx, conversation_id)[-1]
    assert (role, status) == ("assistant", "partial") and text.startswith("alpha")
    assert fake_ollama.wait_for_event("chat_closed_by_client")


def test_ollama_down_keeps_the_user_message_and_says_how_to_fix(settings):
    settings = settings.model_copy(update={"ollama_host": f"http://127.0.0.1:{free_port()}"})
    ctx = create_context(settings)
    final = asyncio.run(run_turn(ctx, "are you there?"))[-1]
    assert final.done and final.status is None and "ollama serve" in final.error
    assert contents(ctx, final.conversation_id)[-1] == ("user", "are you there?", "complete")


def test_missing_model_reports_pull(ctx, fake_ollama):
    fake_ollama.models.clear()
    final = asyncio.run(run_turn(ctx, "hello"))[-1]
    assert "Pull" in final.error and "llama3.2:3b" in final.error
    assert contents(ctx, final.conversation_id)[-1][1] == "hello"


def test_model_failing_mid_reply_keeps_what_arrived_marked_error(ctx, fake_ollama):
    fake_ollama.script(Reply("I was saying something important", fail_after_tokens=3))
    final = asyncio.run(run_turn(ctx, "tell me"))[-1]
    assert final.status is MessageStatus.error and final.error
    assert contents(ctx, final.conversation_id)[-1] == ("assistant", "I was saying", "error")


def test_regenerate_replaces_the_last_reply(ctx, fake_ollama):
    fake_ollama.script("first answer", "second answer")
    first = asyncio.run(run_turn(ctx, "question"))[-1]

    async def regenerate():
        return [u async for u in ctx.chat.regenerate(first.conversation_id)]

    final = asyncio.run(regenerate())[-1]
    assert final.reply == "second answer"
    texts = [c[1] for c in contents(ctx, first.conversation_id)]
    assert texts[-2:] == ["question", "second answer"] and "first answer" not in texts
    assert fake_ollama.chat_requests()[1].body["messages"][-1]["content"] == "question"


def test_100kb_message_is_saved_whole_and_the_prompt_fits_the_context(ctx, fake_ollama, settings):
    huge = "🙂 " + "word " * 20_000 + "🙃"
    assert len(huge.encode()) > 100_000
    final = asyncio.run(run_turn(ctx, huge))[-1]
    assert final.status is MessageStatus.complete
    assert contents(ctx, final.conversation_id)[1][1] == huge
    sent = fake_ollama.chat_requests()[0].body["messages"]
    assert sum(message_tokens(m["content"]) for m in sent) <= settings.context_tokens - settings.reply_tokens


def test_unicode_and_emoji_round_trip(ctx, fake_ollama):
    reply = "やあ！ 🎉 Ça va? Ελληνικά — 👩🏽‍🚀"
    fake_ollama.script(reply)
    final = asyncio.run(run_turn(ctx, "こんにちは 👋🏽 naïve café"))[-1]
    assert final.reply == reply
    assert [c[1] for c in contents(ctx, final.conversation_id)[1:]] == ["こんにちは 👋🏽 naïve café", reply]


def test_persona_model_override_is_used(ctx, fake_ollama, settings):
    (settings.user_personas_dir / "picky.yaml").write_text("name: Picky\nmodel: qwen2.5:0.5b\n")
    fake_ollama.models.append("qwen2.5:0.5b")
    asyncio.run(run_turn(ctx, "hi", persona_id="picky"))
    assert fake_ollama.chat_requests()[0].body["model"] == "qwen2.5:0.5b"


def test_openai_compatible_provider_is_config_only(settings, fake_ollama):
    settings = settings.model_copy(update={"provider": "openai", "openai_base_url": fake_ollama.url + "/v1"})
    ctx = create_context(settings)
    fake_ollama.script("via the OpenAI shape")
    final = asyncio.run(run_turn(ctx, "hello"))[-1]
    assert final.reply == "via the OpenAI shape"
    assert fake_ollama.chat_requests()[0].path == "/v1/chat/completions"


def test_barge_in_saves_only_what_was_spoken_marked_interrupted(ctx, fake_ollama):
    fake_ollama.token_delay_s = 0.03
    fake_ollama.script("First sentence here. Second sentence that nobody heard. Third one.")
    conversation_id = ctx.chat.start_conversation("aria")

    async def scenario():
        async for update in ctx.chat.send("aria", conversation_id, "tell me"):
            if "Second" in update.reply and not update.done:
                assert ctx.chat.stop(conversation_id, spoken_text="First sentence here.")
            last = update
        return last

    final = asyncio.run(scenario())
    assert final.status is MessageStatus.interrupted
    assert contents(ctx, conversation_id)[-1] == ("assistant", "First sentence here.", "interrupted")
    assert fake_ollama.wait_for_event("chat_closed_by_client")


def test_profile_name_and_about_me_reach_the_prompt_and_greeting(ctx, fake_ollama):
    ctx.profile.save("Sam", "I am a nurse who loves kites.")
    final = asyncio.run(run_turn(ctx, "hi"))[-1]
    greeting = contents(ctx, final.conversation_id)[0][1]
    assert "Sam" in greeting and "{{user}}" not in greeting
    system = fake_ollama.chat_requests()[0].body["messages"][0]["content"]
    assert "I am a nurse who loves kites." in system and "Sam" in system


def test_every_shipped_character_answers_in_its_own_voice(ctx, fake_ollama):
    shipped = [p for p in ctx.personas.list() if p.builtin]
    assert len(shipped) >= 3
    for persona in shipped:
        fake_ollama.script(f"{persona.name} here.")
        final = asyncio.run(run_turn(ctx, "Who are you?", persona_id=persona.id))[-1]
        assert final.status is MessageStatus.complete and final.reply == f"{persona.name} here."
        system = fake_ollama.chat_requests()[-1].body["messages"][0]["content"]
        assert system.startswith(f"You are {persona.name}.") and persona.personality.strip()[:40] in system
        greeting = contents(ctx, final.conversation_id)[0]
        assert greeting[0] == "assistant" and "{{" not in greeting[1]


# -- a voice turn answered speculatively: nothing is saved until the reply is about to be heard --------------


async def speculative_turn(ctx: AppContext, text: str, conversation_id: str, commit_after: int | None):
    """Stream a speculative reply; commit once `commit_after` pieces arrived, or discard there if None."""
    from avatar.chat.speculation import Speculation

    speculation = Speculation()
    updates = []
    async for update in ctx.chat.send("aria", conversation_id, text, speculation=speculation):
        updates.append(update)
        if len(updates) == 2 and commit_after is None:
            speculation.discard()
            ctx.chat.stop(conversation_id)
        if len(updates) == (commit_after or 0):
            assert speculation.commit()
    return speculation, updates


def test_a_speculative_reply_the_user_talked_through_leaves_nothing(ctx, fake_ollama):
    fake_ollama.token_delay_s = 0.05
    fake_ollama.script("Paris is the capital of France, and a lovely city to visit.")
    conversation_id = ctx.chat.start_conversation("aria")
    speculation, updates = asyncio.run(speculative_turn(ctx, "What is the capital of France?", conversation_id, None))
    assert fake_ollama.chat_requests()[-1].body["messages"][-1]["content"] == "What is the capital of France?"
    assert speculation.discarded and not speculation.committed and updates[-1].done
    assert [m[0] for m in contents(ctx, conversation_id)] == ["assistant"]  # the greeting only
    assert not speculation.commit()  # too late to save it


def test_a_committed_speculative_reply_is_saved_after_the_user_words(ctx, fake_ollama):
    fake_ollama.script("Paris.")
    conversation_id = ctx.chat.start_conversation("aria")
    speculation, updates = asyncio.run(speculative_turn(ctx, "What is the capital of France?", conversation_id, 1))
    assert speculation.committed and updates[-1].user_message_id == speculation.user_message_id
    assert contents(ctx, conversation_id)[1:] == [
        ("user", "What is the capital of France?", "complete"),
        ("assistant", "Paris.", "complete"),
    ]


def test_a_reply_already_saved_is_not_taken_back(ctx, fake_ollama):
    """Voice takes a turn back when its reply was stopped before a word was heard; a stop that comes once the
    reply is saved (its label was still being made) leaves the turn whole: not the user's words kept twice."""
    fake_ollama.script("Paris.")
    conversation_id = ctx.chat.start_conversation("aria")
    speculation, _ = asyncio.run(speculative_turn(ctx, "What is the capital of France?", conversation_id, 1))
    assert speculation.written and not speculation.withdraw()
    ctx.chat.settle(speculation)  # what the flow does once the turn's task ends
    assert [m[0] for m in contents(ctx, conversation_id)[1:]] == ["user", "assistant"]


def test_a_speculative_turn_whose_model_fails_keeps_the_user_words(settings):
    settings = settings.model_copy(update={"ollama_host": f"http://127.0.0.1:{free_port()}"})
    ctx = create_context(settings)
    conversation_id = ctx.chat.start_conversation("aria")
    speculation, updates = asyncio.run(speculative_turn(ctx, "are you there?", conversation_id, 99))
    assert speculation.committed and "ollama serve" in updates[-1].error
    assert contents(ctx, conversation_id)[-1] == ("user", "are you there?", "complete")
