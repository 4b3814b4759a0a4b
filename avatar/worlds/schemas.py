"""World data as the rest of the app sees it."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

NAME_MAX_CHARS = 120
DESCRIPTION_MAX_CHARS = 20_000


class WorldOut(BaseModel):
    id: str
    name: str
    description: str
    entries: int  # lorebook entries in use (enabled, with text)
    created_at: datetime
    updated_at: datetime
