"""Importing chat transcripts: SillyTavern JSONL and plain JSONL, their dates, bad files, and what lands in memory."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from app import main
from avatar.context import create_context
from avatar.memory.cli import import_chat, import_chats
from avatar.memory.exceptions import InvalidTranscript
from avatar.memory.importers import parse_timestamp, parse_transcript, read_transcript
from avatar.memory.ranking import as_utc
from avatar.memory.schemas import MemoryKind
from tests.memory.conftest import card, cards_json


def local(*parts: int) -> datetime:
    """A wall-clock time on this machine, in UTC (SillyTavern's humanized dates are local)."""
    return datetime(*parts).astimezone(timezone.utc)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=timezone.utc)


def write_jsonl(path: Path, records: list[object]) -> Path:
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in records) + "\n", encoding="utf-8")
    return path


def sillytavern(path: Path) -> Path:
    return write_jsonl(
        path,
        [
            {"user_name": "Sam", "character_name": "Aria", "create_date": "2024-03-03@19h05m12s", "chat_metadata": {}},
            {"name": "Aria", "is_user": False, "is_system": False, "send_date": "March 3, 2024 7:05pm",
             "mes": "Hey Sam! How was the trip?"},
            {"name": "Sam", "is_user": True, "is_system": False, "send_date": 1709492760000,
             "mes": "Great! I hiked up  Mount Teide in *Tenerife*."},
            {"name": "Aria", "is_user": False, "is_system": True, "send_date": "2024-03-03T19:06:30Z",
             "mes": "[hidden note]"},
            {"name": "Aria", "is_user": False, "send_date": "2024-03-03T19:07:00.000Z", "mes": "Wow, how high is it?"},
            {"name": "Sam", "is_user": True, "send_date": "March 3, 2024 7:08 PM", "mes": "3718 metres.\nMy knees hurt."},
            {"name": "Aria", "is_user": False, "send_date": "2024-03-03T19:09:00+00:00",
             "mes": "Rest them! Did Mia come?"},
            {"name": "Sam", "is_user": True, "send_date": "2024-03-03T19:10:00Z",
             "mes": "No, Mia stayed in Lisbon for her marine biology exam."},
            {"name": "Aria", "is_user": False, "send_date": "2024-03-03T19:11:00Z", "mes": "Good luck to her!"},
        ],
    )  # fmt: skip


def plain(path: Path) -> Path:
    return write_jsonl(
        path,
        [
            {"role": "user", "content": "I adopted a greyhound called Pixel.", "timestamp": "2023-11-02T08:00:00Z"},
            {"role": "assistant", "content": "Pixel! What a great name.", "timestamp": "2023-11-02T08:00:05Z"},
            {"role": "system", "content": "(scene change)", "timestamp": "2023-11-02T08:00:06Z"},
            {"role": "user", "content": "She sleeps 18 hours a day.", "timestamp": 1698912060000},
            {"role": "assistant", "content": "Greyhounds are champion nappers.", "timestamp": "1698912065000"},
        ],
    )


# -- dates -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-03-03T19:05:00Z", utc(2024, 3, 3, 19, 5)),
        ("2024-03-03T19:05:00.123+02:00", utc(2024, 3, 3, 17, 5, 0, 123000)),
        ("2024-03-03 19:05:00", local(2024, 3, 3, 19, 5)),
        (1709492700000, utc(2024, 3, 3, 19, 5)),
        ("1709492700000", utc(2024, 3, 3, 19, 5)),
        (1709492700, utc(2024, 3, 3, 19, 5)),  # seconds, when only seconds make sense
        ("March 3, 2024 7:05pm", local(2024, 3, 3, 19, 5)),
        ("March 3, 2024 7:05 PM", local(2024, 3, 3, 19, 5)),
        ("Mar 3, 2024 12:30am", local(2024, 3, 3, 0, 30)),
        ("December 31, 2023 12:01pm", local(2023, 12, 31, 12, 1)),
        ("2024-03-03 @19h 05m 12s 345ms", local(2024, 3, 3, 19, 5, 12, 345000)),
    ],
)
def test_timestamps_in_every_supported_shape(value, expected):
    assert parse_timestamp(value) == expected


@pytest.mark.parametrize("value", ["yesterday", "", None, True, "March 33, 2024 7:05pm", "13:05pm March", [1]])
def test_unusable_timestamps_are_refused(value):
    with pytest.raises(ValueError):
        parse_timestamp(value)


