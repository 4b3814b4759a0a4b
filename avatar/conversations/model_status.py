"""The Chat tab's model status: the banner when the model server or the model is missing, and the Model list."""

from __future__ import annotations

from typing import Any

import gradio as gr

from avatar.core.wording import counted
from avatar.llm.base import ProviderHealth, listed_name

MODEL_INFO = (
    "Used from the next message on, and remembered. A character with its own model "
    "(set under Personas) keeps using that one."
)
MODEL_INFO_FLAG = MODEL_INFO + " At the next start, --model / AVATAR_MODEL decides again."


def banner_text(health: ProviderHealth, provider_name: str) -> str:
    if not health.reachable:
        return f"**Model server not reachable.** {health.detail}"
    if not health.listed:
        return f"**The model server answered with an error.** {health.detail}"
    if not health.model_available:
        if not health.models:
            return f"**Model missing.** {health.detail}"
        # Most people already have a model or two: picking one beats a download of gigabytes.
        pull = ", or download it with the Pull button" if health.can_pull else ""
        return (
            f"**Model missing.** The model server has no '{health.model}'. Pick one of your "
            f"{counted(len(health.models), 'installed model')} in the **Model** list on the left{pull}."
        )
    return ""


def model_picker_update(health: ProviderHealth, shown: str | None, info: str) -> Any:
    """The Model dropdown for what the server lists. `shown`: the value the page shows now; the value
    is sent only when it changes (sent with the choices, it makes Gradio filter the open list to it)."""
    model = health.model
    if not health.reachable or not health.listed:
        # Nothing to choose from while the server is down: keep the list, show the model in use.
        return gr.update() if shown == model else gr.update(choices=[model], value=model)
    if not health.models:
        # An OpenAI-compatible server that lists nothing usually answers under any name.
        why = "Download one with the Pull button." if health.can_pull else "Set the model with --model / AVATAR_MODEL."
        info = f"The model server lists no models. {why}"
        return gr.update(choices=[model], value=model, interactive=False, info=info)
    value = listed_name(model, health.models)
    choices: list[tuple[str, str]] = [(m, m) for m in health.models]
    if value is None:
        value = model
        choices.insert(0, (f"{model} (not installed)", model))
    update: dict[str, Any] = {"choices": choices, "interactive": True, "info": info}
    if shown != value:
        update["value"] = value
    return gr.update(**update)
