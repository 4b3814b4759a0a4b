"""Identifiers and timestamps shared by every table."""

from __future__ import annotations

from datetime import datetime, timezone

import uuid6


def new_id() -> str:
    """A UUIDv7 as text: time-ordered, so sorting by id is sorting by creation time."""
    return str(uuid6.uuid7())


def utcnow() -> datetime:
    """Now, in UTC, time-zone aware (SQLModel refuses naive datetimes)."""
    return datetime.now(timezone.utc)
