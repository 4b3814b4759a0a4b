"""Migrations 0003 and 0005: the memory tables, vector and FTS5 tables and their triggers; upgrades keep memories."""

from __future__ import annotations

import numpy as np
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlmodel import Session

from avatar.core.db import alembic_config, current_revision, open_database
from avatar.memory import index_search, repository
from avatar.memory.models import Memory

HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()


def names(engine, kind: str) -> set[str]:
    with engine.connect() as conn:
        return {row[0] for row in conn.execute(text("SELECT name FROM sqlite_master WHERE type = :k"), {"k": kind})}


def test_head_has_memory_tables_vectors_fts_and_triggers(tmp_path):
    engine = open_database(tmp_path / "avatar.db")
    assert current_revision(engine) == HEAD
    assert {"memories", "memory_embeddings", "memory_bits", "memories_fts", "memory_progress", "memory_meta"} <= names(
        engine, "table"
    )
    assert "memory_vectors" not in names(engine, "table")  # the float vec0 of 0003: replaced by the two above
    assert {"memories_after_insert", "memories_after_delete", "memories_after_update_text"} <= names(engine, "trigger")
    columns = {c["name"] for c in inspect(engine).get_columns("memories")}
    assert {
        "id", "key", "kind", "scope", "persona_id", "text", "card_type", "created_at", "updated_at",
        "source_message_ids", "reason", "importance", "pinned", "last_recalled_at", "recall_count",
    } <= columns  # fmt: skip
    with engine.connect() as conn:
        sql = conn.execute(text("SELECT sql FROM sqlite_master WHERE name = 'memory_bits'")).scalar()
    assert "PRIMARY KEY (owner, kind, key)" in sql and "WITHOUT ROWID" in sql  # a plain table since 0006


def test_scope_rules_are_enforced_by_the_database(tmp_path):
    engine = open_database(tmp_path / "avatar.db")
    insert = text(
        "INSERT INTO memories (id, key, kind, scope, persona_id, text, created_at, updated_at) "
        "VALUES (:id, :key, 'card', :scope, :persona, 'x', '2026-01-01', '2026-01-01')"
    )
    with engine.begin() as conn:
        conn.execute(insert, {"id": "a", "key": 1, "scope": "profile", "persona": None})
        conn.execute(insert, {"id": "b", "key": 2, "scope": "persona", "persona": "aria"})
    for bad in (
        {"id": "c", "key": 3, "scope": "persona", "persona": None},
        {"id": "d", "key": 4, "scope": "x", "persona": None},
    ):
        try:
            with engine.begin() as conn:
                conn.execute(insert, bad)
        except Exception as error:  # noqa: BLE001
            assert "CHECK constraint" in str(error)
        else:
            raise AssertionError(f"accepted {bad}")


def test_downgrade_to_0002_removes_memory_and_upgrade_restores_it(tmp_path):
    engine = open_database(tmp_path / "avatar.db")
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0002")
    assert current_revision(engine) == "0002"
    assert not {"memories", "memory_embeddings", "memory_bits", "memories_fts"} & names(engine, "table")
    engine.dispose()
    assert current_revision(open_database(tmp_path / "avatar.db")) == HEAD


