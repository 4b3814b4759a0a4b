"""The Memory tab's handlers and the Chat tab's memory switch, called as Gradio calls them, over the real services."""

from __future__ import annotations

import asyncio
import re

import gradio as gr
from sqlmodel import Session

from avatar.conversations.ui import ChatTab
from avatar.memory import index_search, repository
from avatar.memory.schemas import MemoryKind, MemoryScope
from avatar.memory.ui import ALL, MEANING, NO_SELECTION, WORDS, MemoryTab
from tests.memory.conftest import converse

FILTERS = (ALL, ALL, ALL, "", WORDS)  # persona, kind, scope, search, mode


def view(tab: MemoryTab, persona=ALL, kind=ALL, scope=ALL, query="", mode=WORDS, selected=None):
    status, count, rows, ids, selected, info, text, pin, *_ = tab.view(persona, kind, scope, query, mode, selected)
    return {"status": status, "count": count, "rows": rows, "ids": ids, "info": info, "text": text, "pin": pin}


def shown_texts(tab: MemoryTab, **filters) -> set[str]:
    return {row[0] for row in view(tab, **filters)["rows"]}


def select_row(tab: MemoryTab, ids: list[str], rows: list[list], index: int):
    event = gr.SelectData(None, {"index": [index, 0], "value": rows[index][0], "row_value": rows[index]})
    return tab.select(ids, event)


def seed(ctx):
    profile = ctx.memory.add("The user has a beagle named Biscuit.", reason="They talked about their pet.")
    aria = ctx.memory.add(
        "Aria and the user are reading Dune together.", scope=MemoryScope.persona, persona_id="aria", importance=0.8
    )
    vega = ctx.memory.add(
        "Captain Vega promoted the user to first officer.", scope=MemoryScope.persona, persona_id="captain-vega"
    )
    return profile, aria, vega


def run(coroutine):
    return asyncio.run(coroutine)


async def collect(agen):
    return [item async for item in agen]


async def chat(ctx, text: str, conversation_id: str | None = None, persona_id: str = "aria"):
    return [u async for u in ctx.chat.send(persona_id, conversation_id, text)][-1]


def test_filters_by_persona_kind_scope_words_and_meaning(ctx):
    profile, aria, vega = seed(ctx)
    conversation_id = converse(
        ctx.conversations,
        "aria",
        [("I moved to Porto last spring.", "How is Porto?"), ("Rainy but lovely.", "Sounds cosy."), ("Yes!", "Great.")],
    )
    run(ctx.memory.remember("aria", conversation_id, persona_name="Aria", user_name="Sam", final=True))
    tab = MemoryTab(ctx)

    everything = view(tab)
    assert len(everything["rows"]) == 4 and len(everything["ids"]) == 4
    assert everything["count"].startswith("4 memories")
    assert {row[2] for row in everything["rows"]} == {"You (every character)", "Aria", "Captain Vega"}

    # A character sees the memories about you and its own, never another character's.
    assert shown_texts(tab, persona="aria") == {profile.text, aria.text, next(iter(shown_texts(tab, kind="chunk")))}
    assert vega.text not in shown_texts(tab, persona="aria")
    assert shown_texts(tab, persona="aria", scope="persona", kind="card") == {aria.text}
    assert shown_texts(tab, scope="profile") == {profile.text}
    chunk_rows = view(tab, kind="chunk")["rows"]
    assert len(chunk_rows) == 1 and "Porto" in chunk_rows[0][0] and chunk_rows[0][1] == "excerpt"

    assert shown_texts(tab, query="beagle") == {profile.text}
    assert shown_texts(tab, query="dun") == {aria.text}  # search as you type: the last word is a prefix
    assert shown_texts(tab, query="zeppelin") == set()

    by_meaning = view(tab, query="what kind of pet do I have?", mode=MEANING)
    assert by_meaning["rows"][0][0] == profile.text and "closest in meaning" in by_meaning["count"]
    assert vega.text not in shown_texts(tab, persona="aria", query="first officer promotion", mode=MEANING)


