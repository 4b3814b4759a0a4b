"""The "About you" section: your name (what {{user}} becomes) and a short "about me" every character knows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr

from avatar.core.errors import AvatarError
from avatar.profile.schemas import MAX_ABOUT_CHARS
from avatar.profile.service import ProfileService

_KEEP: Any = object()  # save() called without a picture (the Chat tab's name question): leave it as it is


class ProfileSection:
    """Handlers are methods so they share the service; the components are built in build()."""

    def __init__(self, profile: ProfileService) -> None:
        self.profile = profile

    def load(self) -> tuple[str, str, str]:
        profile = self.profile.get()
        return profile.name, profile.about_me, self.profile.problem

    def load_picture(self) -> str | None:
        from avatar.personas.images import preview_of  # served from the run's scratch folder

        picture = self.profile.picture()
        return str(preview_of(picture, "")) if picture else None

    def save(self, name: str, about_me: str, picture: str | None = _KEEP) -> tuple[Any, Any, str]:
        """Save the name and about-me; `picture` (a file the form shows, or None for none) when given by the form."""
        try:
            profile = self.profile.save(name, about_me)
            if picture is not _KEEP:
                self.profile.save_picture(Path(picture).read_bytes() if picture else None)
        except AvatarError as error:
            return gr.update(), gr.update(), error.message
        except OSError as error:
            return gr.update(), gr.update(), f"The picture could not be read: {error.strerror or error}."
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
            picture = gr.Image(
                label="Your picture (optional)",
                type="filepath",
                sources=["upload", "clipboard"],
                height=160,
                show_download_button=False,
                show_share_button=False,
                elem_id="profile-picture",
            )
            save = gr.Button("Save profile", elem_id="profile-save")
            status = gr.Markdown(elem_id="profile-status")
        self.components = {"name": name, "about_me": about_me, "status": status, "picture": picture}
        self.saved = save.click(self.save, [name, about_me, picture], [name, about_me, status], api_name=False)

    def reload_after(self, event: Any) -> None:
        """Show the profile anew after `event` (the Chat tab saved the name): a stale form would save it away."""
        c = self.components
        event.then(self.load, None, [c["name"], c["about_me"], c["status"]], show_progress="hidden", api_name=False)

    def wire_load(self, demo: gr.Blocks) -> None:
        c = self.components
        demo.load(self.load, None, [c["name"], c["about_me"], c["status"]], show_progress="hidden", api_name=False)
        demo.load(self.load_picture, None, [c["picture"]], show_progress="hidden", api_name=False)