def downgrade_to(engine, revision: str) -> None:
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def test_upgrade_from_0004_moves_every_vector_and_keeps_search_and_delete_working(tmp_path, embedder):
    """A database at 0004 with memories in it (written the 0004 way): 0005 quantizes and copies them all."""
    engine = open_database(tmp_path / "avatar.db")
    downgrade_to(engine, "0004")
    assert "memory_vectors" in names(engine, "table")
    texts = {
        1: ("profile", None, "card", "The user has a dog named Biscuit."),
        2: ("persona", "aria", "chunk", "User: my sister Maya gets married in June\nAria: how lovely!"),
        3: ("persona", "captain-vega", "card", "The user plays the cello on Sundays."),
    }
    vectors = embedder.embed_documents([t[3] for t in texts.values()])
    with engine.begin() as conn:
        for (key, (scope, persona, kind, body)), vector in zip(texts.items(), vectors):
            conn.execute(
                text(
                    "INSERT INTO memories (id, key, kind, scope, persona_id, text, created_at, updated_at) "
                    "VALUES (:id, :key, :kind, :scope, :persona, :text, '2026-01-01', '2026-01-01')"
                ),
                {"id": f"m{key}", "key": key, "kind": kind, "scope": scope, "persona": persona, "text": body},
            )
            conn.execute(
                text("INSERT INTO memory_vectors(rowid, embedding, owner, kind) VALUES (:k, :e, :o, :kind)"),
                {"k": key, "e": vector.tobytes(), "o": persona or "*", "kind": kind},
            )
    engine.dispose()

    engine = open_database(tmp_path / "avatar.db")  # upgrades to head
    assert current_revision(engine) == HEAD
    with Session(engine) as session:
        for key, vector in zip(texts, vectors):
            assert index_search.index_counts(session, key) == (1, 1, 1)
            assert np.array_equal(index_search.vector_of(session, key), vector)
        query = embedder.embed_query("who is getting married?")
        assert index_search.knn(session, query, ["*", "aria"], 1)[0][0] == 2
        assert [key for key, _ in index_search.knn(session, query, ["captain-vega"], 3)] == [3]  # partitioned by owner
        assert index_search.keyword_search(session, ["biscuit"], "aria", 5)[0][0] == 1
        repository.delete_memory(session, repository.get_memory(session, "m2"))
        session.commit()
        assert index_search.index_counts(session, 2) == (0, 0, 0)
    with engine.begin() as conn:  # lore is a kind now
        conn.execute(
            text(
                "INSERT INTO memories (id, key, kind, scope, persona_id, text, created_at, updated_at) "
                "VALUES ('l', 9, 'lore', 'persona', 'aria', 'The lighthouse is haunted.', '2026-01-01', '2026-01-01')"
            )
        )
    assert {"ix_memories_pinned", "ix_memories_persona_id"} <= names(engine, "index")
    assert {"memories_after_insert", "memories_after_delete", "memories_after_update_text"} <= names(engine, "trigger")


def test_downgrade_to_0004_gives_back_the_float_vectors(tmp_path, embedder):
    engine = open_database(tmp_path / "avatar.db")
    vector = embedder.embed_documents(["The user likes green tea."])[0]
    with Session(engine) as session:
        memory = Memory(kind="card", scope="profile", text="The user likes green tea.")
        repository.insert_memory(session, memory, vector)
        session.commit()
        key = memory.key
    downgrade_to(engine, "0004")
    assert not {"memory_embeddings", "memory_bits"} & names(engine, "table")
    with engine.connect() as conn:
        row = conn.execute(text("SELECT embedding, owner FROM memory_vectors WHERE rowid = :k"), {"k": key}).one()
    assert np.array_equal(np.frombuffer(row[0], dtype=np.float32), vector) and row[1] == "*"
    engine.dispose()
    assert current_revision(open_database(tmp_path / "avatar.db")) == HEAD


def insert_raw_memory(conn, key: int, scope: str, persona: str | None, kind: str, body: str) -> None:
    conn.execute(
        text(
            "INSERT INTO memories (id, key, kind, scope, persona_id, text, created_at, updated_at) "
            "VALUES (:id, :key, :kind, :scope, :persona, :text, '2026-01-01', '2026-01-01')"
        ),
        {"id": f"m{key}", "key": key, "kind": kind, "scope": scope, "persona": persona, "text": body},
    )


