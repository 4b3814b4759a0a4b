"""The SQLite database: one file, WAL, foreign keys, sqlite-vec on every connection, Alembic migrations."""

from __future__ import annotations

import logging
from pathlib import Path

import sqlean
import sqlite_vec
from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import create_engine

from avatar.core.settings import PROJECT_ROOT

log = logging.getLogger(__name__)

MIGRATIONS_DIR = PROJECT_ROOT / "migrations"


def _prepare_connection(dbapi_connection, _connection_record) -> None:
    # sqlean.py instead of the stdlib sqlite3: many Python builds cannot load extensions.
    dbapi_connection.enable_load_extension(True)
    sqlite_vec.load(dbapi_connection)
    dbapi_connection.enable_load_extension(False)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def create_db_engine(db_path: Path) -> Engine:
    """An engine for the database file at db_path (created if missing); every connection is prepared."""
    db_path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        f"sqlite:///{db_path}",
        module=sqlean,
        connect_args={"check_same_thread": False},
    )
    event.listen(engine, "connect", _prepare_connection)
    return engine


def alembic_config() -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def migrate(engine: Engine, revision: str = "head") -> None:
    """Create or upgrade the schema in place to `revision`."""
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def open_database(db_path: Path) -> Engine:
    """The engine the app uses: created, prepared and migrated to the newest schema."""
    engine = create_db_engine(db_path)
    migrate(engine)
    log.info("database ready at %s (schema %s)", db_path, current_revision(engine))
    return engine
