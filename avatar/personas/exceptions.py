"""Errors of the personas feature."""

from avatar.core.errors import InvalidInputError, NotFoundError


class PersonaNotFound(NotFoundError):
    def __init__(self, persona_id: str) -> None:
        super().__init__(f"There is no persona {persona_id!r}. Pick one from the list.")


class BuiltinPersonaError(InvalidInputError):
    """A change that built-in personas do not allow (they are files shipped with the app)."""
