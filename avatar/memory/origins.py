"""Where a memory comes from, in words for the Memory tab: the world of a world's lore, and the scene a
memory was made in (its title and who was there)."""

from __future__ import annotations

from functools import lru_cache

from avatar.context import AppContext
from avatar.core.errors import AvatarError
from avatar.memory.schemas import MemoryOut, MemoryScope


class Origins:
    """Looked up once per view (`fresh()` gives a new one): a list shows up to 200 memories."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.scene = lru_cache(maxsize=512)(self._scene)
        self.world = lru_cache(maxsize=64)(self._world)

    def fresh(self) -> Origins:
        return Origins(self.ctx)

    def _world(self, world_id: str | None) -> str:
        world = self.ctx.worlds.find(world_id)
        return world.name if world is not None else "a deleted world"

    def _scene(self, conversation_id: str | None) -> str:
        """'the scene “title” (Aria, Captain Vega)', or "" when the memory was not made in a scene."""
        scene = self.ctx.scenes.scenes.find(conversation_id)
        if scene is None:
            return ""
        names = []
        for persona_id in dict.fromkeys(s.persona_id for s in scene.stays):
            try:
                names.append(self.ctx.personas.get(persona_id).name)
            except AvatarError:
                names.append(persona_id)
        return f"the scene “{scene.title}” ({', '.join(names)})"

    def speaker(self, persona_id: str | None) -> str | None:
        if not persona_id:
            return None
        try:
            return self.ctx.personas.get(persona_id).name
        except AvatarError:
            return persona_id

    def owner(self, memory: MemoryOut, persona_name: str) -> str:
        """The Memory tab's "Belongs to": the world for a world's lore; the scene it came from, if any."""
        if memory.scope is MemoryScope.world:
            return f"World: {self.world(memory.world_id)}"
        scene = self.scene(memory.conversation_id)
        return f"{persona_name} · from {scene}" if scene else persona_name