# -- parsing ---------------------------------------------------------------------------------------
def test_sillytavern_file_is_read_whole_with_exact_text(tmp_path):
    transcript = read_transcript(sillytavern(tmp_path / "chat.jsonl"))
    assert transcript.format == "sillytavern"
    assert (transcript.user_name, transcript.character_name) == ("Sam", "Aria")
    assert transcript.skipped == 1  # the hidden (is_system) message
    assert [t.role.value for t in transcript.turns] == [
        "assistant",
        "user",
        "assistant",
        "user",
        "assistant",
        "user",
        "assistant",
    ]
    assert transcript.turns[1].content == "Great! I hiked up  Mount Teide in *Tenerife*."
    assert transcript.turns[3].content == "3718 metres.\nMy knees hurt."
    assert transcript.turns[0].said_at == local(2024, 3, 3, 19, 5)
    assert transcript.turns[1].said_at == utc(2024, 3, 3, 19, 6)


def test_plain_jsonl_is_read_and_system_lines_left_out(tmp_path):
    transcript = read_transcript(plain(tmp_path / "chat.jsonl"))
    assert transcript.format == "jsonl" and transcript.skipped == 1
    assert transcript.turns[0].content == "I adopted a greyhound called Pixel."
    assert transcript.turns[2].said_at == utc(2023, 11, 2, 8, 1)


@pytest.mark.parametrize(
    ("lines", "problem"),
    [
        ([], "holds no messages"),
        (["{not json"], "line 1 is not JSON"),
        (["[1, 2]"], "line 1 is not a JSON object"),
        ([{"text": "hi"}], "neither a SillyTavern chat"),
        ([{"role": "user", "content": "hi"}], "line 1 has no 'timestamp'"),
        ([{"role": "wizard", "content": "hi", "timestamp": 1}], "role 'wizard'"),
        ([{"role": "user", "content": 5, "timestamp": 1}], "'content' is missing or not text"),
        ([{"role": "user", "content": "a", "timestamp": "soon"}], "line 1: 'timestamp'"),
        ([{"user_name": "Sam"}, {"name": "Sam", "is_user": True, "mes": "hi"}], "line 2 has no 'send_date'"),
        ([{"user_name": "Sam"}, {"name": "Sam", "is_user": "yes", "mes": "hi", "send_date": 1}], "'is_user'"),
        ([{"user_name": "Sam"}, {"is_user": True, "mes": "hi", "send_date": "March 3, 2024 25:00pm"}], "line 2"),
        ([{"user_name": "Sam"}, {"name": "Sam", "is_user": True, "send_date": 1}], "line 2 has no 'mes'"),
        ([{"user_name": "Sam"}], "no messages to import"),
    ],
)
def test_bad_transcripts_name_the_line_and_the_problem(lines, problem):
    text = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines)
    with pytest.raises(InvalidTranscript) as error:
        parse_transcript(text)
    assert problem in error.value.message and "\n" not in error.value.message


# -- importing -------------------------------------------------------------------------------------
def test_sillytavern_import_keeps_times_and_text_and_makes_chunks_and_cards(ctx, fake_ollama, tmp_path, capsys):
    fake_ollama.script_structured(cards_json(card("The user hiked Mount Teide in Tenerife.", type="event")))
    file = sillytavern(tmp_path / "chat.jsonl")
    assert import_chat(ctx, read_transcript(file), file, "aria") == 0
    out, err = capsys.readouterr()
    assert "Imported 7 messages (1 hidden or empty left out) from 2024-03-03 to 2024-03-03" in out
    assert "Memory: 2 chunks, 1 new cards" in out and err.startswith("Distilling memory cards with llama3.2:3b")

    [conversation] = ctx.conversations.list("aria")
    assert conversation.title.startswith("Imported 2024-03-03: Great! I hiked up Mount Teide")
    assert as_utc(conversation.created_at) == local(2024, 3, 3, 19, 5)
    messages = ctx.conversations.messages(conversation.id)
    assert [m.content for m in messages][3] == "3718 metres.\nMy knees hurt."
    assert [as_utc(m.created_at) for m in messages][1] == utc(2024, 3, 3, 19, 6)

    chunks = ctx.memory.list(kind=MemoryKind.chunk)
    covered = {i for c in chunks for i in c.source_message_ids}
    assert covered == {m.id for m in messages}  # the last messages too, though fewer than a chunk
    assert all(as_utc(c.created_at).date().isoformat() == "2024-03-03" for c in chunks)  # dated by the chat
    [teide] = ctx.memory.list(kind=MemoryKind.card)
    assert teide.text == "The user hiked Mount Teide in Tenerife." and as_utc(teide.created_at).year == 2024

    hits = ctx.memory.search("which volcano did I climb?", "aria", k=3)
    assert "Teide" in hits[0].memory.text
    assert any(s.content == "Great! I hiked up  Mount Teide in *Tenerife*." for h in hits for s in h.sources)


