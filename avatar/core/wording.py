"""Small pieces of wording shared by the tabs."""

from __future__ import annotations


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """'1 conversation', '3 conversations', '0 memories'."""
    return f"{count} {noun}" if count == 1 else f"{count} {plural or noun + 's'}"
