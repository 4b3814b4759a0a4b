"""The Chat tab's handlers, called as Gradio calls them, over the real services and the fake Ollama."""

from __future__ import annotations

import asyncio

from avatar.context import create_context
from avatar.conversations.ui import ChatTab
from avatar.core.settings import Settings
from tests.conftest import free_port


def drain(agen) -> list:
    async def run():
        return [item async for item in agen]

    return asyncio.run(run())


def said(message: dict) -> str:
    """A chat bubble's text without the small line of model-server figures under a reply."""
    return message["content"].split("\n\n<sub>")[0]


def test_load_picks_a_persona_and_shows_its_greeting(ctx):
    picker, _blurb, listing, conversation_id, chatbot, _title = ChatTab(ctx).load()
    assert picker["value"] == ctx.personas.default_id()
    assert [c[1] for c in picker["choices"]] == [p.id for p in ctx.personas.list()]
    assert conversation_id is None and listing["choices"] == []
    assert chatbot[0]["role"] == "assistant" and chatbot[0]["content"]


def test_send_streams_into_the_chatbot_and_lists_the_new_conversation(ctx, fake_ollama):
    tab = ChatTab(ctx)
    fake_ollama.script("Oh, tell me more about your garden!")
    yields = drain(tab.send("I planted tomatoes today", "aria", None))
    first_box, first_chat, conversation_id, listing, _ = yields[0]
    assert first_box == "" and first_chat[-1] == {"role": "user", "content": "I planted tomatoes today"}
    assert listing["choices"] == [("I planted tomatoes today", conversation_id)]
    growing = [y[1][-1]["content"] for y in yields[1:-1]]
    assert len(growing) > 3 and growing == sorted(growing, key=len)
    final_chat = yields[-1][1]
    question, reply = [m["content"] for m in final_chat[1:]]
    assert question == "I planted tomatoes today"
    text, figures = reply.split("\n\n<sub>")
    assert text == "Oh, tell me more about your garden!"
    # Under the reply, small: what the model server reported for it, and how soon it answered.
    assert "prompt tokens" in figures and "first token" in figures and "tokens/s</sub>" in figures
    # Selecting the conversation later shows the same history, from the database.
    assert tab.select_conversation(conversation_id, "aria")[1] == final_chat


def test_empty_message_is_refused_without_calling_the_model(ctx, fake_ollama):
    yields = drain(ChatTab(ctx).send("   ", "aria", None))
    assert yields[-1][-1] == "Type a message first."
    assert fake_ollama.chat_requests() == []


def test_stop_button_saves_partial_and_marks_it(ctx, fake_ollama):
    tab = ChatTab(ctx)
    fake_ollama.token_delay_s = 0.05
    fake_ollama.script(" ".join(f"w{i}" for i in range(60)))

    async def scenario():
        yields = []
        stop_notice = None
        async for item in tab.send("go on", "aria", None):
            yields.append(item)
            if len(yields) == 4:
                stop_notice = await tab.stop(item[2])
        return yields, stop_notice

    yields, stop_notice = asyncio.run(scenario())
    assert stop_notice.startswith("Stopped")
    last = said(yields[-1][1][-1])
    assert last.startswith("w0") and last.endswith("*— stopped*")
    assert "w59" not in last


def test_status_banner_when_ollama_is_down(settings):
    settings = settings.model_copy(update={"ollama_host": f"http://127.0.0.1:{free_port()}"})
    tab = ChatTab(create_context(settings))
    banner, pull, picker = asyncio.run(tab.status("llama3.2:3b"))
    assert banner["visible"] and "ollama serve" in banner["value"] and settings.ollama_host in banner["value"]
    assert pull["visible"] is False
    assert "value" not in picker and "choices" not in picker  # the Model list keeps what it shows
    yields = drain(tab.send("anyone?", "aria", None))
    said, no_reply = yields[-1][1][-2:]
    assert said["content"] == "anyone?"  # the user's message stays on screen (and in the DB)
    assert no_reply["metadata"]["title"] == "⚠️ No reply" and "ollama serve" in no_reply["content"]
    assert yields[-1][-1] == ""  # said once, in the bubble (and the banner), not again under the box


