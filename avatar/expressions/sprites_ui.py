"""The Personas tab's Expressions section: the character's sprites, and importing a SillyTavern sprite pack."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr

from avatar.context import AppContext
from avatar.core.errors import AvatarError
from avatar.expressions.labels import LABELS


class SpriteSection:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    def show(self, persona_id: str | None) -> tuple[Any, str]:
        """(the sprites as a gallery, a line saying how many) for the persona in the editor."""
        if not persona_id:
            return [], "Save the character first; then you can give it expressions."
        try:
            persona = self.ctx.personas.get(persona_id)
        except AvatarError as error:
            return [], error.message
        labels = self.ctx.faces.labels(persona)
        shown = [(str(self.ctx.faces.face(persona, label)), label) for label in labels]
        if not labels:
            return [], (
                f"{persona.name} has no expression sprites: the portrait stands in for every expression. "
                "Import a pack below."
            )
        return shown, f"{persona.name} has {len(labels)} of the {len(LABELS)} expressions."

    def import_files(self, persona_id: str | None, files: list[str] | None) -> tuple[Any, str, None]:
        if not files:
            return gr.update(), "", None
        if not persona_id:
            return gr.update(), "Save the character first; then import its expressions.", None
        try:
            result = self.ctx.faces.import_pack(persona_id, [Path(f) for f in files])
        except AvatarError as error:
            return gr.update(), f"Could not import the sprites: {error.message}", None
        gallery, _ = self.show(persona_id)
        return gallery, result.summary(), None

    def build(self, current_id: gr.State) -> None:
        with gr.Accordion("Expressions", open=False, elem_id="persona-expressions"):
            gr.Markdown(
                "A picture per emotion, shown beside the newest reply and on calls when the reply feels that way. "
                "Import a sprite pack as SillyTavern has them: a .zip or the pictures themselves, named after "
                "the labels (`joy.png`, `anger.png`, … all 28: " + ", ".join(LABELS) + ")."
            )
            status = gr.Markdown(elem_id="persona-expressions-status")
            gallery = gr.Gallery(
                columns=7,
                height=260,
                allow_preview=False,
                show_label=False,
                show_download_button=False,
                show_share_button=False,
                show_fullscreen_button=False,
                interactive=False,
                elem_id="persona-expressions-gallery",
            )
            upload = gr.File(
                label="Import sprites (.zip or pictures)",
                file_count="multiple",
                file_types=[".zip", ".png", ".webp", ".jpg", ".jpeg", ".gif"],
                type="filepath",
                height=100,
                elem_id="persona-expressions-import",
            )
        current_id.change(self.show, [current_id], [gallery, status], show_progress="hidden", api_name=False)
        upload.upload(
            self.import_files, [current_id, upload], [gallery, status, upload], show_progress="hidden", api_name=False
        )
