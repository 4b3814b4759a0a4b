"""The Privacy tab: what stays on this machine, export everything, and erase, each with a confirmation."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import gradio as gr

from avatar.context import AppContext
from avatar.core import scratch
from avatar.core.wording import counted
from avatar.privacy import data_controls

CHECKLIST = """
### What stays on this machine
- **Everything you say** is stored in one file, `{db}`, and nowhere else.
- **The app listens on {where}.** {lan_note}
- **No analytics, no telemetry, no share links.** Gradio analytics and Hugging Face telemetry are off.
- **The page loads nothing from the internet**: no web fonts, no CDN scripts.
- **Models run here.** Chat goes to the model server you configured (`{model_server}`); speech and memory
  models run inside this app. A model is downloaded only the first time it is needed{offline_note}.
- **Logs hold no message text** unless you start the app with `--log-prompts`.
"""

ERASE_ACTIONS = {
    "conversations": "Delete all of this character's conversations",
    "memories": "Delete all memories",
    "everything": "Erase everything (conversations, memories, your characters, your profile)",
}


class PrivacyTab:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    def checklist(self) -> str:
        settings = self.ctx.settings
        return CHECKLIST.format(
            db=settings.db_path,
            where="all network interfaces, over HTTPS with a login" if settings.lan else "127.0.0.1 only",
            lan_note="" if settings.lan else "Other devices cannot reach it unless you start it with `--lan`.",
            model_server=settings.ollama_host if settings.provider == "ollama" else settings.openai_base_url,
            offline_note=" (downloads are off: `--offline`)" if settings.offline else "",
        )

    def _stamp(self) -> str:
        return datetime.now().strftime("%Y%m%d-%H%M%S")

    def export_all(self) -> tuple[Any, str]:
        path = data_controls.export_archive(self.ctx, scratch.folder("exports") / f"local-avatar-{self._stamp()}.zip")
        return gr.update(value=str(path), visible=True), "Your export is ready: download it below."

    def export_finetune(self, persona_id: str | None) -> tuple[Any, str]:
        path = scratch.folder("exports") / f"local-avatar-finetune-{self._stamp()}.jsonl"
        count = data_controls.export_finetune_jsonl(self.ctx, path, persona_id or None)
        if count == 0:
            return gr.update(visible=False), "There are no conversations with replies to export yet."
        return gr.update(
            value=str(path), visible=True
        ), f"{counted(count, 'conversation')} exported as a fine-tuning dataset."

    def ask(self, action: str | None, persona_id: str | None) -> tuple[Any, str]:
        if action not in ERASE_ACTIONS:
            return gr.update(visible=False), "Choose what to erase first."
        if action == "conversations" and not persona_id:
            return gr.update(visible=False), "Pick the character in the Chat tab first."
        target = f" ({self.ctx.personas.get(persona_id).name})" if action == "conversations" else ""
        return gr.update(visible=True), f"**{ERASE_ACTIONS[action]}{target}?** This cannot be undone."

    def erase(self, action: str | None, persona_id: str | None) -> tuple[Any, str]:
        if action == "conversations" and persona_id:
            count = data_controls.delete_persona_conversations(self.ctx, persona_id)
            message = f"Deleted {counted(count, 'conversation')}."
        elif action == "memories":
            count = data_controls.delete_all_memories(self.ctx)
            message = f"Deleted {counted(count, 'memory', 'memories')}."
        elif action == "everything":
            data_controls.wipe_everything(self.ctx)
            message = "Erased everything. Reload the page to start fresh."
        else:
            message = "Nothing erased."
        return gr.update(visible=False), message

    def build(self, persona_picker: gr.Dropdown) -> None:
        with gr.Tab("Privacy", id="privacy"):
            gr.Markdown(self.checklist(), elem_id="privacy-checklist")
            with gr.Row():
                with gr.Column():
                    gr.Markdown("### Take your data with you")
                    export_button = gr.Button("Export everything (.zip)", elem_id="privacy-export")
                    finetune_button = gr.Button(
                        "Export conversations as a fine-tuning dataset (.jsonl)", elem_id="privacy-finetune"
                    )
                    export_file = gr.File(
                        label="Download", visible=False, interactive=False, elem_id="privacy-download"
                    )
                    export_notice = gr.Markdown(elem_id="privacy-export-notice")
                with gr.Column():
                    gr.Markdown("### Erase")
                    action = gr.Radio(
                        [(label, key) for key, label in ERASE_ACTIONS.items()],
                        label="What to erase",
                        value=None,
                        elem_id="privacy-erase-what",
                    )
                    erase_button = gr.Button("Erase…", variant="stop", elem_id="privacy-erase")
                    confirm_button = gr.Button(
                        "Yes, erase it", variant="stop", visible=False, elem_id="privacy-confirm-erase"
                    )
                    erase_notice = gr.Markdown(elem_id="privacy-erase-notice")
        export_button.click(self.export_all, None, [export_file, export_notice], api_name=False)
        finetune_button.click(self.export_finetune, [persona_picker], [export_file, export_notice], api_name=False)
        erase_button.click(self.ask, [action, persona_picker], [confirm_button, erase_notice], api_name=False)
        action.input(lambda: (gr.update(visible=False), ""), None, [confirm_button, erase_notice], api_name=False)
        confirm_button.click(self.erase, [action, persona_picker], [confirm_button, erase_notice], api_name=False)