def test_a_message_sent_while_the_server_was_down_is_answered_by_regenerate(ctx, fake_ollama):
    tab = ChatTab(ctx)
    fake_ollama.stop()
    conversation_id = drain(tab.send("Are you there?", "aria", None))[-1][2]
    assert (
        "press **Regenerate** to try again" in drain(tab.send("Hello?", "aria", conversation_id))[-1][1][-1]["content"]
    )
    fake_ollama.start()  # Ollama is back
    fake_ollama.script("Sorry, I was away. I'm here now!")
    chat, notice = drain(tab.regenerate("aria", conversation_id))[-1]
    assert [said(m) for m in chat[-3:]] == ["Are you there?", "Hello?", "Sorry, I was away. I'm here now!"]
    assert notice == ""


def test_missing_model_offers_pull_and_pull_fixes_it(settings, fake_ollama):
    fake_ollama.models.clear()
    tab = ChatTab(create_context(settings))
    banner, pull, _picker = asyncio.run(tab.status())
    assert banner["visible"] and "llama3.2:3b" in banner["value"] and pull["visible"] is True
    messages = drain(tab.pull())
    assert messages[-1] == "llama3.2:3b is ready."
    assert [r.path for r in fake_ollama.requests].count("/api/pull") == 1
    banner, pull, picker = asyncio.run(tab.status("llama3.2:3b"))
    assert banner["visible"] is False and pull["visible"] is False
    assert picker["choices"] == [("llama3.2:3b", "llama3.2:3b")]  # the Model list shows the download too


def test_broken_persona_file_is_reported_in_the_banner(ctx, settings):
    (settings.user_personas_dir / "broken.yaml").write_text("name: Broken\nvoice: {speed: 2}\n")
    banner, _, _ = asyncio.run(ChatTab(ctx).status())
    assert "broken.yaml" in banner["value"] and "voice.speed" in banner["value"]
    assert len(ctx.personas.list()) >= 3


def test_rename_regenerate_and_delete(ctx, fake_ollama):
    tab = ChatTab(ctx)
    fake_ollama.script("first", "second")
    conversation_id = drain(tab.send("hello", "aria", None))[-1][2]
    listing, notice = tab.rename(conversation_id, "  Garden   talk ", "aria")
    assert notice == "Renamed." and listing["choices"][0] == ("Garden talk", conversation_id)
    assert tab.rename(conversation_id, "   ", "aria")[1].startswith("A conversation needs a title")

    chat_after, _ = drain(tab.regenerate("aria", conversation_id))[-1]
    assert said(chat_after[-1]) == "second"

    confirm, question = tab.ask_delete(conversation_id)
    assert confirm["visible"] and "cannot be undone" in question
    result = tab.delete(conversation_id, "aria")
    assert result[1] == "Conversation deleted." and ctx.conversations.list("aria") == []


def test_banner_when_the_openai_server_refuses_the_key(settings, fake_ollama):
    fake_ollama.openai_api_key = "sk-local-123"
    settings = settings.model_copy(update={"provider": "openai", "openai_base_url": fake_ollama.url + "/v1"})
    banner, pull, _picker = asyncio.run(ChatTab(create_context(settings)).status())
    assert banner["visible"] and "not reachable" not in banner["value"]
    assert "refused" in banner["value"] and "AVATAR_OPENAI_API_KEY" in banner["value"]
    assert pull["visible"] is False


