"""The character's state in one conversation, as an explicit state machine: mood and affinity.

- Mood is a point on the valence/arousal plane (labels.py). After each exchange it first decays toward
  the character's resting mood (its `mood_baseline` label), then moves part of the way toward the
  reply's label. Its name is the nearest label.
- Affinity (0-100, how close the character feels to the user) starts at 50, grows a little with every
  exchange and moves with the feeling of the user's own message (kind words up, hostile ones down),
  less and less near its ends.

Pure functions; the service stores the state per conversation (table conversation_moods).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from avatar.expressions.labels import AFFECT, NEUTRAL

DECAY = 0.7  # what is left of the distance from the resting mood after one exchange
PULL = 0.4  # how far the mood moves toward the reply's label
START_AFFINITY = 50.0
PER_EXCHANGE = 0.5  # talking at all brings them a little closer
USER_WEIGHT = 4.0  # affinity points for a message of valence 1 (love, gratitude) at mid-range


@dataclass(frozen=True)
class Mood:
    valence: float
    arousal: float
    affinity: float = START_AFFINITY
    label: str = NEUTRAL  # the reply label that moved it last
    exchanges: int = 0

    @property
    def name(self) -> str:
        """The label nearest to the mood's point."""
        return min(AFFECT, key=lambda label: math.dist(AFFECT[label], (self.valence, self.arousal)))

    @property
    def closeness(self) -> str:
        for limit, word in ((20, "distant"), (40, "reserved"), (60, "friendly"), (80, "warm")):
            if self.affinity < limit:
                return word
        return "close"


def resting(baseline: str) -> Mood:
    valence, arousal = AFFECT.get(baseline, AFFECT[NEUTRAL])
    return Mood(valence, arousal, label=baseline)


def after_exchange(mood: Mood, baseline: str, reply_label: str | None, user_label: str | None) -> Mood:
    """The state after one exchange: decay toward `baseline`, then toward the reply's label; affinity
    moved by the user's message."""
    rest = AFFECT.get(baseline, AFFECT[NEUTRAL])
    valence = rest.valence + DECAY * (mood.valence - rest.valence)
    arousal = rest.arousal + DECAY * (mood.arousal - rest.arousal)
    if reply_label in AFFECT:
        target = AFFECT[reply_label]
        valence += PULL * (target.valence - valence)
        arousal += PULL * (target.arousal - arousal)
    delta = PER_EXCHANGE
    if user_label in AFFECT:
        delta += USER_WEIGHT * AFFECT[user_label].valence
    room = 1.0 - abs(mood.affinity - 50.0) / 60.0 if delta * (mood.affinity - 50.0) > 0 else 1.0
    affinity = min(100.0, max(0.0, mood.affinity + delta * room))
    return replace(
        mood,
        valence=valence,
        arousal=arousal,
        affinity=affinity,
        label=reply_label or mood.label,
        exchanges=mood.exchanges + 1,
    )


def prompt_line(mood: Mood, persona_name: str, user_name: str) -> str:
    """The one line the model is given before the newest message, so replies stay consistent with the state.
    Words only, no score: it is sent again only when it reads differently (see chat/notes.py)."""
    return (
        f"[{persona_name}'s current state: mood {mood.name}; feels {mood.closeness} toward {user_name}. "
        "Let it colour the reply; do not mention it.]"
    )
