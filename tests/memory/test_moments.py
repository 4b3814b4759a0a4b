"""Recall by moments: each message of a chunk scored on its own, hits that carry only the lines that matched,
budgets in source turns (search) and tokens (the prompt), cards led to their moment, names that lead further."""

from __future__ import annotations

import asyncio

import pytest
from sqlmodel import Session

from avatar.memory import line_vectors, moments, repository
from avatar.memory.distill import CardDraft
from avatar.memory.models import Memory
from avatar.memory.prompt import format_memories
from avatar.memory.schemas import MemoryKind, WriteReport
from tests.memory.conftest import converse

pytestmark = pytest.mark.slow

DOG_DAY = [
    ("Work was long today, back to back meetings.", "Meeting days are the most draining."),
    ("We adopted a retired racing greyhound called Sable!", "A greyhound! What a lovely name."),
    ("I also repainted the kitchen a pale green.", "Green kitchens are so calming."),
]
WORK = [
    ("My new colleague Jonas sits right next to me at the office.", "Is he nice?"),
    ("Very. He has been at the company since it was three people in a garage.", "A walking history book."),
    ("The coffee machine there is better than at my old job too.", "Important perk!"),
]
BOOKS = [
    ("Book club was fun tonight, we argued about the ending for an hour.", "The best kind of evening."),
    ("Jonas came along and brought homemade cinnamon rolls.", "Cinnamon rolls buy a lot of goodwill."),
    ("Next month we're reading a thriller set on a ferry.", "Sounds like a page-turner."),
]


def remember(memory, conversations, *sessions: list[tuple[str, str]]) -> list[str]:
    ids = [converse(conversations, "aria", exchanges) for exchanges in sessions]
    for conversation_id in ids:
        asyncio.run(memory.remember("aria", conversation_id, persona_name="Aria", user_name="Sam", final=True,
                                    distill=False))  # fmt: skip
    return ids


def test_a_hit_carries_the_message_that_matched_not_the_whole_chunk(memory, conversations):
    remember(memory, conversations, DOG_DAY)
    [chunk] = memory.list(kind=MemoryKind.chunk)
    assert len(chunk.source_message_ids) == 6

    [hit] = memory.search("what breed is my new pet?", "aria", k=None, turn_budget=1)
    assert hit.memory.id == chunk.id
    [source] = hit.sources  # one of the two messages about the greyhound, not the evening around them
    assert "greyhound" in source.content and hit.text in (f"Sam: {source.content}", f"Aria: {source.content}")
    assert hit.lines in ([2], [3])

    [whole] = memory.search("what breed is my new pet?", "aria", k=1)  # no budget: the memory whole
    assert whole.text == chunk.text and len(whole.sources) == 6 and whole.lines == []


def test_the_turn_budget_holds_across_hits_and_is_spent_best_first(memory, conversations):
    remember(memory, conversations, DOG_DAY, WORK, BOOKS)
    for budget in (1, 3, 5, 8):
        hits = memory.search("who is my coworker?", "aria", k=None, turn_budget=budget)
        sources = [s.id for h in hits for s in h.sources]
        assert len(sources) == len(set(sources)) == budget
        for hit in hits:
            assert {s.id for s in hit.sources} <= set(hit.memory.source_message_ids)
    [first, *_] = memory.search("who is my coworker?", "aria", k=None, turn_budget=2)
    assert "Jonas sits right next to me" in first.text
    assert len(memory.search("who is my coworker?", "aria", k=1, turn_budget=40)) == 1  # k caps memories


def test_the_prompt_gets_the_matching_lines_within_its_token_budget(memory, conversations):
    remember(memory, conversations, DOG_DAY, WORK)
    recalled = memory.recall("what is my dog called?", "aria", k=4, token_budget=400, user_name="Sam")
    block = format_memories(recalled, "Sam")
    assert "Sable" in block and "repainted" not in block  # the dog's moment, not the rest of that evening
    assert recalled[0].excerpt.startswith("Sam: We adopted a retired racing greyhound called Sable!")
    assert recalled[0].sources[0].content == "We adopted a retired racing greyhound called Sable!"
    assert memory.recall("what is my dog called?", "aria", k=4, token_budget=140, user_name="Sam") == []


