"""Export everything, export a fine-tuning set, erase: and erased text is really gone from the files."""

from __future__ import annotations

import asyncio
import json
import zipfile

from avatar.privacy import data_controls

SECRET = "the combination is blue-harbour-seventeen"


def chat(ctx, persona_id: str, text: str) -> str:
    async def run():
        return [u async for u in ctx.chat.send(persona_id, None, text)][-1].conversation_id

    return asyncio.run(run())


def raw_bytes(settings) -> bytes:
    return b"".join(p.read_bytes() for p in settings.data_dir.glob("avatar.db*"))


def test_export_archive_has_everything(ctx, settings, fake_ollama):
    fake_ollama.script("Noted, I will keep it safe.")
    conversation_id = chat(ctx, "aria", SECRET)
    ctx.profile.save("Sam", "likes kites")
    (settings.user_personas_dir / "mine.yaml").write_text("name: Mine\n")
    out = data_controls.export_archive(ctx, settings.data_dir / "export.zip")
    with zipfile.ZipFile(out) as archive:
        names = set(archive.namelist())
        conversations = [json.loads(line) for line in archive.read("conversations.jsonl").splitlines()]
        settings_json = json.loads(archive.read("settings.json"))
    assert {"conversations.jsonl", "memories.jsonl", "settings.json", "profile.yaml", "personas/mine.yaml"} <= names
    [conversation] = conversations
    assert conversation["id"] == conversation_id
    assert [m["content"] for m in conversation["messages"]][1:] == [SECRET, "Noted, I will keep it safe."]
    assert settings_json["model"] == "llama3.2:3b" and "openai_api_key" not in settings_json


def test_finetune_jsonl_is_messages_with_persona_metadata(ctx, settings, fake_ollama):
    fake_ollama.script("Arr, welcome aboard.")
    chat(ctx, "captain-vega", "hello captain")
    out = settings.data_dir / "sft.jsonl"
    assert data_controls.export_finetune_jsonl(ctx, out) == 1
    [record] = [json.loads(line) for line in out.read_text().splitlines()]
    roles = [m["role"] for m in record["messages"]]
    assert roles[0] == "system" and roles[-2:] == ["user", "assistant"]
    assert record["persona"] == "captain-vega" and record["persona_name"] == "Captain Vega"
    assert "You are Captain Vega" in record["messages"][0]["content"]
    assert record["messages"][-1]["content"] == "Arr, welcome aboard."


def test_deleting_a_personas_conversations_leaves_the_others(ctx, fake_ollama):
    chat(ctx, "aria", "for aria")
    chat(ctx, "captain-vega", "for vega")
    assert data_controls.delete_persona_conversations(ctx, "aria") == 1
    assert ctx.conversations.list("aria") == [] and len(ctx.conversations.list("captain-vega")) == 1


def test_wipe_removes_the_text_from_the_database_files(ctx, settings, fake_ollama):
    chat(ctx, "aria", SECRET)
    ctx.profile.save("Sam", "about me")
    (settings.user_personas_dir / "mine.yaml").write_text("name: Mine\n")
    assert SECRET.encode() in raw_bytes(settings)
    data_controls.wipe_everything(ctx)
    assert ctx.conversations.list() == []
    assert SECRET.encode() not in raw_bytes(settings)
    assert not (settings.data_dir / "profile.yaml").exists()
    assert list(settings.user_personas_dir.iterdir()) == []
    assert len(ctx.personas.list()) >= 3  # built-ins stay
