"""SillyTavern's 28 expression labels (the GoEmotions set), each placed on the valence/arousal plane.

Valence (-1 unpleasant .. 1 pleasant) and arousal (-1 calm .. 1 excited) follow Russell's circumplex;
the mood state moves on that plane, and the face drawn for a label is read off it too.
"""

from __future__ import annotations

from typing import NamedTuple


class Affect(NamedTuple):
    valence: float
    arousal: float


# The order is SillyTavern's (alphabetical); the file name of a sprite is the label + ".png".
AFFECT: dict[str, Affect] = {
    "admiration": Affect(0.7, 0.3),
    "amusement": Affect(0.7, 0.5),
    "anger": Affect(-0.8, 0.8),
    "annoyance": Affect(-0.5, 0.4),
    "approval": Affect(0.5, 0.0),
    "caring": Affect(0.6, -0.1),
    "confusion": Affect(-0.2, 0.2),
    "curiosity": Affect(0.3, 0.4),
    "desire": Affect(0.5, 0.6),
    "disappointment": Affect(-0.6, -0.3),
    "disapproval": Affect(-0.5, 0.1),
    "disgust": Affect(-0.8, 0.3),
    "embarrassment": Affect(-0.3, 0.4),
    "excitement": Affect(0.8, 0.9),
    "fear": Affect(-0.7, 0.8),
    "gratitude": Affect(0.8, 0.1),
    "grief": Affect(-0.9, -0.4),
    "joy": Affect(0.9, 0.5),
    "love": Affect(0.9, 0.3),
    "nervousness": Affect(-0.4, 0.6),
    "neutral": Affect(0.0, 0.0),
    "optimism": Affect(0.6, 0.3),
    "pride": Affect(0.6, 0.4),
    "realization": Affect(0.1, 0.4),
    "relief": Affect(0.5, -0.4),
    "remorse": Affect(-0.6, -0.2),
    "sadness": Affect(-0.8, -0.5),
    "surprise": Affect(0.1, 0.8),
}
LABELS: tuple[str, ...] = tuple(AFFECT)
NEUTRAL = "neutral"


def is_label(name: str) -> bool:
    return name in AFFECT
