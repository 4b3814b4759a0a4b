"""A conversation as the chat views show it: the messages with how each ended and the server's figures."""

from __future__ import annotations

from typing import Any

from avatar.conversations.schemas import MessageOut, MessageStatus

STATUS_NOTES = {
    MessageStatus.partial: "\n\n*— stopped*",
    MessageStatus.interrupted: "\n\n*— interrupted*",
    MessageStatus.error: "\n\n*— cut off: the model failed*",
}

ChatHistory = list[dict[str, Any]]


def figures_line(message: MessageOut) -> str:
    """A small line under a reply: what the model server reported for it (tokens evaluated, speed)."""
    summary = message.generation.summary() if message.generation is not None else ""
    return f"\n\n<sub>{summary}</sub>" if summary else ""


def render_messages(messages: list[MessageOut], figures: bool = True) -> ChatHistory:
    return [
        {
            "role": m.role.value,
            "content": m.content + STATUS_NOTES.get(m.status, "") + (figures_line(m) if figures else ""),
        }
        for m in messages
    ]


RETRY_HINT = "Your message is saved: press **Regenerate** to try again."


def error_bubble(text: str) -> dict[str, Any]:
    # Shown, never saved: the model failed, the user's own message is already stored (Regenerate answers it).
    return {"role": "assistant", "content": f"{text}\n\n{RETRY_HINT}", "metadata": {"title": "⚠️ No reply"}}
