"""Storage: one SQLite file with WAL, foreign keys and sqlite-vec; Alembic creates and upgrades it."""

from __future__ import annotations

from datetime import datetime

from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from avatar.conversations.schemas import MessageStatus
from avatar.conversations.service import ConversationService
from avatar.core.db import alembic_config, create_db_engine, current_revision, migrate, open_database

HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()


def test_migrations_create_schema_on_empty_db(tmp_path):
    engine = open_database(tmp_path / "avatar.db")
    tables = set(inspect(engine).get_table_names())
    assert {"conversations", "messages", "alembic_version"} <= tables
    assert current_revision(engine) == HEAD


def test_every_connection_has_wal_foreign_keys_and_sqlite_vec(tmp_path):
    engine = open_database(tmp_path / "avatar.db")
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("select vec_version()")).scalar().startswith("v")
        # vec0 and FTS5 both work on this connection: memory relies on them.
        conn.execute(text("create virtual table v using vec0(embedding float[4])"))
        conn.execute(text("create virtual table f using fts5(body)"))


def test_older_database_upgrades_in_place_keeping_data(tmp_path):
    path = tmp_path / "avatar.db"
    old = create_db_engine(path)
    migrate(old, "0001")  # the schema as the first release made it
    now = datetime(2026, 1, 1)
    with old.begin() as conn:
        conn.execute(text("insert into conversations values ('c1', 'aria', 'From the old days', :t, :t)"), {"t": now})
        conn.execute(
            text("insert into messages values ('m1', 'c1', 'user', 'remember me?', 'complete', :t)"), {"t": now}
        )
    old.dispose()

    engine = open_database(path)
    assert current_revision(engine) == HEAD
    service = ConversationService(engine)
    [message] = service.messages("c1")
    assert message.content == "remember me?" and message.model is None
    assert service.get("c1").title == "From the old days"


def test_deleting_a_conversation_deletes_its_messages(tmp_path):
    engine = open_database(tmp_path / "avatar.db")
    service = ConversationService(engine)
    conversation = service.create("aria", greeting="Hi!")
    service.add_user_message(conversation.id, "hello")
    service.add_reply(conversation.id, "hey", MessageStatus.complete)
    service.delete(conversation.id)
    with engine.connect() as conn:
        assert conn.execute(text("select count(*) from messages")).scalar() == 0


def test_ids_are_uuid7_and_time_ordered(tmp_path):
    service = ConversationService(open_database(tmp_path / "avatar.db"))
    conversation = service.create("aria")
    ids = [service.add_user_message(conversation.id, f"m{i}").id for i in range(5)]
    assert all(i[14] == "7" for i in ids)  # the version nibble
    assert ids == sorted(ids)
    assert [m.content for m in service.messages(conversation.id)] == [f"m{i}" for i in range(5)]
