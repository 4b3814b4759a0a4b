"""The look of the app, with system fonts only: Gradio's default theme fetches web fonts from a remote
font service, and a local-first app must not make the browser call out."""

from __future__ import annotations

import gradio as gr

SYSTEM_SANS = ["system-ui", "-apple-system", "Segoe UI", "Roboto", "Helvetica Neue", "Arial", "sans-serif"]
SYSTEM_MONO = ["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"]

CSS = """
#status-banner { border-radius: 8px; padding: 4px 12px; background: var(--color-accent-soft); }
#conversation-list { max-height: 420px; overflow-y: auto; }
"""


def make_theme() -> gr.themes.Base:
    theme = gr.themes.Soft(primary_hue="violet", secondary_hue="rose", font=SYSTEM_SANS, font_mono=SYSTEM_MONO)
    # Soft draws variant="stop" buttons grey like any other; deleting and erasing should look dangerous.
    return theme.set(
        button_cancel_background_fill="*secondary_500",
        button_cancel_background_fill_hover="*secondary_600",
        button_cancel_background_fill_dark="*secondary_600",
        button_cancel_background_fill_hover_dark="*secondary_700",
        button_cancel_text_color="white",
        button_cancel_text_color_dark="white",
        button_cancel_border_color="*secondary_600",
        button_cancel_border_color_dark="*secondary_600",
    )
