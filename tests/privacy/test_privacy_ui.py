"""The Privacy tab's handlers: export downloads, and erasing only after a confirmation."""

from __future__ import annotations

import asyncio
import zipfile

from avatar.privacy.ui import PrivacyTab


def chat(ctx, persona_id: str, text: str) -> None:
    async def run():
        async for _ in ctx.chat.send(persona_id, None, text):
            pass

    asyncio.run(run())


def test_checklist_says_where_data_lives_and_who_can_reach_it(ctx, settings):
    text = PrivacyTab(ctx).checklist()
    assert str(settings.db_path) in text and "127.0.0.1 only" in text and settings.ollama_host in text


def test_exports_are_offered_as_downloads(ctx, fake_ollama):
    tab = PrivacyTab(ctx)
    assert tab.export_finetune(None)[1].startswith("There are no conversations")
    chat(ctx, "aria", "hello there")
    download, notice = tab.export_all()
    assert download["visible"] and zipfile.is_zipfile(download["value"])
    download, notice = tab.export_finetune("aria")
    assert download["value"].endswith(".jsonl") and notice.startswith("1 conversation exported")


def test_erase_asks_first_then_erases(ctx, fake_ollama):
    tab = PrivacyTab(ctx)
    chat(ctx, "aria", "one")
    chat(ctx, "captain-vega", "two")
    confirm, question = tab.ask("conversations", "aria")
    assert confirm["visible"] and "Aria" in question and "cannot be undone" in question
    assert len(ctx.conversations.list()) == 2  # asking erased nothing
    confirm, message = tab.erase("conversations", "aria")
    assert message == "Deleted 1 conversation." and confirm["visible"] is False
    assert [c.persona_id for c in ctx.conversations.list()] == ["captain-vega"]
    tab.erase("everything", None)
    assert ctx.conversations.list() == []
    assert tab.ask(None, None)[1] == "Choose what to erase first."
