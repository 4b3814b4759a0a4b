"""Base error types. Services raise these; ui.py modules turn them into messages a user can act on."""

from __future__ import annotations


class AvatarError(Exception):
    """An error with a message meant for the user: what went wrong and what to do about it."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFoundError(AvatarError):
    """The thing asked for does not exist (any more)."""


class InvalidInputError(AvatarError):
    """The user's input cannot be used as it is."""
