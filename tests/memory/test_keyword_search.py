"""Keyword recall (FTS5 BM25): owners filtered inside the index, and a common word cannot hide a rare one."""

from __future__ import annotations

import numpy as np
from sqlmodel import Session

from avatar.memory import index_search, repository
from avatar.memory.embedder import normalise
from avatar.memory.models import Memory


def store(engine, text: str, persona_id: str | None) -> int:
    vector = normalise(np.random.default_rng(len(text)).standard_normal(384))
    with Session(engine) as session:
        memory = Memory(kind="chunk", scope="persona" if persona_id else "profile", persona_id=persona_id, text=text)
        repository.insert_memory(session, memory, vector)
        session.commit()
        return memory.key


def test_a_persona_finds_its_own_and_the_users_memories_only(engine):
    aria = store(engine, "We watched the old lighthouse at dusk.", "aria")
    profile = store(engine, "The user grew up near a lighthouse.", None)
    vega = store(engine, "The lighthouse beacon guided the ship.", "captain-vega")
    with Session(engine) as session:
        assert {k for k, _ in index_search.keyword_search(session, ["lighthouse"], "aria", 10)} == {aria, profile}
        assert {k for k, _ in index_search.keyword_search(session, ["lighthouse"], "captain-vega", 10)} == {
            vega,
            profile,
        }
        assert {k for k, _ in index_search.keyword_search(session, ["lighthouse"], None, 10)} == {aria, profile, vega}
        # an owner's token is not a word of the text
        assert index_search.keyword_search(session, [index_search.owner_token("aria")], None, 10) == []


def test_a_rare_word_is_found_however_many_newer_memories_hold_a_common_one(engine):
    old = store(engine, "We shared a kiwi and some tea on the balcony.", "aria")
    newer = [store(engine, f"Tea number {i}: green tea again, lots of tea.", "aria") for i in range(6)]
    with Session(engine) as session:
        hits = [k for k, _ in index_search.keyword_search(session, ["tea", "kiwi"], "aria", 10, window=3)]
        assert hits[0] == old  # both words: the best match, though outside the newest 3 'tea' memories
        assert set(hits) == {old, *newer[-3:]}  # the common word alone: only among the newest 3
        assert len(index_search.keyword_search(session, ["tea"], "aria", 10, window=100)) == 7
