"""Errors of the worlds feature."""

from avatar.core.errors import InvalidInputError, NotFoundError


class WorldNotFound(NotFoundError):
    def __init__(self, world_id: str) -> None:
        super().__init__(f"There is no world {world_id!r} (it may have been deleted).")


class InvalidWorld(InvalidInputError):
    """A world's name or description cannot be used, or a file is not World Info."""
