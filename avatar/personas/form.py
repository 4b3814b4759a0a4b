"""The persona editor's form: its inputs in order, the labels they show, and their values -> a persona file."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from avatar.personas.card_fields import split_examples
from avatar.personas.schemas import DEFAULT_CHARACTER_NOTE_DEPTH, PersonaFile

# The editor's inputs, in the order save() takes them.
FORM_FIELDS = (
    "name",
    "image",
    "tagline",
    "description",
    "personality",
    "scenario",
    "greeting",
    "alternate_greetings",
    "style_do",
    "style_dont",
    "example_dialogues",
    "system_prompt",
    "post_history_instructions",
    "character_note",
    "character_note_depth",
    "boundaries",
    "voice_id",
    "voice_rate",
    "model",
    "memory_policy",
    "tags",
    "creator_notes",
)

# Schema field (as pydantic names it in an error) -> the label the user sees on the form.
FIELD_LABELS = {
    "name": "Name",
    "tagline": "Tagline",
    "description": "Description",
    "personality": "Personality",
    "scenario": "Scenario",
    "greeting": "Greeting",
    "alternate_greetings": "Alternate greetings",
    "style.do": "Style: do",
    "style.don't": "Style: don't",
    "style.dont": "Style: don't",
    "example_dialogues": "Example dialogues",
    "system_prompt": "System prompt",
    "post_history_instructions": "Post-history instructions",
    "character_note": "Character's note",
    "character_note_depth": "Note depth",
    "boundaries": "Boundaries",
    "voice.id": "Voice id",
    "voice.rate": "Speaking rate",
    "model": "Model override",
    "memory_policy": "Memory",
    "tags": "Tags",
    "creator_notes": "Creator notes",
}

MEMORY_CHOICES = [
    ("Off: remembers nothing between chats", "off"),
    ("Strict: only what you clearly share about yourself", "strict"),
    ("Permissive: anything that may matter later", "permissive"),
]
GREETING_SEPARATOR = "---"
DEFAULT_RATE = 1.0


def lines(text: str | None) -> list[str]:
    """One item per non-empty line."""
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def split_greetings(text: str | None) -> list[str]:
    """Alternate greetings, separated by a line holding only ---."""
    blocks: list[list[str]] = [[]]
    for line in (text or "").replace("\r\n", "\n").split("\n"):
        if line.strip() == GREETING_SEPARATOR:
            blocks.append([])
        else:
            blocks[-1].append(line)
    return [text for text in ("\n".join(block).strip() for block in blocks) if text]


def join_greetings(greetings: Sequence[str]) -> str:
    return f"\n{GREETING_SEPARATOR}\n".join(greetings)


def validation_message(error: ValidationError) -> str:
    """The first problem, in one line, naming the field as the form labels it."""
    item = error.errors()[0]
    field = ".".join(str(part) for part in item["loc"] if not isinstance(part, int))
    label = FIELD_LABELS.get(field, field or "The form")
    message = item["msg"].removeprefix("Value error, ")
    if item["type"] == "string_too_short" and (item.get("ctx") or {}).get("min_length") == 1:
        message = "must not be empty"
    return f"**{label}**: {message[:1].lower()}{message[1:]}."


def persona_from_form(values: dict[str, Any]) -> PersonaFile:
    """The form's values as a persona file (without its picture); ValidationError names the field."""
    rate = values.get("voice_rate")
    depth = values.get("character_note_depth")
    return PersonaFile.model_validate(
        {
            "name": (values.get("name") or "").strip(),
            "tagline": (values.get("tagline") or "").strip(),
            "description": (values.get("description") or "").strip(),
            "personality": (values.get("personality") or "").strip(),
            "scenario": (values.get("scenario") or "").strip(),
            "system_prompt": (values.get("system_prompt") or "").strip(),
            "post_history_instructions": (values.get("post_history_instructions") or "").strip(),
            "character_note": (values.get("character_note") or "").strip(),
            "character_note_depth": DEFAULT_CHARACTER_NOTE_DEPTH if depth is None or depth == "" else depth,
            "style": {"do": lines(values.get("style_do")), "dont": lines(values.get("style_dont"))},
            "example_dialogues": split_examples(values.get("example_dialogues") or ""),
            "greeting": (values.get("greeting") or "").strip(),
            "alternate_greetings": split_greetings(values.get("alternate_greetings")),
            "boundaries": lines(values.get("boundaries")),
            "voice": {
                "id": (values.get("voice_id") or "").strip() or None,
                "rate": DEFAULT_RATE if rate is None or rate == "" else rate,
            },
            "model": (values.get("model") or "").strip() or None,
            "memory_policy": values.get("memory_policy") or "strict",
            "tags": [tag.strip() for tag in (values.get("tags") or "").split(",") if tag.strip()],
            "creator_notes": (values.get("creator_notes") or "").strip(),
        }
    )