def test_upgrade_from_0005_moves_every_sign_bit_vector_and_delete_still_deletes_everywhere(tmp_path, embedder):
    """A database at 0005 with memories written the 0005 way (vec0 bits): 0006 re-quantizes them all."""
    engine = open_database(tmp_path / "avatar.db")
    downgrade_to(engine, "0005")
    texts = {
        1: ("profile", None, "card", "The user has a dog named Biscuit."),
        2: ("persona", "aria", "chunk", "User: my sister Maya gets married in June\nAria: how lovely!"),
        3: ("persona", "captain-vega", "card", "The user plays the cello on Sundays."),
        4: ("persona", "aria", "card", "The user's sister Maya is a nurse."),
    }
    vectors = embedder.embed_documents([t[3] for t in texts.values()])
    with engine.begin() as conn:
        for (key, (scope, persona, kind, body)), vector in zip(texts.items(), vectors):
            insert_raw_memory(conn, key, scope, persona, kind, body)
            params = {"k": key, "e": vector.tobytes(), "o": persona or "*", "kind": kind}
            conn.execute(text("INSERT INTO memory_embeddings(key, embedding) VALUES (:k, :e)"), params)
            conn.execute(
                text(
                    "INSERT INTO memory_bits(rowid, embedding, owner, kind) "
                    "VALUES (:k, vec_quantize_binary(:e), :o, :kind)"
                ),
                params,
            )
    engine.dispose()

    engine = open_database(tmp_path / "avatar.db")  # upgrades to head
    assert current_revision(engine) == HEAD
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT owner, kind, key, bits FROM memory_bits ORDER BY key")).all()
    assert [(owner, kind, key) for owner, kind, key, _ in rows] == [
        (persona or "*", kind, key) for key, (_, persona, kind, _) in texts.items()
    ]
    for (*_, bits), vector in zip(rows, vectors):  # the sign of each dimension, 8 to a byte, lowest bit first
        assert bits == np.packbits(vector > 0, bitorder="little").tobytes()
    with Session(engine) as session:
        query = embedder.embed_query("who is getting married?")
        assert [key for key, _ in index_search.knn(session, query, ["*", "aria"], 2)] == [2, 4]
        assert [key for key, _ in index_search.knn(session, query, ["*", "aria"], 9, kind="card")] == [4, 1]
        assert [key for key, _ in index_search.knn(session, query, ["captain-vega"], 3)] == [3]
        assert len(index_search.knn(session, query, None, 9)) == 4
        repository.delete_memory(session, repository.get_memory(session, "m2"))
        session.commit()
        assert index_search.index_counts(session, 2) == (0, 0, 0)
        assert index_search.index_counts(session, 4) == (1, 1, 1)


def test_downgrade_to_0005_gives_back_the_vec0_bits(tmp_path, embedder):
    engine = open_database(tmp_path / "avatar.db")
    vectors = embedder.embed_documents(["The user likes green tea.", "The user hates coffee."])
    with Session(engine) as session:
        for body, vector in zip(["The user likes green tea.", "The user hates coffee."], vectors):
            repository.insert_memory(
                session, Memory(kind="card", scope="persona", persona_id="aria", text=body), vector
            )
        session.commit()
    downgrade_to(engine, "0005")
    with engine.begin() as conn:
        hits = conn.execute(
            text(
                "SELECT rowid FROM memory_bits WHERE embedding MATCH vec_quantize_binary(:q) "
                "AND k = 2 AND owner = 'aria' ORDER BY distance"
            ),
            {"q": vectors[1].tobytes()},
        ).all()
        assert [row[0] for row in hits] == [2, 1]
        conn.execute(text("DELETE FROM memories WHERE key = 2"))  # the 0005 trigger is back
        assert conn.execute(text("SELECT count(*) FROM memory_bits WHERE rowid = 2")).scalar() == 0
        assert conn.execute(text("SELECT count(*) FROM memory_embeddings WHERE key = 2")).scalar() == 0
    engine.dispose()
    assert current_revision(open_database(tmp_path / "avatar.db")) == HEAD
