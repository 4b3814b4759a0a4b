"""What profile.yaml may contain."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_NAME_CHARS = 80
MAX_ABOUT_CHARS = 2_000  # about 500 tokens: it goes into every prompt, so it stays short


class UserProfile(BaseModel):
    """The user as every character sees them. An empty name means "use the app's default name"."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="", max_length=MAX_NAME_CHARS, description="fills {{user}} in every persona")
    about_me: str = Field(default="", max_length=MAX_ABOUT_CHARS, description="told to every character")

    @field_validator("name")
    @classmethod
    def _one_line(cls, value: str) -> str:
        value = " ".join(value.split())  # a name is one line: it is spliced into sentences
        if any(ch in value for ch in "{}"):
            raise ValueError("must not contain { or }")
        return value

    @field_validator("about_me")
    @classmethod
    def _trimmed(cls, value: str) -> str:
        return value.replace("\r\n", "\n").strip()
