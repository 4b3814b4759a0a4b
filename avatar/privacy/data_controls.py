"""Export everything, export a fine-tuning dataset, and erase: the user's data is the user's.

Erasing is real: rows are deleted (the memory triggers remove vec0 and FTS rows with them), the
user's persona files and profile are removed, and the database is vacuumed so the deleted text does
not linger in free pages or the WAL.
"""

from __future__ import annotations

import io
import json
import logging
import shutil
import zipfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import inspect, text

from avatar.context import AppContext
from avatar.core import scratch
from avatar.core.files import atomic_write_bytes
from avatar.llm.prompt import system_prompt
from avatar.personas.exceptions import PersonaNotFound
from avatar.scenes.export import scene_records

log = logging.getLogger(__name__)

# Settings that say how the app was configured and contain nothing secret.
EXPORTED_SETTINGS = (
    "provider",
    "model",
    "ollama_host",
    "openai_base_url",
    "context_tokens",
    "reply_tokens",
    "temperature",
    "stt_model",
    "tts_voice",
)


# A character's conversations: its chats and the scenes it was in.
PERSONA_CONVERSATIONS = (
    "SELECT id FROM conversations WHERE persona_id = :p "
    "OR id IN (SELECT conversation_id FROM scene_members WHERE persona_id = :p)"
)


def _rows(ctx: AppContext, sql: str, **params: Any) -> list[dict[str, Any]]:
    with ctx.engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(text(sql), params)]


def _has_table(ctx: AppContext, name: str) -> bool:
    return name in inspect(ctx.engine).get_table_names()


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}


def conversations_with_messages(ctx: AppContext, persona_id: str | None = None) -> list[dict[str, Any]]:
    """Every conversation with its messages (a scene with who was in it when: `members`); `persona_id`: its
    chats and the scenes it was in."""
    where = f"WHERE id IN ({PERSONA_CONVERSATIONS})" if persona_id else ""
    conversations = _rows(ctx, f"SELECT * FROM conversations {where} ORDER BY id", p=persona_id)
    for conversation in conversations:
        conversation["messages"] = [
            _jsonable(m)
            for m in _rows(ctx, "SELECT * FROM messages WHERE conversation_id = :c ORDER BY id", c=conversation["id"])
        ]
        if conversation.get("kind") == "scene":
            conversation["members"] = _rows(
                ctx,
                "SELECT persona_id, joined_after, left_after FROM scene_members WHERE conversation_id = :c ORDER BY id",
                c=conversation["id"],
            )
    return [_jsonable(c) for c in conversations]


def memories(ctx: AppContext) -> list[dict[str, Any]]:
    if not _has_table(ctx, "memories"):
        return []
    return [_jsonable(m) for m in _rows(ctx, "SELECT * FROM memories ORDER BY id")]


