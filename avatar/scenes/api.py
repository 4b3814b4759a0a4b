"""The named API for scenes (see avatar/chat/api.py for the one-character chat):

/worlds -> [{id, name, entries}]
/scene(message, characters, world, conversation_id, replies) -> streams dicts, one reply after another;
    the last dict sums the turn up: {"turn_done": True, "spoke": [who spoke, in order], "replies": [...]}
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import gradio as gr

from avatar.chat.schemas import TurnUpdate
from avatar.context import AppContext
from avatar.core.errors import AvatarError, InvalidInputError
from avatar.scenes.flows import DEFAULT_CARRY_ON

REPLY_FIELDS = {"conversation_id", "reply", "done", "status", "error", "emotion", "generation", "speaker_id"}


def register_scene_api(ctx: AppContext) -> None:
    """Call inside the Blocks context."""

    def worlds() -> list[dict]:
        """The worlds scenes can take place in: [{"id", "name", "entries"}] (entries: lorebook entries in use)."""
        return [{"id": w.id, "name": w.name, "entries": w.entries} for w in ctx.worlds.list()]

    def world_id_of(world: str) -> str | None:
        """A world given by id or by name ("" for none)."""
        world = (world or "").strip()
        if not world:
            return None
        for known in ctx.worlds.list():
            if world in (known.id, known.name) or world.lower() == known.name.lower():
                return known.id
        raise InvalidInputError(f"There is no world {world!r}; /worlds lists them.")

    def name_of(persona_id: str | None) -> str | None:
        try:
            return ctx.personas.get(persona_id).name if persona_id else None
        except AvatarError:
            return persona_id

    async def scene(
        message: str, characters: list[str], world: str, conversation_id: str, replies: int
    ) -> AsyncIterator[dict]:
        """A turn in a scene. "" as conversation_id starts a new scene of `characters` (2 to 5 persona ids)
        in `world` (a world's id or name; "" for none). `message`: what you say (the characters it names
        answer, else the one the scene calls for); "" lets the characters talk among themselves for
        `replies` replies (1 to 6).

        Streams one dict per update: {"conversation_id", "speaker_id", "speaker_name", "reply", "done",
        "status", "error", "emotion", "generation"}, each reply growing token by token, "done" at its end;
        then a last dict {"conversation_id", "turn_done": True, "spoke": [speaker ids in order],
        "replies": [{"speaker_id", "speaker_name", "reply", "status", "emotion"}]}.
        """
        try:
            if not conversation_id:
                conversation_id = ctx.scenes.start(list(characters or []), world_id=world_id_of(world))
            elif not ctx.scenes.is_scene(conversation_id):
                raise InvalidInputError("That conversation is not a scene: use /chat for a one-character chat.")
            turn = (
                ctx.scenes.send(conversation_id, message)
                if (message or "").strip()
                else ctx.scenes.carry_on(conversation_id, int(replies or DEFAULT_CARRY_ON))
            )
            finished: list[TurnUpdate] = []
            async for update in turn:
                if update.done:
                    finished.append(update)
                if update.reply or update.done:
                    yield {
                        **update.model_dump(mode="json", include=REPLY_FIELDS),
                        "speaker_name": name_of(update.speaker_id),
                    }
        except AvatarError as error:
            raise gr.Error(error.message) from None
        said = [u for u in finished if u.reply_message_id]
        yield {
            "conversation_id": conversation_id,
            "turn_done": True,
            "spoke": [u.speaker_id for u in said],
            "replies": [
                {
                    "speaker_id": u.speaker_id,
                    "speaker_name": name_of(u.speaker_id),
                    "reply": u.reply,
                    "status": u.status.value if u.status else None,
                    "emotion": u.emotion,
                }
                for u in said
            ],
        }

    gr.api(worlds, api_name="worlds")
    gr.api(scene, api_name="scene", concurrency_limit=None)
