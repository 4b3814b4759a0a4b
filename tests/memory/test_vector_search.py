"""The vector search: the Hamming scan over memory_bits and the exact re-scoring (index_search.knn)."""

from __future__ import annotations

import numpy as np
import pytest
from sqlmodel import Session

from avatar.memory import index_search, repository
from avatar.memory.embedder import normalise
from avatar.memory.models import EMBEDDING_DIM

OWNERS = ["*", "aria", "nova"]
KINDS = ["card", "chunk"]


@pytest.fixture
def store(engine) -> tuple[np.ndarray, list[str], list[str]]:
    """600 vectors with a shared mean component, as sentence embeddings have, spread over owners and kinds."""
    rng = np.random.default_rng(3)
    vectors = normalise(rng.standard_normal((600, EMBEDDING_DIM)) + 2.0 * rng.standard_normal(EMBEDDING_DIM))
    owners = [OWNERS[i % 3] for i in range(600)]
    kinds = [KINDS[(i // 3) % 2] for i in range(600)]
    with engine.begin() as conn:
        repository.insert_vectors(
            conn,
            [
                {"key": i + 1, "embedding": repository.vector_blob(v), "owner": o, "kind": k}
                for i, (v, o, k) in enumerate(zip(vectors, owners, kinds))
            ],
        )
    return vectors.astype(np.float32), owners, kinds


def hamming(vectors: np.ndarray, query: np.ndarray) -> np.ndarray:
    return ((vectors > 0) != (query > 0)).sum(axis=1)


@pytest.mark.parametrize(("owners", "kind"), [(["*", "aria"], None), (None, None), (["nova"], "card")])
def test_the_scan_returns_the_hamming_nearest_of_the_visible_memories_only(engine, store, owners, kind):
    vectors, owner_of, kind_of = store
    query = normalise(vectors[5] + vectors[100])
    visible = np.array(
        [(owners is None or o in owners) and (kind is None or k == kind) for o, k in zip(owner_of, kind_of)]
    )
    distances = hamming(vectors, query)
    with Session(engine) as session:
        keys = index_search.coarse_knn(session, query, owners, 40, kind)
    assert len(keys) == 40 and all(visible[key - 1] for key in keys)
    # Equal distances may be cut either way at the 40th: compare the distances, not the keys.
    assert sorted(distances[[key - 1 for key in keys]]) == sorted(distances[visible])[:40]


def test_knn_re_scores_exactly_and_stays_within_the_owners(engine, store):
    vectors, owner_of, _ = store
    query = normalise(vectors[7] + 0.3 * vectors[8])
    visible = np.array([o in ("*", "aria") for o in owner_of])
    similarity = np.where(visible, vectors @ query, -np.inf)
    expected = [int(i) + 1 for i in np.argsort(-similarity)[:8]]
    with Session(engine) as session:
        hits = index_search.knn(session, query, ["*", "aria"], 8)
    assert [key for key, _ in hits] == expected
    assert np.allclose([distance for _, distance in hits], 1 - similarity[[key - 1 for key in expected]], atol=1e-5)
