"""Recalled memories (and the character's mood) as notes inside the history, so each turn's prompt
extends the previous one.

A turn's note (the memories recalled for it, quoted as data) is a system message just before the
user's message, and is stored with that message (`recalled_memory_ids`). Later turns send the same
note at the same place, so the model server finds the whole earlier conversation in its cache; a
turn's own note holds only what the kept window does not already show. What the user edits or
deletes in the Memory tab changes (or leaves) the notes that showed it: it is read anew each turn.
The mood line works the same way (`state_note`): sent with a message when it differs from the last
one the window shows, and left in place after, so the newest line in the window is the current mood.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from avatar.conversations.schemas import MessageOut
from avatar.llm.prompt import HistoryItem
from avatar.memory.line_vectors import excerpt, parse_note_ref
from avatar.memory.prompt import format_memories
from avatar.memory.schemas import RecalledMemory
from avatar.memory.service import MemoryService


@dataclass
class NotedHistory:
    """The conversation as prompt items (empty messages left out), and the memory ids each item's note shows."""

    items: list[HistoryItem]
    note_ids: list[list[str]]
    message_ids: list[str]
    state_notes: list[str]

    def shown_from(self, start: int) -> set[str]:
        """The memories the notes of the kept window show, from item `start` up to (not including) the newest."""
        return {memory_id for ids in self.note_ids[start:-1] for memory_id in ids}

    def state_from(self, start: int) -> str:
        """The newest mood line the kept window shows (before the newest message), or ""."""
        return next((note for note in reversed(self.state_notes[start:-1]) if note), "")


def noted_history(messages: Sequence[MessageOut], memory: MemoryService | None, user_name: str) -> NotedHistory:
    """The history with each message's stored note; `memory` None (memory off): no memories in them."""
    kept = [m for m in messages if m.content.strip()]
    items: list[HistoryItem] = []
    note_ids: list[list[str]] = []
    for message, shown in zip(kept, shown_in_notes([m.recalled_memory_ids for m in kept], memory)):
        note = join_notes(format_memories(shown, user_name), message.state_note or "")
        items.append(HistoryItem(message.role.value, message.content, note))
        note_ids.append([r.memory.id for r in shown])
    return NotedHistory(items, note_ids, [m.id for m in kept], [m.state_note or "" for m in kept])


def shown_in_notes(notes: Sequence[Sequence[str]], memory: MemoryService | None) -> list[list[RecalledMemory]]:
    """For each note (its refs, "id" or "id#2,3"), the memories it showed with the lines of each it showed,
    as it showed them (recall gives the lines that matched); `memory` None (memory off): none."""
    parsed = [[parse_note_ref(ref) for ref in refs] for refs in notes]
    wanted = [i for refs in parsed for i, _ in refs] if memory is not None else []
    found = {m.id: m for m in memory.by_ids(wanted)} if memory is not None and wanted else {}
    return [
        [
            RecalledMemory(memory=found[i], score=0.0, lines=lines, excerpt=excerpt(found[i].text, lines))
            for i, lines in refs
            if i in found
        ]
        for refs in parsed
    ]


def join_notes(*parts: str) -> str:
    return "\n\n".join(part for part in parts if part)


def fresh_recall(recalled: Sequence[RecalledMemory], shown: set[str]) -> list[RecalledMemory]:
    """What this turn's note needs: the recalled memories the kept window does not show yet."""
    return [r for r in recalled if r.memory.id not in shown]
