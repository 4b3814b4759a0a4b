"""Errors of the speech feature (VAD, speech-to-text, text-to-speech)."""

from __future__ import annotations

from avatar.core.errors import AvatarError


class SpeechModelError(AvatarError):
    """A speech model cannot be found or loaded; the message says which one and what to do."""
