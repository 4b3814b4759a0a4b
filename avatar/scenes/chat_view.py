"""A scene in the chat views: each reply under its speaker's face (with that reply's expression) and name.

Gradio's Chatbot has one picture for all the assistant's messages, so in a scene each reply starts with
its speaker's face as a small inline picture and the name in bold. The picture is a copy in Gradio's
upload folder, which Gradio serves and which is the run's scratch folder (core/scratch.py): removed when
the app stops.
"""

from __future__ import annotations

import html
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import quote

from gradio import utils as gradio_utils

from avatar.context import AppContext
from avatar.conversations.rendering import ChatHistory
from avatar.conversations.schemas import MessageOut
from avatar.core.errors import AvatarError
from avatar.personas.schemas import Persona

SCENE_CSS = """
#chatbot img.scene-face, #voice-chatbot img.scene-face {
  width: 40px; height: 40px; border-radius: 50%; object-fit: cover;
  display: inline-block; vertical-align: middle; margin: 0 8px 2px 0;
}
.scene-slot img { object-fit: cover; border-radius: 12px; }
"""


def served_url(path: Path) -> str:
    """A URL the page can load `path` from: a copy in Gradio's upload folder (faces are named by content)."""
    folder = Path(gradio_utils.get_upload_folder()) / "scene-faces"
    target = folder / path.name
    if not target.exists():
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    return "/gradio_api/file=" + quote(str(target.resolve()))


class SceneFaces:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    def persona(self, persona_id: str | None) -> Persona | None:
        try:
            return self.ctx.personas.get(persona_id) if persona_id else None
        except AvatarError:
            return None

    def name(self, persona_id: str | None) -> str:
        persona = self.persona(persona_id)
        return persona.name if persona is not None else (persona_id or "Someone")

    def header(self, speaker_id: str | None, label: str | None = None) -> str:
        """The start of a reply: the speaker's face (showing `label`) and name."""
        face = self.ctx.faces.face(self.persona(speaker_id), label)
        name = html.escape(self.name(speaker_id))
        picture = f'<img src="{served_url(face)}" alt="" class="scene-face">' if face is not None else ""
        return f"{picture}**{name}**"

    def bubble(self, speaker_id: str | None, text: str) -> dict[str, Any]:
        """A reply being said, under its speaker's face and name."""
        return {"role": "assistant", "content": f"{self.header(speaker_id)}\n\n{text}"}

    def decorate(self, messages: list[MessageOut], rendered: ChatHistory, first: str | None) -> ChatHistory:
        """The rendered conversation (render_messages) with each reply's speaker above it."""
        shown = []
        for message, item in zip(messages, rendered):
            if message.role.value == "assistant":
                header = self.header(message.speaker_id or first, message.emotion)
                item = {**item, "content": f"{header}\n\n{item['content']}"}
            shown.append(item)
        return shown
