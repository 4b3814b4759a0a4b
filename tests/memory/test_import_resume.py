"""Importing the same chat again, and an import killed midway (a real kill -9 of `app.py import-chat`):
one copy of the conversation, with every message in memory, never two."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlean

from avatar.core.settings import PROJECT_ROOT
from avatar.memory import import_log
from avatar.memory.cli import import_chat
from avatar.memory.importers import read_transcript
from avatar.memory.schemas import MemoryKind
from tests.conftest import packaged_embedding_model_dir

pytestmark = pytest.mark.slow

TOPICS = ["the garden", "my sister", "the new job", "the dog", "a book", "the weather", "dinner", "the trip"]


def chat_file(path: Path, messages: int, day: int = 1) -> Path:
    lines = []
    for i in range(messages):
        role = "user" if i % 2 == 0 else "assistant"
        words = f"Message {i} about {TOPICS[i % len(TOPICS)]}: " + (
            "I told you more. " if role == "user" else "Tell me!"
        )
        lines.append({"role": role, "content": words, "timestamp": f"2025-03-{day:02d}T08:00:00Z"[:-1] + f".{i:03d}Z"})
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    return path


def covered(ctx, conversation_id: str) -> tuple[set[str], list[list[str]]]:
    chunks = [m for m in ctx.memory.list(kind=MemoryKind.chunk, limit=10_000) if m.conversation_id == conversation_id]
    return {i for c in chunks for i in c.source_message_ids}, [c.source_message_ids for c in chunks]


def test_the_same_chat_imported_twice_is_one_conversation(ctx, tmp_path, capsys):
    file = chat_file(tmp_path / "chat.jsonl", 40)
    assert import_chat(ctx, read_transcript(file), file, "aria", cards=False) == 0
    memories = ctx.memory.count()
    copy = tmp_path / "copy.jsonl"  # another file, the same messages
    copy.write_text(file.read_text().replace('", "', '",  "'))
    capsys.readouterr()
    assert import_chat(ctx, read_transcript(copy), copy, "aria", cards=False) == 0
    assert "Already imported as a conversation with Aria" in capsys.readouterr().out
    [conversation] = ctx.conversations.list("aria")
    assert ctx.memory.count() == memories
    assert import_chat(ctx, read_transcript(file), file, "captain-vega", cards=False) == 0  # another persona: new
    assert len(ctx.conversations.list("captain-vega")) == 1
    ctx.conversations.delete(conversation.id)  # deleted: importing it again makes it again
    assert import_chat(ctx, read_transcript(file), file, "aria", cards=False) == 0
    assert len(ctx.conversations.list("aria")) == 1


def test_an_import_cut_short_is_finished_by_the_next_import(ctx, tmp_path, capsys):
    cut = chat_file(tmp_path / "cut.jsonl", 30)
    transcript = read_transcript(cut)
    # What a kill right after the conversation's commit leaves: the conversation and its record, no memory.
    entry = import_log.ChatImport("aria", "", str(cut), "User", "Aria", False)
    conversation = ctx.conversations.import_messages(
        "aria", "cut", [(t.role, t.content, t.said_at) for t in transcript.turns],
        also=lambda session, cid: import_log.record(
            session.connection(), import_log.fingerprint((t.role.value, t.content, t.said_at) for t in transcript.turns),
            import_log.ChatImport(**{**entry.__dict__, "conversation_id": cid}), 30),
    )  # fmt: skip
    other = chat_file(tmp_path / "other.jsonl", 12, day=2)
    assert import_chat(ctx, read_transcript(other), other, "aria", cards=False) == 0
    assert f"Also finished an earlier import that had been cut short ({cut})" in capsys.readouterr().out
    messages = {m.id for m in ctx.conversations.messages(conversation.id)}
    assert covered(ctx, conversation.id)[0] == messages
    with ctx.engine.connect() as connection:
        assert import_log.unfinished(connection) == []


def test_kill_9_during_import_chat_then_the_same_command_gives_one_whole_copy(settings, tmp_path):
    file = chat_file(tmp_path / "long.jsonl", 150)
    command = [
        sys.executable, str(PROJECT_ROOT / "app.py"), "import-chat", str(file), "--persona", "aria", "--no-cards",
        "--data-dir", str(settings.data_dir), "--embedding-model", packaged_embedding_model_dir(),
    ]  # fmt: skip
    process = subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    chunks_at_kill = 0
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and process.poll() is None:
            chunks_at_kill = chunk_count(settings.db_path)
            if chunks_at_kill >= 5:
                os.kill(process.pid, signal.SIGKILL)  # no cleanup of any kind runs
                break
            time.sleep(0.01)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
    assert process.returncode == -signal.SIGKILL, "the import ended before it could be killed midway"

    again = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert again.returncode == 0, again.stderr
    assert "its import had been cut short and is finished now" in again.stdout

    from avatar.context import create_context

    ctx = create_context(settings)
    try:
        [conversation] = ctx.conversations.list("aria")
        messages = ctx.conversations.messages(conversation.id)
        assert len(messages) == 150
        sources, chunks = covered(ctx, conversation.id)
        assert sources == {m.id for m in messages}  # every message is in memory
        assert 5 <= chunks_at_kill < len(chunks)
        firsts = [ids[0] for ids in chunks]
        assert len(firsts) == len(set(firsts))  # no chunk twice
        assert sum(len(ids) for ids in chunks) < 150 + 6  # only the last chunk may repeat a few messages
    finally:
        ctx.close()


def chunk_count(db_path: Path) -> int:
    if not db_path.exists():
        return 0
    try:
        connection = sqlean.connect(f"file:{db_path}?mode=ro", uri=True, timeout=1)
        try:
            return connection.execute("SELECT count(*) FROM memories WHERE kind = 'chunk'").fetchone()[0]
        finally:
            connection.close()
    except sqlean.OperationalError:
        return 0  # not created or migrated yet
