"""Reciprocal rank fusion and the gentle boosts."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from avatar.memory.ranking import boost, fuse

NOW = datetime(2026, 6, 1, tzinfo=timezone.utc)


def test_a_memory_found_by_both_searches_beats_one_found_by_either():
    fused = fuse([(1, 0.1), (2, 0.2)], [(3, -5.0), (2, -4.0)])
    order = sorted(fused.values(), key=lambda c: c.rrf, reverse=True)
    assert order[0].key == 2
    assert (order[0].vector_rank, order[0].keyword_rank) == (2, 2)
    assert abs(fused[1].similarity - 0.9) < 1e-9 and fused[3].similarity is None


def test_boosts_reorder_near_ties_but_not_clear_winners():
    fresh = boost(1.0, importance=0.5, updated_at=NOW, now=NOW)
    old = boost(1.0, importance=0.5, updated_at=NOW - timedelta(days=365), now=NOW)
    important = boost(1.0, importance=1.0, updated_at=NOW - timedelta(days=365), now=NOW)
    assert fresh > old and important > old
    assert fresh / old < 1.2 and important / old < 1.2
    # rank 1 vs rank 10 in one list is ~13% apart before boosts: boosts never swap rank 1 and rank 20
    rank1, rank20 = 1 / 61, 1 / 80
    assert (
        boost(rank20, importance=1.0, updated_at=NOW, now=NOW)
        < boost(rank1, importance=0.0, updated_at=NOW - timedelta(days=999), now=NOW) * 1.4
    )


def test_naive_datetimes_from_sqlite_are_utc():
    naive = NOW.replace(tzinfo=None)
    assert boost(1.0, importance=0.5, updated_at=naive, now=NOW) == boost(1.0, importance=0.5, updated_at=NOW, now=NOW)