def test_a_new_chat_can_open_with_an_alternate_greeting(ctx, fake_ollama):
    """Character cards ship alternate greetings; as on character sites, a new chat lets you pick one."""
    tab = ChatTab(ctx)
    aria = ctx.personas.get("aria")
    button, index = tab.greeting_choice("aria", None)
    assert button["visible"] and button["value"] == "↻ Another greeting (1 of 2)" and index == 0
    chatbot, index, button = tab.next_greeting("aria", None, index)
    assert chatbot == [{"role": "assistant", "content": aria.alternate_greetings[0]}] and index == 1
    assert button["value"] == "↻ Another greeting (2 of 2)"
    assert tab.next_greeting("aria", None, index)[1] == 0  # and round again

    fake_ollama.script("Tea it is.")
    conversation_id = drain(tab.send("Hi!", "aria", None, 1))[-1][2]
    first, said, reply = ctx.conversations.messages(conversation_id)
    assert first.content == aria.alternate_greetings[0] and (said.content, reply.content) == ("Hi!", "Tea it is.")
    assert fake_ollama.chat_requests()[-1].body["messages"][1]["content"] == aria.alternate_greetings[0]
    assert tab.greeting_choice("aria", conversation_id)[0]["visible"] is False  # only before the first message
    assert tab.greeting_choice("professor-quill", None)[0]["visible"] is False  # no alternates: no button


def test_first_run_asks_what_to_call_you_and_the_greeting_uses_it(ctx):
    tab = ChatTab(ctx)
    assert tab.name_prompt()["visible"] is True  # no name yet: characters say "User"
    assert "User" in tab.greeting_view("aria")[0]["content"]
    row, chatbot, notice = tab.save_name("  ", "aria", None)
    assert notice.startswith("Type your name first") and ctx.profile.get().name == ""
    ctx.profile.save("", "I climb on Sundays.")
    row, chatbot, notice = tab.save_name("Sam", "aria", None)
    assert row["visible"] is False and notice.startswith("Nice to meet you, Sam.")
    assert "Sam" in chatbot[0]["content"] and "User" not in chatbot[0]["content"]  # the new chat's greeting
    assert (ctx.profile.get().name, ctx.profile.about_me()) == ("Sam", "I climb on Sundays.")  # about me kept
    assert tab.name_prompt()["visible"] is False
    assert tab.save_name("x" * 500, "aria", None)[2].startswith("Your name:")  # the profile's own check


# -- the Model list ------------------------------------------------------------------------------


def test_picking_an_installed_model_clears_the_banner_and_is_used_and_remembered(settings, fake_ollama, embedder):
    """Someone with llama3.1:8b but not the default model picks theirs instead of a 2 GB download."""
    fake_ollama.models[:] = ["llama3.1:8b", "qwen2.5:0.5b"]
    ctx = create_context(settings, embedder=embedder)
    tab = ChatTab(ctx)
    banner, pull, picker = asyncio.run(tab.status("llama3.2:3b"))
    assert "Model missing" in banner["value"] and "**Model** list" in banner["value"] and pull["visible"]
    assert picker["choices"] == [
        ("llama3.2:3b (not installed)", "llama3.2:3b"),
        ("llama3.1:8b", "llama3.1:8b"),
        ("qwen2.5:0.5b", "qwen2.5:0.5b"),
    ]
    assert "value" not in picker  # already shown

    banner, pull, picker, notice = asyncio.run(tab.choose_model("llama3.1:8b", "aria"))
    assert banner["visible"] is False and pull["visible"] is False and notice == ""
    assert [c[1] for c in picker["choices"]] == ["llama3.1:8b", "qwen2.5:0.5b"]
    fake_ollama.script("Hi from the bigger model.")
    assert said(drain(tab.send("hello", "aria", None))[-1][1][-1]) == "Hi from the bigger model."
    assert fake_ollama.chat_requests()[-1].body["model"] == "llama3.1:8b"
    ctx.close()

    # A restart on the same data directory, without --model: the choice stands.
    restarted = create_context(Settings(data_dir=settings.data_dir, ollama_host=fake_ollama.url), embedder=embedder)
    assert restarted.provider.model == "llama3.1:8b"
    assert asyncio.run(ChatTab(restarted).status("llama3.1:8b"))[0]["visible"] is False
    restarted.close()
    # With --model given (explicit, even if it is the default), the flag wins.
    flagged = create_context(settings, embedder=embedder)
    assert flagged.provider.model == "llama3.2:3b"
    assert "--model" in ChatTab(flagged).model_info()
    flagged.close()


