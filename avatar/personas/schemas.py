"""What a persona file may contain. Unknown keys are refused so that a typo names itself."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

PERSONA_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
# SillyTavern's default for a Character's Note (a card's extensions.depth_prompt.depth).
DEFAULT_CHARACTER_NOTE_DEPTH = 4
MAX_CHARACTER_NOTE_DEPTH = 100


class StyleRules(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    do: list[str] = Field(default_factory=list)
    dont: list[str] = Field(default_factory=list, alias="don't")


class VoiceSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(default=None, description="Piper voice id, e.g. en_US-amy-medium")
    rate: float = Field(default=1.0, gt=0.25, le=4.0, description="speaking rate; 1.0 is normal")


class PersonaFile(BaseModel):
    """The YAML file's fields. The persona's id is the file's stem, not a field."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=80)
    tagline: str = ""
    description: str = ""
    personality: str = ""
    scenario: str = ""
    system_prompt: str = ""
    post_history_instructions: str = Field(
        default="", description="sent after the conversation, every turn: the last word before the reply"
    )
    character_note: str = Field(
        default="",
        description="a reminder put into the conversation itself, character_note_depth messages from its end, "
        "every turn (SillyTavern's Character's Note)",
    )
    character_note_depth: int = Field(
        default=DEFAULT_CHARACTER_NOTE_DEPTH,
        ge=0,
        le=MAX_CHARACTER_NOTE_DEPTH,
        description="how many messages from the end: 0 is after the newest message",
    )
    style: StyleRules = Field(default_factory=StyleRules)
    example_dialogues: list[str] = Field(
        default_factory=list,
        description="each a short exchange, one line per turn: '{{user}}: …' then '{{char}}: …'",
    )
    greeting: str = ""
    alternate_greetings: list[str] = Field(default_factory=list)
    boundaries: list[str] = Field(default_factory=list)
    voice: VoiceSettings = Field(default_factory=VoiceSettings)
    model: str | None = Field(default=None, description="use this model instead of the app's default")
    memory_policy: Literal["off", "strict", "permissive"] = "strict"
    tags: list[str] = Field(default_factory=list)
    creator_notes: str = Field(default="", description="notes for people reading the file; never sent to the model")
    image: str | None = Field(default=None, description="image file name, beside the YAML file")
    mood_baseline: str = Field(
        default="neutral", description="the resting mood its mood returns to: one of the 28 expression labels"
    )
    talkativeness: float = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        description="in a scene with other characters, how readily it speaks up: 0 shy .. 1 chatty "
        "(SillyTavern's talkativeness)",
    )

    @field_validator("mood_baseline")
    @classmethod
    def _known_label(cls, value: str) -> str:
        from avatar.expressions.labels import LABELS

        if value not in LABELS:
            raise ValueError(f"must be one of the expression labels ({', '.join(LABELS)})")
        return value

    @field_validator("name")
    @classmethod
    def _name_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()


class Persona(PersonaFile):
    id: str = Field(pattern=PERSONA_ID_PATTERN)
    builtin: bool = False


class PersonaSummary(BaseModel):
    id: str
    name: str


class PersonaLoadError(BaseModel):
    """A persona file that could not be loaded, and why, in words that point at the field."""

    path: str
    message: str
