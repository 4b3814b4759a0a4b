"""Faces in the chat views: the character's picture beside its messages, showing the expression of its
newest reply (its portrait until a reply has one), your picture from About you beside yours, and the
larger face with the mood line in the Chat tab."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr

from avatar.context import AppContext
from avatar.core.errors import AvatarError
from avatar.expressions.sprites import served_copy
from avatar.personas.schemas import Persona

# Gradio draws the avatars round and small; a portrait's face is in its middle, so cover, not contain.
FACE_CSS = """
#chat-face img, #call-face img { object-fit: cover; border-radius: 16px; }
#chat-face, #call-face { border: none; box-shadow: none; background: transparent; }
#chatbot .avatar-container img, #voice-chatbot .avatar-container img, #persona-preview-chat .avatar-container img {
  object-fit: cover;
}
"""


class Faces:
    """Which picture to show for a persona and a conversation; handlers for the views that show them."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    def persona(self, persona_id: str | None) -> Persona | None:
        if not persona_id:
            return None
        try:
            return self.ctx.personas.get(persona_id)
        except AvatarError:
            return None

    def newest_label(self, conversation_id: str | None) -> str | None:
        """The expression of the conversation's newest reply, if it has one."""
        return self.newest_reply(conversation_id)[1]

    def newest_reply(self, conversation_id: str | None) -> tuple[str | None, str | None]:
        """(who said the conversation's newest reply (None: its persona), that reply's expression)."""
        if not conversation_id:
            return None, None
        try:
            messages = self.ctx.conversations.messages(conversation_id)
        except AvatarError:
            return None, None
        replies = [m for m in messages if m.role.value == "assistant"]
        return (replies[-1].speaker_id, replies[-1].emotion) if replies else (None, None)

    def face(self, persona_id: str | None, label: str | None = None) -> Path | None:
        return self.ctx.faces.face(self.persona(persona_id), label)

    def user_picture(self) -> Path | None:
        picture = self.ctx.profile.picture()
        if picture is None:
            return None
        try:
            return served_copy(picture.read_bytes())
        except OSError:
            return None

    def avatars(self, persona_id: str | None, label: str | None = None) -> Any:
        """A chatbot update: (your picture, the character's face with `label`) beside the messages."""
        face = self.face(persona_id, label)
        user = self.user_picture()
        return gr.update(avatar_images=(str(user) if user else None, str(face) if face else None))

    # -- handlers --------------------------------------------------------------------------------
    def for_chat(self, persona_id: str | None, conversation_id: str | None) -> tuple[Any, Any, str]:
        """(chatbot avatars, the large face, the line under it) for the conversation shown. In a scene the
        large face is the newest speaker's, and each reply carries its own (avatar/scenes/chat_view.py)."""
        speaker, label = self.newest_reply(conversation_id)
        persona_id = speaker or persona_id
        face = self.face(persona_id, label)
        caption = self.caption(persona_id, label, conversation_id)
        return self.for_chatbot(persona_id, conversation_id), str(face) if face else None, caption

    def for_chatbot(self, persona_id: str | None, conversation_id: str | None = None) -> Any:
        if self.ctx.scenes.is_scene(conversation_id):
            user = self.user_picture()
            return gr.update(avatar_images=(str(user) if user else None, None))
        return self.avatars(persona_id, self.newest_label(conversation_id))

    def caption(self, persona_id: str | None, label: str | None, conversation_id: str | None = None) -> str:
        """The small line under the face: the newest reply's expression, then the conversation's mood and affinity."""
        persona = self.persona(persona_id)
        if persona is None or not label:
            return ""
        line = f"{persona.name} · *{label}*"
        mood = self.ctx.moods.get(conversation_id)
        if mood is not None:
            line += f"<br>mood: {mood.name} · feels {mood.closeness} toward you ({mood.affinity:.0f}/100)"
        return f"<small>{line}</small>"

    # -- layout ----------------------------------------------------------------------------------
    def build_panel(self) -> tuple[gr.Image, gr.Markdown]:
        """The Chat tab's face: call inside its layout."""
        image = gr.Image(
            show_label=False,
            interactive=False,
            height=200,
            container=False,
            show_download_button=False,
            show_share_button=False,
            show_fullscreen_button=False,
            elem_id="chat-face",
        )
        caption = gr.Markdown(elem_id="chat-mood")
        return image, caption

    def wire_chat(
        self,
        chatbot: gr.Chatbot,
        panel: tuple[gr.Image, gr.Markdown],
        persona_picker: gr.Dropdown,
        conversation_id: gr.State,
        after: list[Any],
    ) -> None:
        """Refresh the faces when the conversation or character changes and after each reply (`after`)."""
        outputs = [chatbot, *panel]
        inputs = [persona_picker, conversation_id]
        for trigger in (conversation_id.change, persona_picker.change):
            trigger(self.for_chat, inputs, outputs, show_progress="hidden", api_name=False)
        for event in after:
            event.then(self.for_chat, inputs, outputs, show_progress="hidden", api_name=False)
