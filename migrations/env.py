"""Alembic environment: uses the app's connection when given one, else opens the file named by -x db=PATH."""

from __future__ import annotations

from pathlib import Path

from alembic import context

from avatar.core.db import create_db_engine

config = context.config


def run_migrations(connection) -> None:
    # render_as_batch: SQLite cannot ALTER most things, Alembic's batch mode copies the table instead.
    context.configure(connection=connection, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run_migrations(connection)
else:
    db_path = Path(context.get_x_argument(as_dictionary=True).get("db", "data/avatar.db"))
    with create_db_engine(db_path).begin() as new_connection:
        run_migrations(new_connection)
