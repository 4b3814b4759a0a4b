"""A scene for a fine-tuning dataset: one record per character who spoke, as that character saw the scene
(its own replies as the assistant's, everyone else's as "Name: words" lines, as its prompts have them)."""

from __future__ import annotations

from typing import Any

from avatar.context import AppContext
from avatar.core.errors import AvatarError
from avatar.scenes.prompt import SceneView, scene_system_prompt


def scene_records(ctx: AppContext, conversation_id: str, persona_id: str | None = None) -> list[dict[str, Any]]:
    """Records in the chat "messages" shape; `persona_id`: only that character's."""
    scene = ctx.scenes.scenes.find(conversation_id)
    if scene is None:
        return []
    user_name = ctx.profile.user_name()
    messages = [m for m in ctx.conversations.messages(conversation_id) if m.content.strip() and m.status != "error"]
    cast = {}
    for stay in scene.stays:
        try:
            cast[stay.persona_id] = ctx.personas.get(stay.persona_id)
        except AvatarError:
            continue  # a deleted character: its lines stay in the others' records, under its id
    names = {pid: p.name for pid, p in cast.items()}
    first = scene.stays[0].persona_id if scene.stays else ""
    world = ctx.worlds.find(scene.world_id)
    records = []
    for speaker, persona in cast.items():
        if persona_id and speaker != persona_id:
            continue
        if not any((m.speaker_id or first) == speaker for m in messages if m.role.value == "assistant"):
            continue
        view = SceneView(speaker_id=speaker, names=names, first_character=first, user_name=user_name)
        others = [p for pid, p in cast.items() if pid != speaker]
        shown = [view.item(m, "") for m in messages]
        records.append(
            {
                "messages": [
                    {"role": "system", "content": scene_system_prompt(persona, others, world, user_name)},
                    *({"role": item.role, "content": item.content} for item in shown),
                ],
                "persona": speaker,
                "persona_name": persona.name,
                "style": persona.style.model_dump(),
                "tags": persona.tags,
                "conversation_id": conversation_id,
                "scene": [p.name for p in cast.values()],
            }
        )
    return records