def test_selecting_a_memory_shows_why_how_important_and_its_source_messages(ctx):
    conversation_id = converse(
        ctx.conversations,
        "aria",
        [
            ("My *sister* Mia lives in Lisbon.", "Lovely city!"),
            ("She studies  marine biology.", "Fascinating."),
            ("We talk every Sunday.", "That's sweet."),
        ],
    )
    run(ctx.memory.remember("aria", conversation_id, persona_name="Aria", user_name="Sam", final=True))
    tab = MemoryTab(ctx)
    listing = view(tab, kind="chunk")
    selected, info, text, pin, sources, confirm, status = select_row(tab, listing["ids"], listing["rows"], 0)

    memory = ctx.memory.get(selected)
    assert memory.kind is MemoryKind.chunk and text["value"] == memory.text and text["interactive"]
    assert "Why it was stored:** What was said in a conversation." in info
    assert "importance 0.30" in info and "Stored " in info and "updated " in info
    assert pin["value"] == "Pin" and confirm["visible"] is False and status == ""
    messages = ctx.conversations.messages(conversation_id)
    # The exact words, spacing and markdown characters included, with when and who.
    assert [row[2] for row in sources] == [m.content for m in messages]
    assert sources[0][1] == "You" and sources[1][1] == "Aria"
    assert sources[0][0] == messages[0].created_at.strftime("%Y-%m-%d %H:%M UTC")

    assert tab.detail(None)[1] == NO_SELECTION


def test_editing_re_embeds_and_re_indexes(ctx):
    profile, _, _ = seed(ctx)
    tab = MemoryTab(ctx)
    with Session(ctx.engine) as session:
        key = repository.get_memory(session, profile.id).key
        before = index_search.vector_of(session, key).copy()

    result = tab.save_text(profile.id, "The user plays the cello in a string quartet.", *FILTERS)
    assert result[0].startswith("Saved.")
    assert ctx.memory.get(profile.id).text == "The user plays the cello in a string quartet."
    with Session(ctx.engine) as session:
        after = index_search.vector_of(session, key)
    expected = ctx.memory.embedder.embed_documents(["The user plays the cello in a string quartet."])[0]
    assert float(after @ expected) > 0.99 and float(before @ after) < 0.9
    assert shown_texts(tab, query="quartet") == {"The user plays the cello in a string quartet."}
    assert shown_texts(tab, query="beagle") == set()
    assert view(tab, query="what instrument do I play?", mode=MEANING)["rows"][0][0].startswith("The user plays")

    refused = tab.save_text(profile.id, "   ", *FILTERS)
    assert refused[0] == "A memory needs some text: type what should be remembered."
    assert "Traceback" not in refused[0]


def test_pin_and_unpin(ctx):
    _, aria, _ = seed(ctx)
    tab = MemoryTab(ctx)
    pinned = tab.toggle_pin(aria.id, *FILTERS)
    assert pinned[0] == "Pinned: always kept in mind." and ctx.memory.get(aria.id).pinned
    assert pinned[7]["value"] == "Unpin"  # the pin button now offers the opposite
    row = next(r for r in pinned[2] if r[0] == aria.text)
    assert row[4] == "pinned"
    unpinned = tab.toggle_pin(aria.id, *FILTERS)
    assert unpinned[0].startswith("Unpinned") and not ctx.memory.get(aria.id).pinned


def test_delete_asks_first_then_removes_the_row_its_vector_and_its_text_index(ctx):
    _, aria, _ = seed(ctx)
    tab = MemoryTab(ctx)
    with Session(ctx.engine) as session:
        key = repository.get_memory(session, aria.id).key
    confirm, question = tab.ask_delete(aria.id)
    assert confirm["visible"] is True and "for good" in question
    assert ctx.memory.get(aria.id)  # asking deletes nothing

    result = tab.delete(aria.id, *FILTERS)
    assert result[0] == "Deleted. It will not be recalled again."
    assert aria.id not in result[3] and result[4] is None  # gone from the list, nothing selected
    with Session(ctx.engine) as session:
        assert repository.get_memory(session, aria.id) is None
        assert index_search.index_counts(session, key) == (0, 0, 0)
    assert shown_texts(tab, query="Dune") == set()
    assert all(r.memory.id != aria.id for r in ctx.memory.search("reading Dune together", "aria"))

    gone = tab.delete(aria.id, *FILTERS)
    assert "does not exist" in gone[0]


def test_forget_everything_of_one_persona_asks_then_keeps_the_rest(ctx):
    profile, _, vega = seed(ctx)
    ctx.memory.add("Aria's favourite colour is teal.", scope=MemoryScope.persona, persona_id="aria")
    tab = MemoryTab(ctx)

    confirm, question = tab.ask_forget_all(ALL)
    assert confirm["visible"] is False and "Pick a character" in question
    confirm, question = tab.ask_forget_all("aria")
    assert confirm["visible"] is True and confirm["value"] == "Yes, forget all 2 memories of Aria"
    assert "Memories about you" in question and ctx.memory.count(persona_id="aria") == 2

    result = tab.forget_all("aria", "aria", ALL, ALL, "", WORDS)
    assert result[0] == "Forgot 2 memories of Aria."
    assert ctx.memory.count(persona_id="aria") == 0
    assert {m.id for m in ctx.memory.list()} == {profile.id, vega.id}
    confirm, question = tab.ask_forget_all("aria")
    assert confirm["visible"] is False and "no memories" in question


