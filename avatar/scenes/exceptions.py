"""Errors of the scenes feature."""

from avatar.core.errors import InvalidInputError

MIN_MEMBERS = 2
MAX_MEMBERS = 5


class InvalidScene(InvalidInputError):
    """A scene cannot be made or changed like that (too few or too many characters, one twice...)."""
