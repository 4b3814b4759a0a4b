"""Memory subcommands: `import-chat FILE --persona ID` and `memories search --persona ID "query"`."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from avatar.core.errors import AvatarError
from avatar.core.settings import Settings

if TYPE_CHECKING:
    from avatar.context import AppContext
    from avatar.memory.importers import ImportReport, Transcript
    from avatar.memory.schemas import RecalledMemory

# Fields of a --queries JSONL line that say when the question is asked ("last week" is relative to it).
DATE_FIELDS = ("date", "question_date", "now", "asked_at", "timestamp")
# What a prompt can afford of earlier conversation, in messages: the default budget of `memories search`.
DEFAULT_TURNS = 45


def add_parsers(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    importer = commands.add_parser(
        "import-chat",
        parents=[common],
        help="import a chat transcript (SillyTavern .jsonl, or JSONL of role/content/timestamp) into a persona",
        description="Import a chat transcript as a new conversation with the persona (original times kept) and "
        "turn it into memories. SillyTavern chat files (.jsonl) and a plain JSONL with one "
        '{"role": "user"|"assistant", "content": ..., "timestamp": ...} per line are understood. Memory cards '
        "need the model server; without it the chat is imported as memory chunks only. Several files: one "
        "conversation each, all or nothing. The same chat imported again is recognised (by its messages): an "
        "import that was cut short is finished, a complete one is left as it is.",
    )
    importer.add_argument(
        "files", type=Path, nargs="+", metavar="FILE", help="the transcript (.jsonl); several: one conversation each"
    )
    importer.add_argument("--persona", required=True, metavar="ID", help="the persona the chat was with")
    importer.add_argument("--no-cards", action="store_true", help="do not distill memory cards (chunks only)")
    importer.set_defaults(run=import_chat_command)

    memories = commands.add_parser("memories", help="look into long-term memory (see: memories search --help)")
    actions = memories.add_subparsers(dest="memories_command", metavar="ACTION", required=True)
    search = actions.add_parser(
        "search",
        parents=[common],
        help="search a persona's memories",
        description="Print the memories a persona would find for each query, best first, each with the lines "
        "of it that matched and the messages they are, up to a budget of source messages (--turns) as a "
        'prompt would hold them. --json: one line per query: {"query", "hits": [{"text", "score", "kind", '
        '"sources": [{"id", "text", "timestamp"}]}]}.',
    )
    search.add_argument("query", nargs="?", metavar="QUERY", help="what to look for")
    search.add_argument("--persona", required=True, metavar="ID", help="whose memories (plus those about you)")
    search.add_argument(
        "--queries",
        type=Path,
        metavar="FILE",
        help='more queries: one per line, or JSONL with a "query" field (and optionally a "date" it is asked on)',
    )
    search.add_argument(
        "--turns",
        type=int,
        default=DEFAULT_TURNS,
        help=f"source messages per query, in all hits (default {DEFAULT_TURNS}; 0: every hit whole)",
    )
    search.add_argument("--k", type=int, default=None, help="at most this many memories per query (default: no limit)")
    search.add_argument("--json", action="store_true", help="one JSON line per query")
    search.set_defaults(run=search_command)


def _fail(message: str, code: int = 2) -> int:
    print(message, file=sys.stderr)
    return code


def _context(settings: Settings) -> AppContext:
    from avatar.context import create_context

    # Before transformers is imported: its "Loading weights" bar is noise on a command line.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

    return create_context(settings)


def _load_embedder(ctx: AppContext) -> str | None:
    """None once the embedding model is loaded; else why it cannot be (one line)."""
    # The app embeds on one thread to leave the cores to the chat model; a command has them to itself.
    ctx.memory.embedder.threads = max(1, os.cpu_count() or 1)
    try:
        ctx.memory.embedder.load()
    except AvatarError as error:
        return error.message
    return None


# -- import-chat ------------------------------------------------------------------------------------
def import_chat_command(settings: Settings, args: argparse.Namespace) -> int:
    from avatar.memory.importers import read_transcript

    transcripts = []
    for file in args.files:
        try:
            transcripts.append((file, read_transcript(file)))  # every file, before anything heavy or written
        except AvatarError as error:
            return _fail(f"Cannot import {file}: {error.message}")
    ctx = _context(settings)
    try:
        return import_chats(ctx, transcripts, args.persona, cards=not args.no_cards)
    finally:
        ctx.close()


def import_chat(ctx: AppContext, transcript: Transcript, file: Path, persona_id: str, *, cards: bool = True) -> int:
    return import_chats(ctx, [(file, transcript)], persona_id, cards=cards)


def import_chats(
    ctx: AppContext, transcripts: list[tuple[Path, Transcript]], persona_id: str, *, cards: bool = True
) -> int:
    """Import read transcripts, one conversation each, all or nothing; print a summary; return the exit code."""
    from avatar.memory.importers import import_transcript

    first = transcripts[0][0]
    try:
        persona = ctx.personas.get(persona_id)
    except AvatarError:
        known = ", ".join(p.id for p in ctx.personas.list())
        return _fail(f"Cannot import {first}: there is no persona {persona_id!r} (known: {known}).")
    problem = _load_embedder(ctx)
    if problem is not None:
        return _fail(f"Cannot import {first}: {problem}", 1)
    distill, note = _cards_decision(ctx, persona.memory_policy, cards)

    reports: list[tuple[Path, ImportReport]] = []
    for file, transcript in transcripts:
        try:
            report = asyncio.run(
                import_transcript(
                    transcript,
                    persona,
                    ctx.conversations,
                    ctx.memory,
                    user_name=ctx.profile.user_name(),
                    distill=distill,
                    source=str(file),
                )
            )
        except Exception as error:  # noqa: BLE001 (one line, no traceback: everything is rolled back)
            for _, done in reports:
                if done.fresh:
                    ctx.memory.delete_all(conversation_id=done.conversation_id)
                    ctx.conversations.delete(done.conversation_id)
            reason = error.message if isinstance(error, AvatarError) else f"{type(error).__name__}: {error}."
            return _fail(f"Cannot import {file}: {reason} Nothing was imported.", 1)
        reports.append((file, report))

    for file, report in reports:
        prefix = f"{file}: " if len(reports) > 1 else ""
        written = report.memory
        skipped = f" ({report.skipped} hidden or empty left out)" if report.skipped else ""
        if not report.fresh:
            done = "its import had been cut short and is finished now" if report.resumed else "nothing to add"
            print(f"{prefix}Already imported as a conversation with {persona.name} ({report.conversation_id}): {done}.")
            if report.resumed and persona.memory_policy != "off":
                print(f"{prefix}Memory: {written.chunks_added} more chunks, {written.cards_added} new cards.")
            continue
        print(
            f"{prefix}Imported {report.messages} messages{skipped} from {report.first_at:%Y-%m-%d} to "
            f"{report.last_at:%Y-%m-%d} as a conversation with {persona.name} ({report.conversation_id})."
        )
        if persona.memory_policy != "off":
            print(
                f"{prefix}Memory: {written.chunks_added} chunks, {written.cards_added} new cards, "
                f"{written.cards_updated} updated cards."
            )
    _finish_earlier_imports(ctx, distill)
    if persona.memory_policy == "off":
        print(f"Memory is off for {persona.name}, so nothing was added to memory.")
    if note:
        print(note, file=sys.stderr)
    return 0


def _finish_earlier_imports(ctx: AppContext, distill: bool) -> None:
    """Finish the memories of imports cut short before (the process was killed), whichever files they were."""
    from avatar.memory import import_log
    from avatar.memory.importers import finish_import

    with ctx.engine.connect() as connection:
        pending = import_log.unfinished(connection)
    for entry in pending:
        try:
            persona = ctx.personas.get(entry.persona_id)
        except AvatarError:
            continue  # its persona is gone; the conversation stays as it is
        written = asyncio.run(finish_import(entry, persona, ctx.memory, distill=distill))
        print(
            f"Also finished an earlier import that had been cut short ({entry.source or entry.conversation_id}): "
            f"{written.chunks_added} more chunks."
        )


def _cards_decision(ctx: AppContext, policy: str, cards: bool) -> tuple[bool, str]:
    """Whether to distill memory cards, and what to tell the user when not."""
    if not cards:
        return False, "Memory cards skipped (--no-cards): imported as conversation chunks only."
    if policy == "off":
        return False, ""
    if ctx.memory.distiller is None:
        return False, "Memory cards need a model server: imported as conversation chunks only."
    health = asyncio.run(ctx.provider.health())
    if not health.reachable:
        where = ctx.settings.openai_base_url if ctx.settings.provider == "openai" else ctx.settings.ollama_host
        return False, (
            f"The model server at {where} is not reachable, so no memory cards were "
            "distilled: imported as conversation chunks only."
        )
    if not health.listed:
        return False, (
            f"The model server answered with an error ({health.detail}), so no memory cards were distilled: "
            "imported as conversation chunks only."
        )
    if not health.model_available:
        return False, (
            f"The model {health.model} is not on the model server, so no memory cards were distilled: "
            "imported as conversation chunks only."
        )
    print(f"Distilling memory cards with {health.model}; a long chat takes a while…", file=sys.stderr)
    return True, ""


# -- memories search -----------------------------------------------------------------------------
def read_queries(path: Path) -> list[tuple[str, datetime | None]]:
    """Queries from a file: one per line, or JSONL lines with "query" (and an optional date)."""
    from avatar.memory.importers import parse_timestamp

    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ValueError(f"there is no file {path}.") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"{path} cannot be read ({getattr(error, 'strerror', None) or error}).") from None
    queries: list[tuple[str, datetime | None]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        if line[0] in '{"':
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                record = line  # a query that happens to start with a quote
            if isinstance(record, dict):
                query = record.get("query")
                if not isinstance(query, str) or not query.strip():
                    raise ValueError(f'{path} line {number} has no "query".')
                date = next((record[f] for f in DATE_FIELDS if record.get(f) not in (None, "")), None)
                try:
                    queries.append((query, parse_timestamp(date) if date is not None else None))
                except ValueError as error:
                    raise ValueError(f"{path} line {number}: the date {error}.") from None
                continue
            if isinstance(record, str):
                line = record
        queries.append((line, None))
    return queries


def hit_json(recalled: RecalledMemory) -> dict[str, Any]:
    from avatar.memory.ranking import as_utc

    return {
        "text": recalled.text,
        "score": round(recalled.score, 6),
        "kind": recalled.memory.kind.value,
        "sources": [
            {"id": s.id, "text": s.content, "timestamp": as_utc(s.created_at).isoformat()} for s in recalled.sources
        ],
    }


def search_command(settings: Settings, args: argparse.Namespace) -> int:
    queries: list[tuple[str, datetime | None]] = []
    if args.query is not None:
        if not args.query.strip():
            return _fail("The query is empty: say what to look for.")
        queries.append((args.query, None))
    if args.queries is not None:
        try:
            queries += read_queries(args.queries)
        except ValueError as error:
            return _fail(f"Cannot read the queries: {error}")
    if not queries:
        return _fail("Give a query, or --queries FILE.")
    if args.k is not None and not 1 <= args.k <= 1000:
        return _fail("--k must be between 1 and 1000.")
    if not 0 <= args.turns <= 10000:
        return _fail("--turns must be between 0 and 10000.")
    ctx = _context(settings)
    try:
        return search_memories(ctx, args.persona, queries, k=args.k, turns=args.turns or None, as_json=args.json)
    finally:
        ctx.close()


def search_memories(
    ctx: AppContext,
    persona_id: str,
    queries: list[tuple[str, datetime | None]],
    *,
    k: int | None = 10,
    turns: int | None = DEFAULT_TURNS,
    as_json: bool = False,
) -> int:
    try:
        ctx.personas.get(persona_id)
    except AvatarError:
        known = ", ".join(p.id for p in ctx.personas.list())
        return _fail(f"There is no persona {persona_id!r} (known: {known}).")
    problem = _load_embedder(ctx)
    if problem is not None:
        return _fail(problem, 1)
    for query, asked_at in queries:
        hits = ctx.memory.search(query, persona_id, k=k, turn_budget=turns, now=asked_at, wait_for_model=True)
        if as_json:
            print(json.dumps({"query": query, "hits": [hit_json(h) for h in hits]}, ensure_ascii=False), flush=True)
            continue
        print(f"# {query}")
        if not hits:
            print("  (nothing found)")
        for rank, hit in enumerate(hits, start=1):
            text = " ".join(hit.text.split())
            print(f"{rank:>3}. [{hit.memory.kind.value}, {hit.score:.4f}] {text[:200]}")
            for source in hit.sources:
                print(
                    f"       {source.created_at:%Y-%m-%d %H:%M} {source.role}: {' '.join(source.content.split())[:160]}"
                )
        print()
    return 0