def test_what_did_you_remember_shows_the_newest_replys_recall_with_sources(ctx, fake_ollama):
    tab = MemoryTab(ctx)
    assert "Open or start a conversation" in tab.recalled_view(None)
    conversation_id = converse(
        ctx.conversations,
        "aria",
        [("My dog Biscuit <3 loves the beach.", "Aww!"), ("He chases gulls.", "Ha!"), ("Every Sunday.", "Cute.")],
    )
    run(ctx.memory.remember("aria", conversation_id, persona_name="Aria", user_name="Sam", final=True))
    assert "send a message" in tab.recalled_view(conversation_id)

    final = run(chat(ctx, "Where does Biscuit like to go?", conversation_id))
    shown = tab.recalled_view(final.conversation_id)
    assert ctx.chat.last_recall[final.conversation_id]
    assert "were recalled" in shown or "was recalled" in shown
    assert "My dog Biscuit &lt;3 loves the beach." in shown  # the exact text, escaped for the page
    assert "matched by" in shown and re.search(r"From \d messages?</summary>", shown)  # the lines that matched

    other = run(chat(ctx, "Hello there", persona_id="captain-vega")).conversation_id
    assert ctx.chat.last_recall[other] == []  # Aria's excerpts are not Vega's to recall
    assert "no memory matched" in tab.recalled_view(other)


def test_memory_switch_off_neither_recalls_nor_stores_and_never_reaches_back(ctx, fake_ollama):
    ctx.memory.add("The user's dog is a beagle named Biscuit.")
    chat_tab, tab = ChatTab(ctx), MemoryTab(ctx)

    # Switched off before the first message: the conversation starts then, with memory off.
    notice, conversation_id, listing = chat_tab.set_memory(None, False, "aria")
    assert notice.startswith("Memory is off") and listing["value"] == conversation_id
    assert ctx.conversations.get(conversation_id).memory_enabled is False
    run(collect(chat_tab.send("Tell me about my dog Biscuit", "aria", conversation_id)))
    assert chat_tab.memory_switch(conversation_id)["value"] is False
    assert not any("```memories" in m["content"] for m in fake_ollama.chat_requests()[-1].body["messages"])
    for text in ("I live in Porto.", "I work as a nurse.", "I love jazz."):
        run(chat(ctx, text, conversation_id))
    assert ctx.memory.wait_for_writes(timeout_s=30)
    assert ctx.memory.list(kind=MemoryKind.chunk) == []
    assert ctx.chat.last_recall[conversation_id] == []
    assert "Memory is off" in tab.recalled_view(conversation_id)

    # Switched on: the new turns are remembered and recalled; what was said while off never is.
    notice, same, _ = chat_tab.set_memory(conversation_id, True, "aria")
    assert notice.startswith("Memory is on") and same == conversation_id
    for text in ("My sister is called Mia.", "She is a pilot.", "She flies to Tokyo."):
        run(chat(ctx, text, conversation_id))
    run(ctx.memory.remember("aria", conversation_id, persona_name="Aria", final=True))
    chunks = ctx.memory.list(kind=MemoryKind.chunk)
    assert chunks and any("Mia" in c.text for c in chunks)
    assert not any(word in c.text for c in chunks for word in ("Porto", "nurse", "jazz"))
    run(chat(ctx, "What is my dog called again?", conversation_id))
    assert "Biscuit" in fake_ollama.chat_requests()[-1].body["messages"][-2]["content"]  # this turn's note

    assert chat_tab.set_memory(conversation_id, False, "aria")[0].startswith("Memory is off")
    assert ctx.conversations.get(conversation_id).memory_enabled is False
    assert chat_tab.memory_switch(None)["value"] is True  # a new chat starts with memory on


def test_migration_0004_adds_the_switch_on_by_default_and_downgrades_keeping_chats(tmp_path):
    from alembic import command
    from sqlalchemy import inspect, text

    from avatar.core.db import alembic_config, open_database

    engine = open_database(tmp_path / "avatar.db")
    assert "memory_enabled" in {c["name"] for c in inspect(engine).get_columns("conversations")}
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO conversations (id, persona_id, title, created_at, updated_at) "
                "VALUES ('c', 'aria', 't', '2026-01-01', '2026-01-01')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO messages (id, conversation_id, role, content, status, created_at) "
                "VALUES ('m', 'c', 'user', 'hi', 'complete', '2026-01-01')"
            )
        )
        assert connection.execute(text("SELECT memory_enabled FROM conversations")).scalar() == 1
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0003")
    assert "memory_enabled" not in {c["name"] for c in inspect(engine).get_columns("conversations")}
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM messages")).scalar() == 1  # nothing cascaded away
