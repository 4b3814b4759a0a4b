"""Who has something to add: how close a message is in meaning to each character, with the memory's
embedding model (already loaded for recall; ~10 ms a message). Until it is loaded, shared words count."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Mapping, Sequence

import numpy as np

from avatar.memory.embedder import Embedder
from avatar.personas.schemas import Persona

log = logging.getLogger(__name__)

PROFILE_CHARS = 1500  # the start of a character's description is what it is about


def profile_text(persona: Persona) -> str:
    parts = [persona.name, persona.tagline, persona.description, persona.personality, " ".join(persona.tags)]
    return " ".join(" ".join(parts).split())[:PROFILE_CHARS]


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z]{4,}", text.lower())}


class EmbeddingRelevance:
    def __init__(self, embedder: Embedder | None) -> None:
        self.embedder = embedder
        self._profiles: dict[str, np.ndarray] = {}  # by a hash of the profile text: an edit is seen

    def __call__(self, text: str, candidates: Sequence[Persona]) -> Mapping[str, float]:
        if self.embedder is None or not self.embedder.loaded:
            return self._by_words(text, candidates)
        try:
            query = self.embedder.embed_query(text)
            return {p.id: float(np.dot(query, self._profile_vector(p))) for p in candidates}
        except Exception:  # the choice of speaker never fails a turn
            log.exception("relevance by meaning failed; by words instead")
            return self._by_words(text, candidates)

    def _profile_vector(self, persona: Persona) -> np.ndarray:
        text = profile_text(persona)
        key = hashlib.sha256(text.encode()).hexdigest()
        if key not in self._profiles:
            assert self.embedder is not None
            self._profiles[key] = self.embedder.embed_documents([text])[0]
        return self._profiles[key]

    @staticmethod
    def _by_words(text: str, candidates: Sequence[Persona]) -> Mapping[str, float]:
        said = _words(text)
        if not said:
            return {}
        return {p.id: len(said & _words(profile_text(p))) / len(said) for p in candidates}
