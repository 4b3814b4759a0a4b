"""The "About you" section: your name (what {{user}} becomes) and a short "about me" every character knows."""

from __future__ import annotations

from typing import Any

import gradio as gr

from avatar.core.errors import AvatarError
from avatar.profile.schemas import MAX_ABOUT_CHARS
from avatar.profile.service import ProfileService


class ProfileSection:
    """Handlers are methods so they share the service; the components are built in build()."""

    def __init__(self, profile: ProfileService) -> None:
        self.profile = profile

    def load(self) -> tuple[str, str, str]:
        profile = self.profile.get()
        return profile.name, profile.about_me, self.profile.problem

    def save(self, name: str, about_me: str) -> tuple[Any, Any, str]:
        try:
            profile = self.profile.save(name, about_me)
        except AvatarError as error:
            return gr.update(), gr.update(), error.message
        shown = profile.name or self.profile.default_name
        return profile.name, profile.about_me, f"Saved. Characters will call you {shown}."

    def build(self) -> None:
        with gr.Accordion("About you", open=False, elem_id="profile"):
            gr.Markdown("Every persona knows this. It stays on this computer, like everything else.")
            name = gr.Textbox(
                label="Your name",
                max_lines=1,
                placeholder=self.profile.default_name,
                info="What they call you: it fills {{user}} in persona files.",
                elem_id="profile-name",
            )
            about_me = gr.Textbox(
                label="About me",
                lines=3,
                max_lines=8,
                max_length=MAX_ABOUT_CHARS,
                placeholder="I'm a nurse in Lyon, I love climbing and I'm learning Japanese.",
                info="A few lines about you that every persona is told.",
                elem_id="profile-about",
            )
            save = gr.Button("Save profile", elem_id="profile-save")
            status = gr.Markdown(elem_id="profile-status")
        self.components = {"name": name, "about_me": about_me, "status": status}
        self.saved = save.click(self.save, [name, about_me], [name, about_me, status], api_name=False)

    def reload_after(self, event: Any) -> None:
        """Show the profile anew after `event` (the Chat tab saved the name): a stale form would save it away."""
        c = self.components
        event.then(self.load, None, [c["name"], c["about_me"], c["status"]], show_progress="hidden", api_name=False)

    def wire_load(self, demo: gr.Blocks) -> None:
        c = self.components
        demo.load(self.load, None, [c["name"], c["about_me"], c["status"]], show_progress="hidden", api_name=False)
