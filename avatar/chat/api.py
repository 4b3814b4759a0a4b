"""The named API ("Use via API"): what scripts and tests call with gradio_client.

/personas -> [{id, name}]
/chat(message, persona_id, conversation_id) -> streams dicts; the last has done=True and the reply's emotion
/stop(conversation_id) -> whether a reply was being generated there (in a scene, the replies to come stop too)
Scenes (several characters, a world): avatar/scenes/api.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import gradio as gr

from avatar.context import AppContext
from avatar.core.errors import AvatarError
from avatar.scenes.api import register_scene_api


def register_api(ctx: AppContext) -> None:
    """Call inside the Blocks context."""

    def personas() -> list[dict]:
        """The characters you can chat with: [{"id", "name"}]."""
        return [summary.model_dump() for summary in ctx.personas.summaries()]

    async def chat(message: str, persona_id: str, conversation_id: str) -> AsyncIterator[dict]:
        """Send `message` to the persona; "" as conversation_id starts a new conversation.

        Streams {"conversation_id", "reply", "done", "status", "error", "emotion", "generation"}; the reply grows
        token by token; the last update's "emotion" is the reply's expression label (one of the 28) or None, and
        its "generation" what the model server reported for it (tokens, timings).
        """
        fields = {"conversation_id", "reply", "done", "status", "error", "emotion", "generation"}
        try:
            async for update in ctx.chat.send(persona_id, conversation_id or None, message):
                yield update.model_dump(mode="json", include=fields)
        except AvatarError as error:
            raise gr.Error(error.message) from None

    async def stop(conversation_id: str) -> bool:
        """Stop the reply being generated in conversation_id; what was generated is saved as partial."""
        in_scene = ctx.scenes.is_scene(conversation_id)
        stopped = ctx.scenes.stop(conversation_id) if in_scene else ctx.chat.stop(conversation_id)
        if stopped:
            await ctx.chat.registry.wait_finished(conversation_id)
        return stopped

    gr.api(personas, api_name="personas")
    gr.api(chat, api_name="chat", concurrency_limit=None)
    gr.api(stop, api_name="stop", concurrency_limit=None)
    register_scene_api(ctx)
