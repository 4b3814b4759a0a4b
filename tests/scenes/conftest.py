"""Scene fixtures: the app's services over the fake model server, and a scene with the three shipped characters."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator

import pytest

from avatar.chat.schemas import TurnUpdate

CAST = ["aria", "captain-vega", "professor-quill"]


def collect(updates: AsyncIterator[TurnUpdate]) -> list[TurnUpdate]:
    async def run() -> list[TurnUpdate]:
        return [update async for update in updates]

    return asyncio.run(run())


def replies(updates: list[TurnUpdate]) -> list[TurnUpdate]:
    """The last update of each reply (one per speaker)."""
    return [u for u in updates if u.done]


@pytest.fixture
def scene(ctx) -> str:
    """A new scene with Aria, Captain Vega and Professor Quill (Aria opens it); the speaker draw is seeded."""
    ctx.scenes.chooser.rng = random.Random(7)
    return ctx.scenes.start(CAST)
