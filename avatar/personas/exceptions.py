"""Errors of the personas feature."""

from avatar.core.errors import NotFoundError


class PersonaNotFound(NotFoundError):
    def __init__(self, persona_id: str) -> None:
        super().__init__(f"There is no persona {persona_id!r}. Pick one from the list.")
