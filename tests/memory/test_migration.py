"""Migration 0003: the memory tables, vec0 and FTS5 tables and their triggers; it downgrades cleanly."""

from __future__ import annotations

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from avatar.core.db import alembic_config, current_revision, open_database

HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()


def names(engine, kind: str) -> set[str]:
    with engine.connect() as conn:
        return {row[0] for row in conn.execute(text("SELECT name FROM sqlite_master WHERE type = :k"), {"k": kind})}


def test_head_has_memory_tables_vectors_fts_and_triggers(tmp_path):
    engine = open_database(tmp_path / "avatar.db")
    assert current_revision(engine) == HEAD
    assert {"memories", "memory_vectors", "memories_fts", "memory_progress", "memory_meta"} <= names(engine, "table")
    assert {"memories_after_insert", "memories_after_delete", "memories_after_update_text"} <= names(engine, "trigger")
    columns = {c["name"] for c in inspect(engine).get_columns("memories")}
    assert {
        "id", "key", "kind", "scope", "persona_id", "text", "card_type", "created_at", "updated_at",
        "source_message_ids", "reason", "importance", "pinned", "last_recalled_at", "recall_count",
    } <= columns  # fmt: skip
    with engine.connect() as conn:
        sql = conn.execute(text("SELECT sql FROM sqlite_master WHERE name = 'memory_vectors'")).scalar()
    assert "float[384]" in sql and "distance_metric=cosine" in sql


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
    assert not {"memories", "memory_vectors", "memories_fts"} & names(engine, "table")
    engine.dispose()
    assert current_revision(open_database(tmp_path / "avatar.db")) == HEAD