def test_plain_import_without_the_model_server_stores_chunks_only_and_says_so(ctx, fake_ollama, tmp_path, capsys):
    fake_ollama.stop()
    file = plain(tmp_path / "chat.jsonl")
    assert import_chat(ctx, read_transcript(file), file, "captain-vega") == 0
    out, err = capsys.readouterr()
    assert "Imported 4 messages (1 hidden or empty left out)" in out and "Memory: 1 chunks, 0 new cards" in out
    assert "not reachable" in err and "chunks only" in err and len(err.strip().splitlines()) == 1
    [chunk] = ctx.memory.list(persona_id="captain-vega")
    assert "Pixel" in chunk.text and len(chunk.source_message_ids) == 4
    assert fake_ollama.structured_requests() == []


def test_a_model_server_answering_with_errors_stores_chunks_only_and_says_so(
    settings, embedder, fake_ollama, tmp_path, capsys
):
    # An address that answers, but not as Ollama (/api/tags is 404 there): no card is asked for.
    wrong = create_context(settings.model_copy(update={"ollama_host": fake_ollama.url + "/v1"}), embedder=embedder)
    try:
        file = plain(tmp_path / "chat.jsonl")
        assert import_chat(wrong, read_transcript(file), file, "captain-vega") == 0
        err = capsys.readouterr().err
        assert "answered with an error" in err and "chunks only" in err and len(err.strip().splitlines()) == 1
        assert len(wrong.memory.list(persona_id="captain-vega")) == 1 and fake_ollama.structured_requests() == []
    finally:
        wrong.close()


def test_no_cards_flag_and_memory_off_persona(ctx, fake_ollama, tmp_path, settings, capsys):
    file = plain(tmp_path / "chat.jsonl")
    assert import_chat(ctx, read_transcript(file), file, "aria", cards=False) == 0
    assert "--no-cards" in capsys.readouterr().err and fake_ollama.structured_requests() == []

    (settings.user_personas_dir / "forgetful.yaml").write_text("name: Forgetful\nmemory_policy: 'off'\n")
    assert import_chat(ctx, read_transcript(file), file, "forgetful") == 0
    assert "Memory is off for Forgetful" in capsys.readouterr().out
    assert ctx.memory.list(persona_id="forgetful") == [] and len(ctx.conversations.list("forgetful")) == 1


def test_unknown_persona_and_a_failing_write_import_nothing(ctx, tmp_path, monkeypatch, capsys):
    file = plain(tmp_path / "chat.jsonl")
    assert import_chat(ctx, read_transcript(file), file, "nobody") == 2
    err = capsys.readouterr().err
    assert "there is no persona 'nobody'" in err and "aria" in err

    def broken(texts):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(ctx.memory.embedder, "embed_documents", broken)
    assert import_chat(ctx, read_transcript(file), file, "aria", cards=False) == 1
    err = capsys.readouterr().err
    assert "disk on fire" in err and "Nothing was imported" in err and len(err.strip().splitlines()) == 1
    assert ctx.conversations.list() == [] and ctx.memory.list() == []


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ('{"role": "user", "content": "hi", "timestamp": "2024-01-01"}\n{oops\n', "line 2 is not JSON"),
        ("", "holds no messages"),
        (None, "there is no such file"),
    ],
)
def test_the_command_refuses_a_bad_file_with_one_line_and_exit_2(tmp_path, settings, capsys, content, problem):
    file = tmp_path / "chat.jsonl"
    if content is not None:
        file.write_text(content)
    code = main(["import-chat", str(file), "--persona", "aria", "--data-dir", str(settings.data_dir)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and problem in err and len(err.splitlines()) == 1 and err.startswith(f"Cannot import {file}")
    assert not settings.db_path.exists()  # refused before the database was even opened


def test_several_files_import_as_one_conversation_each(tmp_path, settings, capsys):
    first, second = sillytavern(tmp_path / "a.jsonl"), plain(tmp_path / "b.jsonl")
    code = main(
        [
            "import-chat",
            str(first),
            str(second),
            "--persona",
            "aria",
            "--no-cards",
            "--data-dir",
            str(settings.data_dir),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert f"{first}: Imported 7 messages" in out and f"{second}: Imported 4 messages" in out
    assert f"{second}: Memory: 1 chunks" in out


def test_several_files_are_all_or_nothing(ctx, tmp_path, monkeypatch, capsys):
    files = [sillytavern(tmp_path / "a.jsonl"), plain(tmp_path / "b.jsonl")]
    calls = []
    remember = ctx.memory.remember

    async def fails_the_second_time(*args, **kwargs):
        calls.append(args)
        if len(calls) == 2:
            raise RuntimeError("out of disk")
        return await remember(*args, **kwargs)

    monkeypatch.setattr(ctx.memory, "remember", fails_the_second_time)
    assert import_chats(ctx, [(f, read_transcript(f)) for f in files], "aria", cards=False) == 1
    assert f"Cannot import {files[1]}: RuntimeError: out of disk. Nothing was imported." in capsys.readouterr().err
    assert ctx.conversations.list() == [] and ctx.memory.list() == []
