"""`memories search`: the JSON it prints (through the real command line), query files, time words, and errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from app import main
from avatar.core.settings import PROJECT_ROOT
from avatar.memory.cli import import_chat, read_queries, search_memories
from avatar.memory.importers import read_transcript
from tests.conftest import packaged_embedding_model_dir


def session(path: Path, day: str, exchanges: list[tuple[str, str]]) -> Path:
    """A plain JSONL transcript of one session on `day`, a minute per message."""
    lines = []
    for index, (user, reply) in enumerate(exchanges):
        lines.append({"role": "user", "content": user, "timestamp": f"{day}T10:{2 * index:02d}:00Z"})
        lines.append({"role": "assistant", "content": reply, "timestamp": f"{day}T10:{2 * index + 1:02d}:00Z"})
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    return path


MOUNTAINS = [
    ("We finally went on our trip to the Alps.", "How were the mountains?"),
    ("Freezing, but the glacier hike was unforgettable.", "I'd love to see a glacier."),
    ("We stayed in a tiny hut in Zermatt.", "That sounds magical."),
]
BEACH = [
    ("We just got back from our trip to the seaside in Algarve.", "Was the sea warm?"),
    ("Warm enough! I learned to surf on the second day.", "A surfer now!"),
    ("I fell off the board about a hundred times.", "That's how everyone learns."),
]
LAPTOP = [
    ("My laptop died, so I bought a used ThinkPad for 300 euros.", "Good deal!"),
    ("It came with a scratched lid.", "Character!"),
    ("I named it Rusty.", "Perfect name."),
]


@pytest.fixture
def history(ctx, tmp_path, capsys):
    """Three sessions with Aria on three dates, imported as a user would import them."""
    for name, day, exchanges in (
        ("alps", "2024-02-05", MOUNTAINS),
        ("beach", "2024-03-12", BEACH),
        ("laptop", "2024-03-14", LAPTOP),
    ):
        file = session(tmp_path / f"{name}.jsonl", day, exchanges)
        assert import_chat(ctx, read_transcript(file), file, "aria", cards=False) == 0
    capsys.readouterr()
    return ctx


def run_search(ctx, capsys, queries, **options) -> list[dict]:
    assert search_memories(ctx, "aria", queries, as_json=True, **options) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_search_json_through_the_command_line(history, settings, tmp_path):
    queries = tmp_path / "queries.txt"
    queries.write_text('where did I learn to surf?\n{"query": "what computer did I buy?"}\n\n"ThinkPad name"\n')
    env = {**os.environ, "AVATAR_EMBEDDING_MODEL": "/nonexistent"}  # the flag must win over the environment
    result = subprocess.run(
        [
            sys.executable, str(PROJECT_ROOT / "app.py"), "memories", "search", "--persona", "aria",
            "which mountains did we visit?", "--queries", str(queries), "--k", "3", "--json",
            "--data-dir", str(settings.data_dir), "--embedding-model", packaged_embedding_model_dir(),
        ],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["query"] for line in lines] == [
        "which mountains did we visit?",
        "where did I learn to surf?",
        "what computer did I buy?",
        "ThinkPad name",
    ]
    for line in lines:
        assert set(line) == {"query", "hits"} and 1 <= len(line["hits"]) <= 3
        for hit in line["hits"]:
            assert set(hit) == {"text", "score", "kind", "sources"}
            assert hit["kind"] in ("card", "chunk") and isinstance(hit["score"], float)
            for source in hit["sources"]:
                assert set(source) == {"id", "text", "timestamp"}
                assert datetime.fromisoformat(source["timestamp"]).tzinfo is not None
    expected = ("Alps", "surf", "ThinkPad", "Rusty")
    for line, word in zip(lines, expected):
        assert word in line["hits"][0]["text"], (line["query"], line["hits"][0]["text"])
    # The sources are the original messages, exact text and original time.
    surf = next(s for s in lines[1]["hits"][0]["sources"] if "surf" in s["text"])
    assert surf == {
        "id": surf["id"],
        "text": "Warm enough! I learned to surf on the second day.",
        "timestamp": "2024-03-12T10:02:00+00:00",
    }
    assert "Loading weights" not in result.stderr


def test_time_words_favour_what_was_said_then(history, capsys):
    asked = datetime(2024, 3, 18, 9, 0, tzinfo=timezone.utc)  # a Monday: "last week" is 11-17 March
    [last_week, last_month, plain] = run_search(
        history,
        capsys,
        [("What trip did I tell you about last week?", asked), ("What trip did I mention last month?", asked),
         ("What trip did I tell you about?", None)],
        k=3,
    )  # fmt: skip
    assert "Algarve" in last_week["hits"][0]["text"]
    assert "Alps" in last_month["hits"][0]["text"]
    assert {"Alps", "Algarve"} <= {w for h in plain["hits"] for w in ("Alps", "Algarve") if w in h["text"]}


def test_time_words_without_a_date_are_read_from_the_end_of_the_history(history, capsys):
    # Asked today, long after the history ends: "two days before the last chat" still finds the beach.
    [hit] = run_search(history, capsys, [("what did we talk about 2 days ago", None)], k=1)
    assert "Algarve" in hit["hits"][0]["text"]


def test_query_files_plain_and_jsonl_with_dates(tmp_path):
    file = tmp_path / "q.jsonl"
    file.write_text(
        'plain question\n{"query": "dated", "question_date": "2023/05/30 (Tue) 23:40"}\n'
        '{"query": "iso", "date": "2024-03-18T09:00:00Z"}\n"a JSON string"\n\n  spaced  \n'
    )
    queries = read_queries(file)
    assert [q for q, _ in queries] == ["plain question", "dated", "iso", "a JSON string", "spaced"]
    assert queries[0][1] is None and queries[2][1] == datetime(2024, 3, 18, 9, tzinfo=timezone.utc)
    assert queries[1][1].date().isoformat() == "2023-05-30"

    (tmp_path / "bad.jsonl").write_text('{"question": "no query field"}\n')
    with pytest.raises(ValueError, match='line 1 has no "query"'):
        read_queries(tmp_path / "bad.jsonl")


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["memories", "search", "--persona", "aria"], "Give a query, or --queries FILE."),
        (["memories", "search", "--persona", "aria", "  "], "The query is empty"),
        (["memories", "search", "--persona", "aria", "--queries", "/nonexistent.txt"], "there is no file"),
        (["memories", "search", "--persona", "aria", "x", "--k", "0"], "--k must be between"),
    ],
)
def test_search_refuses_bad_input_with_one_line_and_exit_2(settings, capsys, args, problem):
    code = main([*args, "--data-dir", str(settings.data_dir)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and problem in err and len(err.splitlines()) == 1


def test_unknown_persona_and_missing_model(ctx, capsys, monkeypatch):
    assert search_memories(ctx, "nobody", [("x", None)]) == 2
    assert "no persona 'nobody'" in capsys.readouterr().err

    from avatar.memory.exceptions import EmbeddingModelUnavailable

    def unavailable():
        raise EmbeddingModelUnavailable("The embedding model folder /x does not exist.")

    monkeypatch.setattr(ctx.memory.embedder, "load", unavailable)
    assert search_memories(ctx, "aria", [("x", None)]) == 1  # never a keyword-only answer in disguise
    assert capsys.readouterr().err.strip() == "The embedding model folder /x does not exist."


def test_human_readable_output(history, capsys):
    assert search_memories(history, "aria", [("surfing", None)], k=2) == 0
    out = capsys.readouterr().out
    assert out.startswith("# surfing\n  1. [chunk, ") and "user: Warm enough! I learned to surf" in out


@pytest.mark.parametrize(
    ("query", "start", "end", "rest"),
    [
        ("what did I do yesterday?", "2024-03-19", "2024-03-20", "what did I do ?"),
        ("What did we talk about last week", "2024-03-11", "2024-03-18", "What did we talk about"),
        ("a couple of weeks ago I mentioned a book", "2024-03-03", "2024-03-10", "I mentioned a book"),
        ("in the past month what did I buy", "2024-02-19", "2024-03-21", "what did I buy"),
        ("last Friday dinner", "2024-03-15", "2024-03-16", "dinner"),
        ("trip in March 2023", "2023-03-01", "2023-04-01", "trip"),
        ("what happened on march 3rd", "2024-03-03", "2024-03-04", "what happened"),
        ("back in December", "2023-12-01", "2024-01-01", ""),
        ("last weekend plans", "2024-03-16", "2024-03-18", "plans"),
    ],
)
def test_time_words_become_a_window(query, start, end, rest):
    from avatar.memory.timeframe import find_timeframe

    frame = find_timeframe(query, datetime(2024, 3, 20, 15, tzinfo=timezone.utc))  # a Wednesday
    assert (frame.start.date().isoformat(), frame.end.date().isoformat(), frame.rest) == (start, end, rest)


@pytest.mark.parametrize("query", ["I may visit my aunt", "what is my dog's name?", "march on", "a weekly plan"])
def test_no_time_words_no_window(query):
    from avatar.memory.timeframe import find_timeframe

    assert find_timeframe(query, datetime(2024, 3, 20, tzinfo=timezone.utc)) is None
