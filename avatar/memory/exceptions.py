"""Errors of the memory feature."""

from __future__ import annotations

from avatar.core.errors import AvatarError, InvalidInputError, NotFoundError


class MemoryNotFound(NotFoundError):
    def __init__(self, memory_id: str) -> None:
        super().__init__(f"Memory {memory_id!r} does not exist (it may have been deleted).")


class InvalidMemory(InvalidInputError):
    pass


class MemoryOff(InvalidInputError):
    def __init__(self) -> None:
        super().__init__("Memory is turned off for this character, so nothing can be saved.")


class EmbeddingModelUnavailable(AvatarError):
    """The embedding model cannot be loaded; the message says how to get it."""


class InvalidTranscript(InvalidInputError):
    """A chat file that cannot be imported; the message names the line and what is wrong with it."""
