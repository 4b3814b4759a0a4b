"""Worlds in the Chat tab's "New scene" section: pick one, create or edit it, import a SillyTavern World
Info file as one, export it back, delete it."""

from __future__ import annotations

import logging
from typing import Any

import gradio as gr

from avatar.context import AppContext
from avatar.core import scratch
from avatar.core.errors import AvatarError
from avatar.worlds.schemas import WorldOut

log = logging.getLogger(__name__)

NO_WORLD = ""


def summary(world: WorldOut) -> str:
    entries = "no lorebook entries" if not world.entries else f"{world.entries} lorebook entries"
    return f"**{world.name}**: {entries}. Its lore comes back to the characters when the scene touches on it."


class WorldsSection:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    def choices(self) -> list[tuple[str, str]]:
        return [("No world", NO_WORLD), *((w.name, w.id) for w in self.ctx.worlds.list())]

    # -- handlers --------------------------------------------------------------------------------
    def show(self, world_id: str | None) -> tuple[Any, Any, str, Any]:
        """(name, description, notice, export file) for the world picked."""
        world = self.ctx.worlds.find(world_id)
        if world is None:
            return (
                "",
                "",
                "Give a new world a name and a description, or import a World Info file.",
                gr.update(value=None, visible=False),
            )
        return world.name, world.description, summary(world), gr.update(value=None, visible=False)

    def _picked(self, world: WorldOut | None, notice: str) -> tuple[Any, Any, Any, str]:
        """(world picker, name, description, notice) showing `world` (None: no world)."""
        if world is None:
            return gr.update(choices=self.choices(), value=NO_WORLD), "", "", notice
        return gr.update(choices=self.choices(), value=world.id), world.name, world.description, notice

    def create(self, name: str, description: str) -> tuple[Any, ...]:
        try:
            world = self.ctx.worlds.create(name, description)
        except AvatarError as error:
            return gr.update(), gr.update(), gr.update(), error.message
        return self._picked(world, f"Created the world {world.name}.")

    def save(self, world_id: str | None, name: str, description: str) -> tuple[Any, ...]:
        if not world_id:
            return gr.update(), gr.update(), gr.update(), "Pick a world to change first (or create a new one)."
        try:
            world = self.ctx.worlds.update(world_id, name, description)
        except AvatarError as error:
            return gr.update(), gr.update(), gr.update(), error.message
        return self._picked(world, f"Saved {world.name}.")

    def delete(self, world_id: str | None) -> tuple[Any, ...]:
        world = self.ctx.worlds.find(world_id)
        if world is None:
            return gr.update(), gr.update(), gr.update(), "Pick a world to delete first."
        self.ctx.worlds.delete(world.id)
        return self._picked(None, f"Deleted {world.name} and its lore. Its scenes go on without a world.")

    def import_file(self, path: str | None) -> tuple[Any, ...]:
        """(world picker, name, description, notice, the upload box emptied)."""
        if not path:
            return gr.update(), gr.update(), gr.update(), "", None
        try:
            world, warnings = self.ctx.worlds.import_world(path, filename=path.rsplit("/", 1)[-1])
        except AvatarError as error:
            return gr.update(), gr.update(), gr.update(), error.message, None
        notice = f"Imported {summary(world)}"
        if warnings:
            notice += "\n" + "\n".join(f"- {warning}" for warning in warnings)
        return (*self._picked(world, notice), None)

    def export(self, world_id: str | None) -> tuple[Any, str]:
        world = self.ctx.worlds.find(world_id)
        if world is None:
            return gr.update(value=None, visible=False), "Pick a world to export first."
        folder = scratch.folder("exports")  # served from there; removed when the app stops
        safe = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in world.name).strip("-") or "world"
        path = self.ctx.worlds.export_world(world.id, folder / f"{safe}.json")
        return gr.update(value=str(path), visible=True), f"{world.name} as a SillyTavern World Info file."

    # -- layout ----------------------------------------------------------------------------------
    def build_picker(self) -> gr.Dropdown:
        self.picker = gr.Dropdown(
            label="World",
            choices=self.choices(),
            value=NO_WORLD,
            filterable=False,
            info="Where the scene takes place (optional).",
            elem_id="scene-world",
        )
        return self.picker

    def build_editor(self) -> None:
        with gr.Accordion("World details", open=False, elem_id="world-details"):
            self.notice = gr.Markdown(elem_id="world-notice")
            self.name = gr.Textbox(label="Name", max_lines=1, elem_id="world-name")
            self.description = gr.Textbox(label="Description", lines=3, max_lines=12, elem_id="world-description")
            with gr.Row():
                self.create_button = gr.Button("Create world", size="sm", elem_id="world-create")
                self.save_button = gr.Button("Save", size="sm", elem_id="world-save")
                self.delete_button = gr.Button("Delete", size="sm", variant="stop", elem_id="world-delete")
            self.upload = gr.File(
                label="Import World Info (.json)",
                file_types=[".json"],
                type="filepath",
                height=100,
                elem_id="world-import",
            )
            self.export_button = gr.Button("Export World Info", size="sm", elem_id="world-export")
            self.export_file = gr.File(label="World Info file", interactive=False, visible=False)

    def wire(self) -> None:
        shown = [self.picker, self.name, self.description, self.notice]
        picked = [self.name, self.description, self.notice, self.export_file]
        self.picker.input(self.show, [self.picker], picked, show_progress="hidden", api_name=False)
        self.create_button.click(self.create, [self.name, self.description], shown, api_name=False)
        self.save_button.click(self.save, [self.picker, self.name, self.description], shown, api_name=False)
        self.delete_button.click(self.delete, [self.picker], shown, api_name=False)
        self.upload.upload(self.import_file, [self.upload], [*shown, self.upload], api_name=False)
        self.export_button.click(self.export, [self.picker], [self.export_file, self.notice], api_name=False)
