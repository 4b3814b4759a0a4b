"""Which of the 28 expression labels a reply shows: nearest example lines over the memory's embedding model.

Why this method: the embedding model is already loaded for memory (no second model in 24 GB shared
with the chat model, nothing to download), one reply costs one ~10 ms embedding on a CPU thread after
the reply is saved, and the chat model is never asked again (a second LLM call per turn would hold the
only model for seconds). A reply is compared with every example line in prototypes.py; a label's
score is the mean of its two best matches (one odd line cannot win alone). Below MIN_SCORE nothing
is like the reply and it is "neutral". Accuracy on the project's own labelled replies:
bench/bench_expressions.py.
"""

from __future__ import annotations

import logging
import threading

import numpy as np

from avatar.core.daemon import in_daemon_thread
from avatar.expressions.labels import LABELS, NEUTRAL
from avatar.expressions.prototypes import PROTOTYPES
from avatar.memory.embedder import Embedder
from avatar.memory.exceptions import EmbeddingModelUnavailable

log = logging.getLogger(__name__)

MIN_SCORE = 0.15  # cosine: below it the reply is like none of the examples (gibberish, code)
TOP_MATCHES = 2
RECENT = 32
MAX_CHARS = 600  # the opening of a long reply carries its tone; the model reads ~256 tokens anyway


class ExpressionClassifier:
    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder
        self._matrix: np.ndarray | None = None  # (examples, dim), unit rows
        self._owners: np.ndarray | None = None  # label index of each row
        self._lock = threading.Lock()
        self._recent: dict[str, str] = {}  # a voice reply is labelled for the call, then again when saved

    def _examples(self) -> tuple[np.ndarray, np.ndarray]:
        if self._matrix is None or self._owners is None:
            with self._lock:
                if self._matrix is None:
                    texts = [text for label in LABELS for text in PROTOTYPES[label]]
                    owners = [index for index, label in enumerate(LABELS) for _ in PROTOTYPES[label]]
                    self._owners = np.asarray(owners)
                    self._matrix = self.embedder.embed_documents(texts)
        assert self._matrix is not None and self._owners is not None
        return self._matrix, self._owners

    def scores(self, text: str) -> dict[str, float]:
        """Each label's score for `text` (mean cosine of its best TOP_MATCHES example lines)."""
        matrix, owners = self._examples()
        vector = self.embedder.embed_documents([text.strip()[:MAX_CHARS]])[0]
        similarity = matrix @ vector
        result: dict[str, float] = {}
        for index, label in enumerate(LABELS):
            best = np.sort(similarity[owners == index])[-TOP_MATCHES:]
            result[label] = float(best.mean())
        return result

    def classify(self, text: str) -> str:
        """The label for `text` ("neutral" for empty text or when nothing matches)."""
        if not text.strip():
            return NEUTRAL
        if text in self._recent:
            return self._recent[text]
        scores = self.scores(text)
        label = max(scores, key=scores.__getitem__)
        label = label if scores[label] >= MIN_SCORE else NEUTRAL
        if len(self._recent) >= RECENT:
            self._recent.pop(next(iter(self._recent)))
        self._recent[text] = label
        return label

    async def aclassify(self, text: str) -> str | None:
        """classify() on a worker thread; None when the embedding model cannot be had (the face stays as it was)."""
        if self.embedder.load_error is not None:
            return None
        try:
            # (a daemon thread: a stop never waits for a label, e.g. while the embedding model loads)
            return await in_daemon_thread(self.classify, text, name="expression")
        except EmbeddingModelUnavailable as error:
            log.warning("no expression for the reply: %s", error.message)
            return None
