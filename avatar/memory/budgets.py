"""What a recalled line costs: source turns (`memories search`, the benchmarks) or prompt tokens (chat)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from avatar.llm.tokens import estimate_tokens
from avatar.memory.line_vectors import text_lines
from avatar.memory.moments import Hit, ScoredLine

# A memory line of the prompt block starts "- [2026-03-01, excerpt, with you] " before its quoted text.
LINE_PREFIX_TOKENS = 12


@dataclass(frozen=True)
class Row:
    """What recall needs of a candidate memory before it is chosen."""

    kind: str
    text: str
    source_ids: str  # JSON list
    importance: float
    updated_at: datetime
    pinned: bool
    scope: str = "persona"

    def sources(self) -> list[str]:
        return json.loads(self.source_ids)


def line_text(row: Row, line: ScoredLine) -> str:
    if line.whole:
        return row.text
    lines = text_lines(row.text)
    return lines[line.number] if line.number < len(lines) else ""


@dataclass
class TurnCost:
    """A line costs the source messages it brings that no chosen line brought yet (a memory without lines:
    all its sources, or the one its line was narrowed to)."""

    rows: Mapping[int, Row]
    counted: set[str] = field(default_factory=set)

    def messages(self, line: ScoredLine) -> list[str]:
        if line.message_id is not None:
            return [line.message_id]
        return self.rows[line.key].sources() if line.whole else []

    def __call__(self, line: ScoredLine, hit: Hit | None) -> float:
        return float(sum(1 for message in set(self.messages(line)) if message not in self.counted))

    def take(self, line: ScoredLine) -> None:
        self.counted.update(self.messages(line))


@dataclass
class TokenCost:
    """A line costs its tokens in the prompt's memory block (plus the line's date and kind for a new hit)."""

    rows: Mapping[int, Row]

    def __call__(self, line: ScoredLine, hit: Hit | None) -> float:
        words = estimate_tokens(line_text(self.rows[line.key], line)) + 1
        return words + (LINE_PREFIX_TOKENS if hit is None else 1)

    def take(self, line: ScoredLine) -> None:
        pass
