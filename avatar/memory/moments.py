"""Moments: the lines of the candidate memories scored against a query, and picked best first within a budget.

A chunk is several messages; the one that answers a question is usually one of them, and averaging it
with the others hides it. So each line (message) is scored on its own as well as through its memory:

    score = similarity(query, line) + MEMORY_WEIGHT * similarity(query, memory)
            + KEYWORD_WEIGHT / keyword rank of the memory + TIME_WEIGHT if the memory lies in a time the query names

(a memory of one line, such as a card, is its own line). Recall then spends the prompt's budget line by
line, best first: a line of a memory already chosen joins it, so a hit is a memory with the lines of it
that matched, and its sources are those lines' messages. Measured on bench/data/memory_eval.json (45
source turns, MiniLM): whole chunks ranked by fused rank 0.75, lines scored this way 0.91; the weights
were taken from that set and checked on bench/data/memory_sessions.json (bench/bench_memory_eval.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

import numpy as np

from avatar.memory.line_vectors import StoredLines
from avatar.memory.ranking import Candidate

MEMORY_WEIGHT = 0.5
KEYWORD_WEIGHT = 0.1
TIME_WEIGHT = 0.25
# The second pass: names in the best lines lead to the other lines that mention them.
ENTITY_LINES = 8
ENTITY_WEIGHT = 0.15
MAX_ENTITIES = 8
# A capitalised word that does not start a sentence: a name of a person, a place, a pet, a title.
_NAME = re.compile(r"(?<![.!?:]\s)(?<![.!?:]\s\s)(?<!^)\b([A-Z][\w'-]*[a-z][\w'-]*)\b")


@dataclass(frozen=True)
class ScoredLine:
    key: int  # the memory
    number: int  # its line, 0-based; 0 for a memory without stored lines (it counts as one line)
    message_id: str | None  # the message this line is, when known
    similarity: float | None  # cosine similarity of the line to the query
    score: float
    whole: bool = False  # the memory has no stored lines: this "line" is all of it
    linked: bool = False  # it mentions a name the best lines mention (the second pass)


@dataclass
class Hit:
    """One memory in a recall: the lines of it chosen, best first, and what they cost."""

    key: int
    lines: list[ScoredLine] = field(default_factory=list)
    cost: float = 0.0

    @property
    def best(self) -> ScoredLine:
        return self.lines[0]


def score_lines(
    query: np.ndarray | None,
    candidates: Mapping[int, Candidate],
    stored: Mapping[int, StoredLines],
    weight: Callable[[int], float] = lambda key: 1.0,
) -> list[ScoredLine]:
    """Every line of every candidate, best first. `query`: None when only words and times were searched
    (then a memory's lines share its score and come in order). `weight`: a multiplier per memory key
    (recall's importance and recency boost)."""
    scored: list[ScoredLine] = []
    for key, candidate in candidates.items():
        bonus = MEMORY_WEIGHT * (candidate.similarity or 0.0)
        if candidate.keyword_rank is not None:
            bonus += KEYWORD_WEIGHT / candidate.keyword_rank
        if candidate.time_rank is not None:
            bonus += TIME_WEIGHT
        factor = weight(key)
        lines = stored.get(key)
        if lines is None:
            similarity = candidate.similarity
            scored.append(ScoredLine(key, 0, None, similarity, factor * ((similarity or 0.0) + bonus), whole=True))
            continue
        similarities = lines.vectors @ query if query is not None else np.zeros(len(lines.numbers), dtype=np.float32)
        for number, message_id, similarity in zip(lines.numbers, lines.message_ids, similarities.tolist()):
            line_similarity = similarity if query is not None else None
            scored.append(ScoredLine(key, number, message_id, line_similarity, factor * (similarity + bonus)))
    # Ties (no query vector): the memory's lines in their own order.
    scored.sort(key=lambda line: (-line.score, line.key, line.number))
    return scored


class Cost(Protocol):
    def __call__(self, line: ScoredLine, hit: Hit | None) -> float:
        """What adding `line` costs (hit: its memory's hit so far, None for a new one)."""
        ...

    def take(self, line: ScoredLine) -> None:
        """`line` was added: what it used is paid for."""
        ...


def names_in(texts: Iterable[str], known: Iterable[str] = ()) -> list[str]:
    """The names the texts mention (capitalised words inside sentences), most mentioned first; a line's
    speaker ("Mira: ...") and `known` words (the query's own, the speakers') left out."""
    skip = {word.lower() for word in known}
    counts: dict[str, int] = {}
    for body in texts:
        speaker, _, said = body.partition(": ")
        words = _NAME.findall(said if said and len(speaker) <= 40 else body)
        for word in words:
            if word.lower() not in skip:
                counts[word] = counts.get(word, 0) + 1
    return sorted(counts, key=lambda word: -counts[word])[:MAX_ENTITIES]


def mentioning(names: Sequence[str]) -> re.Pattern[str] | None:
    return re.compile(r"\b(?:" + "|".join(re.escape(name) for name in names) + r")\b") if names else None


def raise_mentions(
    lines: Sequence[ScoredLine],
    text_of: Callable[[ScoredLine], str],
    names: Sequence[str],
    sources: set[tuple[int, int]] = frozenset(),  # type: ignore[assignment]
) -> list[ScoredLine]:
    """The lines, best first again, those that mention one of `names` raised by ENTITY_WEIGHT (except the
    `sources`, (key, number) of the lines the names were found in)."""
    pattern = mentioning(names)
    if pattern is None:
        return list(lines)
    raised = [
        replace(line, score=line.score + ENTITY_WEIGHT, linked=True)
        if (line.key, line.number) not in sources and pattern.search(text_of(line))
        else line
        for line in lines
    ]
    raised.sort(key=lambda line: (-line.score, line.key, line.number))
    return raised


def select(
    lines: Iterable[ScoredLine],
    *,
    max_hits: int | None,
    budget: float | None,
    cost: Cost,
    chosen: dict[int, Hit] | None = None,
) -> dict[int, Hit]:
    """Lines best first into hits (one per memory, in the order first reached), while the budget lasts.

    A line that does not fit is passed over (a cheaper one further down may still fit). Once `max_hits`
    memories are chosen, only lines of those can still join. `chosen`: hits already made (pinned ones).
    """
    hits: dict[int, Hit] = chosen if chosen is not None else {}
    spent = sum(hit.cost for hit in hits.values())
    for line in lines:
        hit = hits.get(line.key)
        if hit is None and max_hits is not None and len(hits) >= max_hits:
            continue
        if hit is not None and hit.lines[0].whole:
            continue  # already all of it
        price = cost(line, hit)
        if budget is not None and spent + price > budget:
            continue
        if hit is None:
            hit = hits[line.key] = Hit(line.key)
        hit.lines.append(line)
        hit.cost += price
        spent += price
        cost.take(line)
    return hits