def export_archive(ctx: AppContext, out_path: Path) -> Path:
    """One zip with conversations, memories, the user's personas, the profile and the settings."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "conversations.jsonl",
            "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in conversations_with_messages(ctx)),
        )
        archive.writestr("memories.jsonl", "".join(json.dumps(m, ensure_ascii=False) + "\n" for m in memories(ctx)))
        settings = {name: getattr(ctx.settings, name) for name in EXPORTED_SETTINGS}
        archive.writestr("settings.json", json.dumps(settings, indent=2, default=str))
        profile = ctx.settings.data_dir / "profile.yaml"
        if profile.is_file():
            archive.write(profile, "profile.yaml")
        if (picture := ctx.profile.picture()) is not None:
            archive.write(picture, "profile.png")
        personas_dir = ctx.settings.user_personas_dir
        if personas_dir.is_dir():
            for path in sorted(personas_dir.iterdir()):
                if path.is_file() and not path.name.startswith("."):
                    archive.write(path, f"personas/{path.name}")
                elif path.is_dir() and path.name.endswith(".expressions"):  # expression sprites
                    for sprite in sorted(path.glob("*.png")):
                        archive.write(sprite, f"personas/{path.name}/{sprite.name}")
        for world in ctx.worlds.list():  # each a World Info file SillyTavern (and import-world) reads
            body = json.dumps(ctx.worlds.export_json(world.id), ensure_ascii=False, indent=2)
            archive.writestr(f"worlds/{world.id}.json", body)
        archive.writestr(
            "README.txt",
            "Local Avatar export, made " + datetime.now(timezone.utc).isoformat(timespec="seconds") + "\n"
            "conversations.jsonl: one conversation per line with its messages\n"
            "memories.jsonl: what the app remembered, with why and from which messages\n"
            "personas/: the characters you created or edited; profile.yaml: your name and about-me\n"
            "worlds/: the worlds of your scenes, as SillyTavern World Info files\n",
        )
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out_path, buffer.getvalue())
    return out_path


def finetune_records(ctx: AppContext, persona_id: str | None = None) -> list[dict[str, Any]]:
    """Conversations in the chat "messages" shape that SFT/LoRA tools (TRL, Axolotl) read, plus metadata."""
    records = []
    user_name = ctx.profile.user_name()
    for conversation in conversations_with_messages(ctx, persona_id):
        if conversation.get("kind") == "scene":  # one record per character who spoke, as it saw the scene
            records += scene_records(ctx, conversation["id"], persona_id)
            continue
        try:
            persona = ctx.personas.get(conversation["persona_id"])
        except PersonaNotFound:  # a deleted persona: its conversations still export, without a system prompt
            persona = None
        messages = [
            {"role": m["role"], "content": m["content"]}
            for m in conversation["messages"]
            if m["content"].strip() and m["status"] != "error"
        ]
        if not any(m["role"] == "assistant" for m in messages) or not any(m["role"] == "user" for m in messages):
            continue
        if persona is not None:
            messages.insert(0, {"role": "system", "content": system_prompt(persona, user_name)})
        records.append(
            {
                "messages": messages,
                "persona": conversation["persona_id"],
                "persona_name": persona.name if persona else None,
                "style": persona.style.model_dump() if persona else None,
                "tags": persona.tags if persona else [],
                "conversation_id": conversation["id"],
            }
        )
    return records


def export_finetune_jsonl(ctx: AppContext, out_path: Path, persona_id: str | None = None) -> int:
    records = finetune_records(ctx, persona_id)
    body = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    atomic_write_bytes(Path(out_path), body.encode("utf-8"))
    return len(records)


def _vacuum(ctx: AppContext) -> None:
    # Deleted text survives in free pages and in the WAL until both are rewritten.
    with ctx.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM"))
        conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))


def delete_persona_conversations(ctx: AppContext, persona_id: str) -> int:
    """The character's chats and the scenes it was in (its lines are in them)."""
    with ctx.engine.begin() as conn:
        ids = [r[0] for r in conn.execute(text(PERSONA_CONVERSATIONS), {"p": persona_id})]
        for conversation_id in ids:
            conn.execute(text("DELETE FROM messages WHERE conversation_id = :c"), {"c": conversation_id})
            conn.execute(text("DELETE FROM conversations WHERE id = :c"), {"c": conversation_id})
    _vacuum(ctx)
    return len(ids)


def delete_all_memories(ctx: AppContext) -> int:
    if not _has_table(ctx, "memories"):
        return 0
    with ctx.engine.begin() as conn:
        count = conn.execute(text("DELETE FROM memories")).rowcount
        if _has_table(ctx, "memory_progress"):
            conn.execute(text("DELETE FROM memory_progress"))
    _vacuum(ctx)
    return count


def wipe_everything(ctx: AppContext) -> None:
    """Conversations, memories, the user's personas and profile, exports: gone. Built-in personas stay."""
    with ctx.engine.begin() as conn:
        for table in (
            "memory_progress",
            "memories",
            "conversation_moods",
            "scene_members",
            "messages",
            "conversations",
            "worlds",
        ):
            if _has_table(ctx, table):
                conn.execute(text(f"DELETE FROM {table}"))
    _vacuum(ctx)
    if ctx.settings.user_personas_dir.is_dir():
        shutil.rmtree(ctx.settings.user_personas_dir)
    ctx.settings.user_personas_dir.mkdir(parents=True, exist_ok=True)
    (ctx.settings.data_dir / "profile.yaml").unlink(missing_ok=True)
    ctx.profile.picture_path.unlink(missing_ok=True)
    # Exports made earlier and Gradio's cached copies of uploads and downloads hold the same data.
    scratch.empty_current_run()
    scratch.sweep_ended_runs(scratch.scratch_root(ctx.settings.data_dir))
    log.info("wiped all conversations, scenes, worlds, memories, user personas, the profile and temporary files")