def test_lines_are_stored_with_their_messages_and_go_with_the_memory(memory, conversations, engine):
    remember(memory, conversations, DOG_DAY)
    [chunk] = memory.list(kind=MemoryKind.chunk)
    with Session(engine) as session:
        key = repository.get_memory(session, chunk.id).key
        [stored] = line_vectors.lines_of(session, [key]).values()
        assert stored.numbers == list(range(6)) and stored.message_ids == chunk.source_message_ids
        assert stored.vectors.shape == (6, 384)
    memory.delete(chunk.id)
    with Session(engine) as session:
        assert line_vectors.lines_of(session, [key]) == {}


def test_older_memories_get_their_lines_in_the_background(memory, embedder, engine):
    body = "Sam: I planted tomatoes\nAria: Lovely!\nSam: and basil by the window"
    with Session(engine) as session:  # written the way memories were before memory_lines
        memory_row = Memory(kind="chunk", scope="persona", persona_id="aria", text=body)
        repository.insert_memory(session, memory_row, memory.embed_passages([body])[0])
        repository.insert_memory(session, Memory(kind="card", scope="profile", text="One line."),
                                 embedder.embed_documents(["One line."])[0])  # fmt: skip
        session.commit()
        key = memory_row.key
    assert memory.schedule_line_index() and memory.wait_for_writes(30)
    assert memory.index_lines() == 0  # done once; single-line memories need none
    with Session(engine) as session:
        stored = line_vectors.lines_of(session, [key])[key]
    _, [expected] = memory.embed_passages_with_lines([body])
    assert stored.numbers == [0, 1, 2] and stored.message_ids == [None, None, None]
    assert (stored.vectors * expected).sum(axis=1).min() > 0.999  # int8 keeps the direction
    [hit, *_] = memory.search("what herbs did I grow?", "aria", k=1, turn_budget=None)
    assert hit.memory.text == body


def test_a_card_leads_to_the_one_message_it_came_from(memory, conversations):
    [conversation_id] = remember(memory, conversations, DOG_DAY)
    [chunk] = memory.list(kind=MemoryKind.chunk)
    memory._store_cards(
        [CardDraft(type="fact", text="The user owns a greyhound named Sable.", scope="profile", importance=0.7)],
        chunk.id, "aria", conversation_id, chunk.source_message_ids, "strict", WriteReport(conversation_id=conversation_id),
    )  # fmt: skip
    hits = memory.search("Sable the greyhound", "aria", k=None, turn_budget=3, kind=MemoryKind.card)
    [card] = hits
    assert [s.content for s in card.sources] == ["We adopted a retired racing greyhound called Sable!"]


def test_names_in_the_best_lines_lead_to_other_moments(memory, conversations, monkeypatch):
    remember(memory, conversations, WORK, BOOKS, DOG_DAY)
    query = "who sits beside me at the office?"

    def within(budget: int) -> list[str]:
        return [s.content for h in memory.search(query, "aria", k=None, turn_budget=budget) for s in h.sources]

    # The work chunk's six messages first, then the other evening's message that names Jonas.
    assert "Jonas came along and brought homemade cinnamon rolls." in within(8)
    monkeypatch.setattr("avatar.memory.recall.names_in", lambda texts, known: [])
    assert "Jonas came along and brought homemade cinnamon rolls." not in within(8)


def test_names_in_lines():
    texts = [
        "Sam: I video-called Sofia in Rotterdam. She found a flat with a view.",
        "Aria: That's lovely, Sam! Is Sofia happy there?",
        "Sam: Two days into the new job at Kestrel Cycles and I love it.",
    ]
    assert moments.names_in(texts, known={"Sam", "Aria"}) == ["Sofia", "Rotterdam", "Kestrel", "Cycles"]
    assert moments.names_in(["Sam: It rained. Then I slept."], known={"Sam"}) == []
