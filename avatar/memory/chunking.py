"""Cutting a conversation into raw memory chunks: windows of 3-6 consecutive messages, each cut once.

A window closes on an assistant message when one more exchange would not fit (or the text is
already long), so a question and its answer stay together; it closes at `max_turns` whatever the
role. What does not fill a window stays pending for the next call, which is also what makes
chunking idempotent: the caller keeps a watermark (the last message chunked) and only ever passes
the messages after it. The newest message is held back while it is an assistant reply, because
Regenerate may still replace it; `final=True` (the conversation is over) flushes a last window of
at least `min_turns` messages.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

MIN_TURNS = 3
MAX_TURNS = 6
# ~250-300 tokens: what MiniLM (256) embeds whole and well inside bge-small's 512.
MAX_CHARS = 1200


@dataclass(frozen=True)
class TurnText:
    id: str
    role: str  # "user" | "assistant"
    content: str
    speaker: str | None = None  # in a scene: the name of who said it (else the user's or the persona's label)


@dataclass(frozen=True)
class PlannedChunk:
    message_ids: list[str]
    text: str


@dataclass(frozen=True)
class ChunkPlan:
    chunks: list[PlannedChunk]
    # The newest message now consumed (the new watermark), or None when nothing was cut.
    last_message_id: str | None


def render(turns: Sequence[TurnText], user_label: str, persona_label: str) -> str:
    """The chunk's text: one "Name: words" line per message."""
    lines = []
    for turn in turns:
        label = turn.speaker or (user_label if turn.role == "user" else persona_label)
        lines.append(f"{label}: {' '.join(turn.content.split())}")
    return "\n".join(lines)


def plan_chunks(
    pending: Sequence[TurnText],
    *,
    user_label: str = "User",
    persona_label: str = "Character",
    min_turns: int = MIN_TURNS,
    max_turns: int = MAX_TURNS,
    max_chars: int = MAX_CHARS,
    final: bool = False,
) -> ChunkPlan:
    """The windows to store from `pending` (the messages after the watermark, oldest first)."""
    if not 1 <= min_turns <= max_turns:
        raise ValueError("need 1 <= min_turns <= max_turns")
    usable = [turn for turn in pending if turn.content.strip()]
    if usable and not final and usable[-1].role == "assistant":
        usable = usable[:-1]

    chunks: list[PlannedChunk] = []
    window: list[TurnText] = []
    chars = 0
    for turn in usable:
        window.append(turn)
        chars += len(turn.content)
        full = len(window) >= max_turns
        ends_exchange = turn.role == "assistant" and len(window) >= min_turns
        no_room = len(window) + 2 > max_turns or chars >= max_chars
        if full or (ends_exchange and no_room):
            chunks.append(_chunk(window, user_label, persona_label))
            window, chars = [], 0
    if final and len(window) >= min_turns:
        chunks.append(_chunk(window, user_label, persona_label))
    last = chunks[-1].message_ids[-1] if chunks else None
    return ChunkPlan(chunks=chunks, last_message_id=last)


def _chunk(window: list[TurnText], user_label: str, persona_label: str) -> PlannedChunk:
    return PlannedChunk(message_ids=[t.id for t in window], text=render(window, user_label, persona_label))
