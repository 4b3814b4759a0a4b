"""The Personas tab: browse, create, edit, duplicate, delete, import and export characters, and try one out."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import gradio as gr
from pydantic import ValidationError

from avatar.context import AppContext
from avatar.core import scratch
from avatar.core.errors import AvatarError
from avatar.expressions.sprites_ui import SpriteSection
from avatar.expressions.ui import Faces
from avatar.personas.card_fields import join_examples
from avatar.personas.form import (
    DEFAULT_RATE,
    FORM_FIELDS,
    MEMORY_CHOICES,
    join_greetings,
    persona_from_form,
    validation_message,
)
from avatar.personas.images import preview_of
from avatar.personas.schemas import DEFAULT_CHARACTER_NOTE_DEPTH, MAX_CHARACTER_NOTE_DEPTH, Persona
from avatar.personas.service import Deleted
from avatar.profile.ui import ProfileSection

log = logging.getLogger(__name__)

ChatHistory = list[dict[str, Any]]


class PersonasTab:
    """Handlers are methods so they share the app context; the components are built in build().

    Every handler that changes what is shown returns the whole editor view (see view()), so the
    gallery, the form and the notices never disagree.
    """

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.profile = ctx.profile
        self.profile_section = ProfileSection(self.profile)

    # -- helpers ---------------------------------------------------------------------------
    def gallery_items(self) -> tuple[list[tuple[str, str]], list[str]]:
        """(gallery value: (picture, caption) pairs, the persona ids in the same order)."""
        personas = self.ctx.personas.list()
        items = [(str(preview_of(self.ctx.personas.image_path(p), p.name)), p.name) for p in personas]
        return items, [p.id for p in personas]

    def form_values(self, persona: Persona | None) -> list[Any]:
        """The editor's values for `persona` (a blank form for None), in FORM_FIELDS order."""
        if persona is None:
            values: dict[str, Any] = {
                "voice_rate": DEFAULT_RATE,
                "memory_policy": "strict",
                "character_note_depth": DEFAULT_CHARACTER_NOTE_DEPTH,
            }
        else:
            image = self.ctx.personas.image_path(persona)
            values = {
                "name": persona.name,
                "image": str(preview_of(image, persona.name)) if image else None,
                "tagline": persona.tagline,
                "description": persona.description,
                "personality": persona.personality,
                "scenario": persona.scenario,
                "greeting": persona.greeting,
                "alternate_greetings": join_greetings(persona.alternate_greetings),
                "style_do": "\n".join(persona.style.do),
                "style_dont": "\n".join(persona.style.dont),
                "example_dialogues": join_examples(persona.example_dialogues).strip(),
                "system_prompt": persona.system_prompt,
                "post_history_instructions": persona.post_history_instructions,
                "character_note": persona.character_note,
                "character_note_depth": persona.character_note_depth,
                "boundaries": "\n".join(persona.boundaries),
                "voice_id": persona.voice.id or "",
                "voice_rate": persona.voice.rate,
                "model": persona.model or "",
                "memory_policy": persona.memory_policy,
                "tags": ", ".join(persona.tags),
                "creator_notes": persona.creator_notes,
            }
        return [values.get(name, None if name == "image" else "") for name in FORM_FIELDS]

    def heading(self, persona: Persona | None) -> str:
        if persona is None:
            return "### New character\nGive it at least a name, then **Save**."
        where = self.ctx.settings.user_personas_dir
        if persona.builtin:
            note = f"Comes with the app. Saving keeps your own copy in `{where}`; the original stays as it is."
        elif self.ctx.personas.is_builtin_id(persona.id):
            note = "Your copy of a character that comes with the app. Delete it to bring the original back."
        else:
            note = f"Your character, saved in `{where}`."
        return f"### {persona.name}\n`{persona.id}` · {note}"

    def persona_or_none(self, persona_id: str | None) -> Persona | None:
        if not persona_id:
            return None
        try:
            return self.ctx.personas.get(persona_id)
        except AvatarError:
            return None

    def view(self, persona_id: str | None, status: str = "", list_may_change: bool = True) -> tuple[Any, ...]:
        """Everything the editor shows for `persona_id` (None: a blank form), in view_outputs order.

        list_may_change=False leaves the revision alone: other tabs' persona lists are not refreshed
        (on page load they fill themselves, and a second update racing the first can garble a dropdown).
        """
        persona = self.persona_or_none(persona_id)
        items, ids = self.gallery_items()
        selected = ids.index(persona.id) if persona is not None and persona.id in ids else None
        return (
            persona.id if persona else None,
            self.heading(persona),
            *self.form_values(persona),
            gr.update(value=items, selected_index=selected),
            ids,
            status,
            gr.update(visible=False),  # the delete confirmation
            gr.update(value=None, visible=False),  # exported files belong to the persona shown before
            [],  # preview chat: a fresh one for every character
            None,
            time.monotonic_ns() if list_may_change else gr.update(),  # revision: other tabs refresh their lists
        )

    def unchanged(self, status: str) -> tuple[Any, ...]:
        """Only the notice changes (a refused change keeps what the user typed)."""
        count = 2 + len(FORM_FIELDS) + 2
        return (*[gr.update()] * count, status, *[gr.update()] * 5)

    def form_dict(self, values: Sequence[Any]) -> dict[str, Any]:
        return dict(zip(FORM_FIELDS, values, strict=True))

    def image_change(self, persona: Persona | None, image: str | None) -> tuple[bytes | None, bool]:
        """(new picture bytes or None, remove the picture?) from the image box's file.

        The box shows a preview of the stored picture; getting those very bytes back means "unchanged".
        """
        stored = self.ctx.personas.image_path(persona) if persona is not None else None
        if not image:
            return None, stored is not None
        try:
            data = Path(image).read_bytes()
        except OSError:
            return None, False
        if stored is not None and data == preview_of(stored, persona.name).read_bytes():
            return None, False
        return data, False

    # -- handlers --------------------------------------------------------------------------
    def load(self) -> tuple[Any, ...]:
        return self.view(self.ctx.personas.default_id(), list_may_change=False)

    def open(self, persona_id: str | None) -> tuple[Any, ...]:
        return self.view(persona_id, list_may_change=False)

    def select(self, ids: list[str] | None, current_id: str | None, evt: gr.SelectData) -> tuple[Any, ...]:
        index = evt.index if isinstance(evt.index, int) else None
        if not ids or index is None or not 0 <= index < len(ids):
            return self.unchanged("")
        if ids[index] == current_id:
            # Also fired when the gallery is refreshed with this selection: keep the notice and the edits.
            return self.unchanged(gr.update())
        return self.view(ids[index], list_may_change=False)

    def new(self) -> tuple[Any, ...]:
        return self.view(None)

    def save(self, current_id: str | None, *values: Any) -> tuple[Any, ...]:
        form = self.form_dict(values)
        try:
            persona_file = persona_from_form(form)
        except ValidationError as error:
            return self.unchanged(validation_message(error))
        current = self.persona_or_none(current_id)
        try:
            image, remove_image = self.image_change(current, form["image"])
            if current is None:
                saved = self.ctx.personas.create(persona_file, image=image)
                status = f"Created {saved.name}."
            else:
                was_builtin = current.builtin
                saved = self.ctx.personas.update(current.id, persona_file, image=image, remove_image=remove_image)
                status = f"Saved your copy of {saved.name}." if was_builtin else f"Saved {saved.name}."
        except AvatarError as error:
            return self.unchanged(error.message)
        return self.view(saved.id, status)

    def duplicate(self, current_id: str | None) -> tuple[Any, ...]:
        if not current_id:
            return self.unchanged("Save this character first; then you can duplicate it.")
        try:
            copy = self.ctx.personas.duplicate(current_id)
        except AvatarError as error:
            return self.unchanged(error.message)
        return self.view(copy.id, f"Made a copy: {copy.name}.")

    def ask_delete(self, current_id: str | None) -> tuple[Any, str]:
        persona = self.persona_or_none(current_id)
        if persona is None:
            return gr.update(visible=False), "There is no saved character selected."
        if persona.builtin:
            return (
                gr.update(visible=False),
                f"{persona.name} comes with the app and cannot be deleted. Edit it to make your own version.",
            )
        if self.ctx.personas.is_builtin_id(persona.id):
            question = f"Delete your changes to {persona.name}? The original that comes with the app comes back."
        else:
            question = f"Delete {persona.name} and its picture? Its conversations stay in the database."
        return gr.update(visible=True), question

    def delete(self, current_id: str | None) -> tuple[Any, ...]:
        persona = self.persona_or_none(current_id)
        if persona is None:
            return self.unchanged("There is no saved character selected.")
        try:
            outcome = self.ctx.personas.delete(persona.id)
        except AvatarError as error:
            return self.unchanged(error.message)
        if outcome is Deleted.override:
            return self.view(persona.id, f"Your changes to {persona.name} are gone; the original is back.")
        return self.view(self.ctx.personas.default_id(), f"Deleted {persona.name}.")

    def import_card(self, file: str | None) -> tuple[Any, ...]:
        """Import an uploaded .png/.json card, open the new persona and show the card's warnings."""
        if not file:
            return (*self.unchanged(""), None)
        path = Path(file)
        try:
            persona, warnings = self.ctx.personas.import_card(path, filename=path.name)
        except AvatarError as error:
            return (*self.unchanged(f"Could not import {path.name}: {error.message}"), None)
        status = f"Imported {persona.name}."
        if warnings:
            status += "\n" + "\n".join(f"- {warning}" for warning in warnings)
        return (*self.view(persona.id, status), None)

    def export(self, current_id: str | None) -> tuple[Any, str]:
        """Write the persona as a V2 PNG card and a V2 JSON card, offered for download."""
        persona = self.persona_or_none(current_id)
        if persona is None:
            return gr.update(value=None, visible=False), "Save this character first; then you can export it."
        folder = scratch.folder("exports") / persona.id  # served from there; removed when the app stops
        folder.mkdir(exist_ok=True)
        try:
            files = [
                str(self.ctx.personas.export_card(persona.id, folder / f"{persona.id}.{kind}"))
                for kind in ("png", "json")
            ]
        except (AvatarError, OSError) as error:
            message = error.message if isinstance(error, AvatarError) else str(error)
            return gr.update(value=None, visible=False), f"Could not export {persona.name}: {message}"
        return gr.update(value=files, visible=True), f"{persona.name} as a card: a PNG picture and a JSON file."

    async def preview_send(
        self, text: str, persona_id: str | None, conversation_id: str | None, shown: ChatHistory | None
    ) -> AsyncIterator[tuple[Any, ...]]:
        """A quick chat with the saved persona, in a conversation of its own (it shows in the Chat tab)."""
        if not (text or "").strip():
            yield gr.update(), gr.update(), conversation_id, "Type a message first."
            return
        if not persona_id:
            yield text, gr.update(), conversation_id, "Save this character first to try it."
            return
        base = [*(shown or [])]
        try:
            if not conversation_id:
                conversation_id = self.ctx.chat.start_conversation(persona_id)
                greeting = self.ctx.chat.greeting(self.ctx.personas.get(persona_id))
                base = [{"role": "assistant", "content": greeting}] if greeting else []
            base.append({"role": "user", "content": text})
            async for update in self.ctx.chat.send(persona_id, conversation_id, text):
                reply = [{"role": "assistant", "content": update.reply}] if update.reply else []
                if update.done and update.error and update.reply_message_id is None:
                    yield "", base, conversation_id, update.error
                    return
                yield "", base + reply, conversation_id, ""
        except AvatarError as error:
            yield gr.update(), gr.update(), conversation_id, error.message

    def preview_reset(self) -> tuple[ChatHistory, None, str]:
        return [], None, ""

    def refresh_choices(self, current: str | None) -> Any:
        """For another tab's persona dropdown: the current list, keeping its selection if it still exists.

        Wire it with wire_persona_refresh(dropdown); it runs whenever this tab changes a persona.
        """
        personas = self.ctx.personas.list()
        ids = [p.id for p in personas]
        value = current if current in ids else (ids[0] if ids else None)
        return gr.update(choices=[(p.name, p.id) for p in personas], value=value)

    # -- layout ----------------------------------------------------------------------------
    def build(self) -> None:
        with gr.Tab("Personas", id="personas"):
            self.profile_section.build()
            current_id = gr.State(None)
            ids = gr.State([])
            revision = gr.State(0)
            with gr.Row():
                with gr.Column(scale=1, min_width=260):
                    new_button = gr.Button("+ New character", elem_id="persona-new")
                    gallery = gr.Gallery(
                        label="Characters",
                        columns=2,
                        height=560,
                        allow_preview=False,
                        object_fit="cover",
                        show_download_button=False,
                        show_share_button=False,
                        show_fullscreen_button=False,
                        interactive=False,
                        elem_id="persona-gallery",
                    )
                    import_file = gr.File(
                        label="Import a card (.png, .json)",  # one line: a longer label covers the drop area
                        file_types=[".png", ".json"],
                        type="filepath",
                        height=120,
                        elem_id="persona-import",
                    )
                with gr.Column(scale=3):
                    heading = gr.Markdown(elem_id="persona-heading")
                    status = gr.Markdown(elem_id="persona-status")
                    with gr.Row():
                        save_button = gr.Button("Save", variant="primary", elem_id="persona-save")
                        duplicate_button = gr.Button("Duplicate", elem_id="persona-duplicate")
                        export_button = gr.Button("Export card", elem_id="persona-export")
                        delete_button = gr.Button("Delete", variant="stop", elem_id="persona-delete")
                        confirm_delete = gr.Button(
                            "Yes, delete it", variant="stop", visible=False, elem_id="persona-confirm-delete"
                        )
                    export_files = gr.File(label="Card files", file_count="multiple", interactive=False, visible=False)
                    form = self._build_form()
                    SpriteSection(self.ctx).build(current_id)
                    with gr.Accordion("Try it", open=False, elem_id="persona-preview"):
                        gr.Markdown("A quick chat with the saved version (save your edits first). It starts fresh.")
                        preview_chat = gr.Chatbot(
                            type="messages", height=300, label="Preview", elem_id="persona-preview-chat"
                        )
                        preview_box = gr.Textbox(
                            show_label=False, placeholder="Say hello… (Enter to send)", lines=1, max_lines=4
                        )
                        with gr.Row():
                            preview_send = gr.Button("Send", variant="primary")
                            preview_reset = gr.Button("Start over")
                        preview_notice = gr.Markdown()
                    preview_id = gr.State(None)

        form_components = [form[name] for name in FORM_FIELDS]
        view_outputs = [
            current_id,
            heading,
            *form_components,
            gallery,
            ids,
            status,
            confirm_delete,
            export_files,
            preview_chat,
            preview_id,
            revision,
        ]
        self.revision = revision
        self.components = {"view_outputs": view_outputs, "gallery": gallery, "status": status}

        gallery.select(self.select, [ids, current_id], view_outputs, show_progress="hidden", api_name=False)
        new_button.click(self.new, None, view_outputs, api_name=False)
        save_button.click(self.save, [current_id, *form_components], view_outputs, api_name=False)
        duplicate_button.click(self.duplicate, [current_id], view_outputs, api_name=False)
        delete_button.click(self.ask_delete, [current_id], [confirm_delete, status], api_name=False)
        confirm_delete.click(self.delete, [current_id], view_outputs, api_name=False)
        export_button.click(self.export, [current_id], [export_files, status], api_name=False)
        import_file.upload(self.import_card, [import_file], [*view_outputs, import_file], api_name=False)

        send_inputs = [preview_box, current_id, preview_id, preview_chat]
        send_outputs = [preview_box, preview_chat, preview_id, preview_notice]
        sent = [
            preview_box.submit(self.preview_send, send_inputs, send_outputs, show_progress="hidden", api_name=False),
            preview_send.click(self.preview_send, send_inputs, send_outputs, show_progress="hidden", api_name=False),
        ]
        # The character's face beside its messages, following its newest reply's expression.
        faces = Faces(self.ctx)
        for event in (current_id.change, *(event.then for event in sent)):
            event(faces.for_chatbot, [current_id, preview_id], [preview_chat], show_progress="hidden", api_name=False)
        preview_reset.click(self.preview_reset, None, [preview_chat, preview_id, preview_notice], api_name=False)

    def _build_form(self) -> dict[str, gr.components.Component]:
        f: dict[str, gr.components.Component] = {}
        with gr.Row():
            with gr.Column(scale=1, min_width=200):
                f["image"] = gr.Image(
                    label="Picture",
                    type="filepath",
                    image_mode=None,  # keep the upload as it is (transparency too); it is converted on save
                    sources=["upload", "clipboard"],
                    height=300,
                    show_download_button=False,
                    show_share_button=False,
                    elem_id="persona-image",
                )
            with gr.Column(scale=2):
                f["name"] = gr.Textbox(label="Name", max_lines=1, elem_id="persona-name")
                f["tagline"] = gr.Textbox(
                    label="Tagline", max_lines=1, info="One line shown under the name.", elem_id="persona-tagline"
                )
                f["tags"] = gr.Textbox(label="Tags", max_lines=1, info="Comma-separated.")
        with gr.Accordion("Who they are", open=True):
            f["description"] = gr.Textbox(label="Description", lines=3, max_lines=12)
            f["personality"] = gr.Textbox(label="Personality", lines=2, max_lines=8)
            f["scenario"] = gr.Textbox(label="Scenario", lines=2, max_lines=8)
            f["greeting"] = gr.Textbox(
                label="Greeting", lines=2, max_lines=8, info="Their first message.", elem_id="persona-greeting"
            )
            f["alternate_greetings"] = gr.Textbox(
                label="Alternate greetings", lines=2, max_lines=10, info="Separate greetings with a line of ---."
            )
        with gr.Accordion("How they talk", open=False):
            with gr.Row():
                f["style_do"] = gr.Textbox(label="Style: do", lines=3, max_lines=10, info="One rule per line.")
                f["style_dont"] = gr.Textbox(label="Style: don't", lines=3, max_lines=10, info="One rule per line.")
            f["example_dialogues"] = gr.Textbox(
                label="Example dialogues",
                lines=4,
                max_lines=16,
                info="Lines like '{{user}}: …' and '{{char}}: …'. Separate dialogues with a line <START>.",
            )
        with gr.Accordion("Instructions", open=False):
            f["system_prompt"] = gr.Textbox(label="System prompt", lines=3, max_lines=12, info="Extra instructions.")
            f["post_history_instructions"] = gr.Textbox(
                label="Post-history instructions",
                lines=2,
                max_lines=8,
                info="Sent after the conversation on every turn: the last thing the model reads.",
            )
            with gr.Row():
                f["character_note"] = gr.Textbox(
                    label="Character's note",
                    lines=2,
                    max_lines=8,
                    scale=4,
                    info="A reminder put into the conversation itself on every turn, to keep the voice "
                    "(SillyTavern's Character's Note).",
                    elem_id="persona-character-note",
                )
                f["character_note_depth"] = gr.Number(
                    label="Note depth",
                    value=DEFAULT_CHARACTER_NOTE_DEPTH,
                    minimum=0,
                    maximum=MAX_CHARACTER_NOTE_DEPTH,
                    precision=0,
                    scale=1,
                    min_width=120,
                    info="Messages from the end; 0 is after your newest.",
                    elem_id="persona-character-note-depth",
                )
            f["boundaries"] = gr.Textbox(label="Boundaries", lines=2, max_lines=8, info="One per line.")
        with gr.Accordion("Voice, model and memory", open=False):
            with gr.Row():
                f["voice_id"] = gr.Textbox(label="Voice id", max_lines=1, placeholder="en_US-amy-medium")
                f["voice_rate"] = gr.Slider(
                    label="Speaking rate", minimum=0.3, maximum=4.0, step=0.05, value=DEFAULT_RATE
                )
            f["model"] = gr.Textbox(
                label="Model override",
                max_lines=1,
                placeholder="e.g. qwen2.5:7b",
                info="Leave empty to use the model picked in the Chat tab's Model list.",
            )
            f["memory_policy"] = gr.Radio(label="Memory", choices=MEMORY_CHOICES, value="strict")
        with gr.Accordion("Creator notes", open=False):
            f["creator_notes"] = gr.Textbox(
                label="Creator notes",
                lines=3,
                max_lines=12,
                info="For people reading the file; never sent to the model.",
            )
        return f

    def wire_load(self, demo: gr.Blocks) -> None:
        demo.load(self.load, None, self.components["view_outputs"], show_progress="hidden", api_name=False)
        self.profile_section.wire_load(demo)

    def wire_persona_refresh(self, dropdown: gr.Dropdown) -> None:
        """Keep another tab's persona dropdown in step with this tab's changes (for the lead to wire)."""
        self.revision.change(self.refresh_choices, [dropdown], [dropdown], show_progress="hidden", api_name=False)
