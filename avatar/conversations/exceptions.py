"""Errors of the conversations feature."""

from avatar.core.errors import InvalidInputError, NotFoundError


class ConversationNotFound(NotFoundError):
    def __init__(self, conversation_id: str) -> None:
        super().__init__(f"Conversation {conversation_id!r} does not exist (it may have been deleted).")


class EmptyMessage(InvalidInputError):
    def __init__(self) -> None:
        super().__init__("Type a message first.")


class InvalidTitle(InvalidInputError):
    pass
