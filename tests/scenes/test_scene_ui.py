"""The Chat tab's scene handlers, called as Gradio calls them, over the real services and the fake Ollama."""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import unquote

from avatar.conversations.ui import ChatTab
from tests.scenes.conftest import CAST


def drain(agen) -> list:
    async def run():
        return [item async for item in agen]

    return asyncio.run(run())


def face_file(bubble: dict) -> Path:
    src = bubble["content"].split('src="', 1)[1].split('"', 1)[0]
    assert src.startswith("/gradio_api/file=")
    return Path(unquote(src.removeprefix("/gradio_api/file=")))


def test_a_scene_started_in_the_chat_tab_shows_each_reply_under_its_speakers_face(ctx, fake_ollama):
    tab = ChatTab(ctx)
    picker, listing, conversation_id, chatbot, _title, notice, _cast = tab.scenes.start(CAST, "")
    assert picker["value"] == "aria" and "A scene with Aria, Captain Vega, Professor Quill" in notice
    assert listing["choices"][0] == ("Scene: New chat (Aria, Captain Vega, Professor Quill)", conversation_id)
    assert "**Aria**" in chatbot[0]["content"] and face_file(chatbot[0]).is_file()  # the greeting, under her face

    fake_ollama.script("Course is set, rookie.")
    yields = drain(tab.send("Vega, where are we going?", "aria", conversation_id, 0))
    box, shown, _, listing, _ = yields[0]
    assert box == "" and shown[-1] == {"role": "user", "content": "Vega, where are we going?"}
    growing = [y[1][-1]["content"] for y in yields[1:-1]]
    assert growing and all("**Captain Vega**" in text for text in growing)  # streamed under her face
    final = yields[-1][1]
    assert "**Captain Vega**" in final[-1]["content"] and "Course is set, rookie." in final[-1]["content"]
    assert face_file(final[-1]).is_file()
    assert tab.history_view(conversation_id, "aria") == final

    bar = tab.scenes.bar(conversation_id)
    assert bar[0]["visible"] is True
    buttons = bar[1 + 2 * 5 : 1 + 3 * 5]
    assert [b["value"] for b in buttons if b["visible"]] == ["Ask Aria", "Ask Captain Vega", "Ask Professor Quill"]
    fake_ollama.script("Splendid!")
    shown, notice = drain(tab.scenes.ask(2, conversation_id))[-1]
    assert "**Professor Quill**" in shown[-1]["content"] and notice == ""
    fake_ollama.script("One.", "Two.")
    yields = drain(tab.scenes.let_them_talk(conversation_id, 2))
    assert len(fake_ollama.chat_requests()) == 4  # two more, the cap
    assert [m.content for m in ctx.conversations.messages(conversation_id)[-2:]] == ["One.", "Two."]

    # Vega's chats list the scene too; a one-character chat's list never shows another's scene.
    assert conversation_id in [c[1] for c in tab.conversation_choices("captain-vega")]
    assert tab.scenes.bar(None)[0]["visible"] is False


def test_join_and_leave_from_the_scene_bar(ctx):
    tab = ChatTab(ctx)
    conversation_id = ctx.scenes.start(["aria", "captain-vega"])
    assert "joins the scene" in tab.scenes.join(conversation_id, "professor-quill")
    assert "leaves the scene" in tab.scenes.leave(conversation_id, "aria")
    assert tab.scenes.leave(conversation_id, "captain-vega").startswith("A scene needs at least 2")
    joinable = tab.scenes.bar(conversation_id)[-2]["choices"]
    assert joinable == [("Aria", "aria")]