def test_a_characters_own_model_still_wins_over_the_picked_one(ctx, settings, fake_ollama):
    (settings.user_personas_dir / "picky.yaml").write_text("name: Picky\nmodel: qwen2.5:0.5b\n")
    fake_ollama.models[:] = ["llama3.2:3b", "llama3.1:8b", "qwen2.5:0.5b"]
    tab = ChatTab(ctx)
    *_, notice = asyncio.run(tab.choose_model("llama3.1:8b", "picky"))
    assert notice == "Picky keeps its own model, qwen2.5:0.5b; the other characters use llama3.1:8b."
    drain(tab.send("hi", "picky", None))
    drain(tab.send("hi", "aria", None))
    assert [r.body["model"] for r in fake_ollama.chat_requests()] == ["qwen2.5:0.5b", "llama3.1:8b"]


def test_model_list_of_an_openai_compatible_server(settings, fake_ollama, embedder):
    fake_ollama.models[:] = ["llama3.2:3b", "mistral-7b-instruct"]
    settings = settings.model_copy(update={"provider": "openai", "openai_base_url": fake_ollama.url + "/v1"})
    ctx = create_context(settings, embedder=embedder)
    tab = ChatTab(ctx)
    _, pull, picker = asyncio.run(tab.status("llama3.2:3b"))
    assert [c[1] for c in picker["choices"]] == ["llama3.2:3b", "mistral-7b-instruct"] and picker["interactive"]
    asyncio.run(tab.choose_model("mistral-7b-instruct", "aria"))
    drain(tab.send("hello", "aria", None))
    assert fake_ollama.chat_requests()[-1].path == "/v1/chat/completions"
    assert fake_ollama.chat_requests()[-1].body["model"] == "mistral-7b-instruct"
    # Remembered per provider: an Ollama start on the same data directory keeps its own default.
    assert ctx.model_choice.get("openai") == "mistral-7b-instruct" and ctx.model_choice.get("ollama") is None

    fake_ollama.models.clear()  # a server that lists nothing answers under any name: nothing to pick
    banner, pull, picker = asyncio.run(tab.status("mistral-7b-instruct"))
    assert banner["visible"] is False and pull["visible"] is False
    assert picker["interactive"] is False and "lists no models" in picker["info"]
    ctx.close()


def test_a_character_picked_while_the_page_loads_is_answered_after_the_load(settings, ctx):
    """The page's load shows the default character; a pick made before it returned must not be overwritten by
    it (seen in a full run: Captain Vega's chat shown, then Aria's empty list over it). Gradio's queue runs the
    events of one concurrency group one at a time in the order they came, so both must be in the same one."""
    from avatar.app import build_app

    demo = build_app(settings, ctx)

    def wired(method, event: str):
        return [f for f in demo.fns.values() if getattr(f.fn, "__func__", None) is method and event in str(f.targets)]

    (load,) = wired(ChatTab.load, "load")
    (pick,) = wired(ChatTab.pick_persona, "input")
    assert load.concurrency_id == pick.concurrency_id and load.concurrency_limit == pick.concurrency_limit == 1
    # The load's answer re-renders the dropdown (its choices) after the pick was made: the pick's answer, which comes
    # after it, shows the picked character again (seen in Chromium: Aria in the dropdown over Captain Vega's chat).
    assert pick.outputs[0] is load.outputs[0], "the pick answers the dropdown the load answers"
    assert pick.fn.__self__.pick_persona("captain-vega")[0]["value"] == "captain-vega"
