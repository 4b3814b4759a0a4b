"""Who speaks next in a scene: never a fixed rotation.

1. A character addressed by name answers ("Vega, what do you think?"); a message naming several has each
   of them answer, in the order they were named. This holds for what the characters say to each other too.
2. Otherwise the choice follows the scene, as a weighted draw among the characters who did not just speak:
   - who was spoken to: the user's message answers the character who spoke just before it;
   - who has something to add: how close the newest message is in meaning to each character (its
     description, personality and tags), compared with the others (`Relevance`);
   - each card's `talkativeness` (SillyTavern's field: 0 shy .. 1 chatty; 0.5 by default);
   - a little more for a character that has been quiet for a while.
The draw uses its own random generator (seeded in tests), so equal scenes may go differently.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from avatar.personas.schemas import Persona

# Words of a name that are not what people call someone by ("Captain Vega" is called Vega).
TITLES = frozenset({
    "captain", "professor", "doctor", "dr", "mr", "mrs", "ms", "miss", "mx", "lady", "lord", "sir", "madam",
    "dame", "king", "queen", "prince", "princess", "the", "of", "von", "van", "de", "la", "le", "el",
    "commander", "lieutenant", "general", "sergeant", "officer", "agent", "master", "mister", "saint",
})  # fmt: skip

SPOKEN_TO = 1.2  # the character the user answers
TALKATIVENESS = 2.0  # per unit of talkativeness above or below 0.5
RELEVANCE = 6.0  # per unit of cosine similarity above the candidates' mean
QUIET = 0.15  # per message since the character last spoke, up to QUIET_CAP messages
QUIET_CAP = 8

# (the newest message, the candidates) -> how relevant the message is to each, by persona id
Relevance = Callable[[str, Sequence[Persona]], Mapping[str, float]]


def call_names(members: Sequence[Persona]) -> dict[str, list[str]]:
    """What each character may be called by: its full name and each word of it that is not a title and
    that no other character in the scene shares."""
    words: dict[str, list[str]] = {}
    for persona in members:
        parts = [w for w in re.findall(r"[\w'-]+", persona.name) if len(w) >= 3 and w.lower() not in TITLES]
        words[persona.id] = list(dict.fromkeys([persona.name, *parts]))
    counts: dict[str, int] = {}
    for names in words.values():
        for name in {n.lower() for n in names}:
            counts[name] = counts.get(name, 0) + 1
    return {pid: [n for n in names if counts[n.lower()] == 1] for pid, names in words.items()}


def addressed(text: str, members: Sequence[Persona]) -> list[str]:
    """The characters `text` names, in the order it first names them."""
    first: dict[str, int] = {}
    every_name = call_names(members)
    exact = {n.lower() for names in every_name.values() for n in names}
    for persona_id, names in every_name.items():
        for name in names:
            match = re.search(rf"(?<![\w]){re.escape(name)}(?![\w])", text, flags=re.IGNORECASE)
            if match and match.start() < first.get(persona_id, len(text) + 1):
                first[persona_id] = match.start()
        if persona_id not in first:
            said = _misspelled(text, [n for n in names if " " not in n], exact)
            if said is not None:
                first[persona_id] = said
    return sorted(first, key=first.__getitem__)


def _misspelled(text: str, names: Sequence[str], others: set[str]) -> int | None:
    """Where `text` has one of `names` (5 letters or more) one letter off: whisper writes "Quil" for "Quill".
    A word that is some character's name exactly ("Marco" beside "Marcy", in `others`) names only that one."""
    for word in re.finditer(r"[\w'-]+", text):
        if word.group().lower() in others:
            continue
        for name in names:
            if len(name) >= 5 and _one_letter_off(word.group().lower(), name.lower()):
                return word.start()
    return None


def _one_letter_off(a: str, b: str) -> bool:
    if a == b or abs(len(a) - len(b)) > 1 or a[0] != b[0]:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b, strict=True)) == 1
    short, long = sorted((a, b), key=len)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))


@dataclass(frozen=True)
class SceneMoment:
    """What the choice looks at: the characters in the scene and who said what, oldest first."""

    members: Sequence[Persona]
    speakers: Sequence[str | None]  # per message: the character's id, None for the user
    newest_text: str

    @property
    def newest_by(self) -> str | None:
        return self.speakers[-1] if self.speakers else None

    def spoken_to(self) -> str | None:
        """After a user's message: the character who spoke just before it (the one the user answers)."""
        if not self.speakers or self.speakers[-1] is not None:
            return None
        return next((s for s in reversed(self.speakers[:-1]) if s is not None), None)

    def quiet_for(self, persona_id: str) -> int:
        """Messages since the character last spoke (all of them if it never did)."""
        for count, speaker in enumerate(reversed(self.speakers)):
            if speaker == persona_id:
                return count
        return len(self.speakers)


class NextSpeaker:
    def __init__(self, relevance: Relevance | None = None, rng: random.Random | None = None) -> None:
        self.relevance = relevance
        self.rng = rng or random.Random()

    def answering(self, moment: SceneMoment) -> list[str]:
        """Who answers the newest message: the characters it names (not its own speaker), else one chosen."""
        named = [p for p in addressed(moment.newest_text, moment.members) if p != moment.newest_by]
        return named or [self.choose(moment)]

    def choose(self, moment: SceneMoment) -> str:
        """One character to speak next (see the module docstring)."""
        candidates = [p for p in moment.members if p.id != moment.newest_by] or list(moment.members)
        named = [p for p in addressed(moment.newest_text, candidates)]
        if named:
            return named[0]
        weights = [math.exp(score) for score in self.scores(moment, candidates).values()]
        return self.rng.choices([p.id for p in candidates], weights=weights)[0]

    def scores(self, moment: SceneMoment, candidates: Sequence[Persona]) -> dict[str, float]:
        relevance = (
            dict(self.relevance(moment.newest_text, candidates)) if self.relevance and moment.newest_text else {}
        )
        mean = sum(relevance.values()) / len(relevance) if relevance else 0.0
        spoken_to = moment.spoken_to()
        scores = {}
        for persona in candidates:
            score = TALKATIVENESS * (persona.talkativeness - 0.5)
            score += SPOKEN_TO if persona.id == spoken_to else 0.0
            score += RELEVANCE * (relevance.get(persona.id, mean) - mean)
            score += QUIET * min(moment.quiet_for(persona.id), QUIET_CAP)
            scores[persona.id] = score
        return scores
