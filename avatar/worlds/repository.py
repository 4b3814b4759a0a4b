"""Data access for worlds. No commits, no error handling: the service owns both."""

from __future__ import annotations

from sqlmodel import Session, col, select

from avatar.worlds.models import World


def get_world(session: Session, world_id: str) -> World | None:
    return session.get(World, world_id)


def list_worlds(session: Session) -> list[World]:
    return list(session.exec(select(World).order_by(col(World.name))))
