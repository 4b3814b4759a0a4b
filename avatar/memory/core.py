"""The memory service's shared state and helpers: the database, the embedding model, passages, validation."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence

import numpy as np
from sqlalchemy.engine import Engine
from sqlmodel import Session

from avatar.memory import line_vectors, repository
from avatar.memory.distill import CardDistiller
from avatar.memory.embedder import Embedder, normalise
from avatar.memory.exceptions import InvalidMemory, MemoryNotFound, MemoryOff
from avatar.memory.filters import FilterResult, filter_sensitive
from avatar.memory.models import Memory
from avatar.memory.schemas import (
    MemoryPolicy,
)
from avatar.memory.writer import MemoryWriter

log = logging.getLogger(__name__)

MAX_MEMORY_CHARS = 4000
# A line longer than the embedding model's window is embedded in pieces of this many characters.
# English chat runs ~4 characters a token; 3.5 leaves a margin.
CHARS_PER_TOKEN = 3.5
DEFAULT_PASSAGE_CHARS = 900


def split_for_embedding(text: str, limit: int) -> list[list[str]]:
    """`text` as its non-empty lines (in a chunk: one message each), each cut at spaces into pieces of at
    most `limit` characters."""
    lines: list[list[str]] = []
    for line in text.splitlines():
        line = line.strip()
        pieces: list[str] = []
        while len(line) > limit:
            cut = line.rfind(" ", 0, limit)
            cut = cut if cut > limit // 2 else limit
            pieces.append(line[:cut])
            line = line[cut:].lstrip()
        if line:
            pieces.append(line)
        if pieces:
            lines.append(pieces)
    return lines or [[text[:limit]]]


class MemoryCore:
    """What every part of the memory service shares; the parts are mixed into MemoryService."""

    def __init__(
        self,
        engine: Engine,
        embedder: Embedder,
        distiller: CardDistiller | None = None,
        *,
        dedupe_threshold: float = 0.9,
        min_similarity: float = 0.2,
        writer: MemoryWriter | None = None,
    ) -> None:
        self.engine = engine
        self.embedder = embedder
        self.distiller = distiller
        self.dedupe_threshold = dedupe_threshold
        # A vector-only hit below this cosine similarity is noise (KNN always returns k rows).
        self.min_similarity = min_similarity
        self.writer = writer or MemoryWriter()

    # -- the embedding model --------------------------------------------------------------------
    def embedding_model_matches(self) -> bool:
        """False when stored vectors were made by another model than the current one (recall them: reembed_all)."""
        with Session(self.engine) as session:
            stored = repository.get_meta(session, "embedding_model")
        return stored is None or stored == self.embedder.model_name

    def reembed_all(self, batch_size: int = 256) -> int:
        """Re-embed every memory with the current model (after a model change). Returns how many."""
        done, after = 0, 0
        while True:
            with Session(self.engine) as session:
                rows = repository.all_keys_and_texts(session, after, batch_size)
            if not rows:
                break
            vectors, lines = self.embed_passages_with_lines([row[1] for row in rows])
            with Session(self.engine) as session:
                memories = repository.memories_by_key(session, [row[0] for row in rows])
                for (key, _text), vector, per_line in zip(rows, vectors, lines):
                    repository.replace_vector(session, memories[key], vector, per_line)
                repository.set_meta(session, "embedding_model", self.embedder.model_name)
                session.commit()
            done += len(rows)
            after = rows[-1][0]
        return done

    def index_lines(self, batch_size: int = 128) -> int:
        """Store the line vectors of multi-line memories that have none (stored before migration 0009).
        Returns how many memories got them. Safe beside other writes: a memory deleted or re-embedded
        meanwhile is left as it is."""
        done, after = 0, 0
        while True:
            with Session(self.engine) as session:
                rows = line_vectors.memories_without_lines(session, after, batch_size)
            if not rows:
                return done
            _, lines = self.embed_passages_with_lines([body for _, body, _ in rows])
            with Session(self.engine) as session:
                still = line_vectors.memories_without_lines(session, after, len(rows) + batch_size)
                waiting = {key for key, _, _ in still}
                for (key, _body, ids), per_line in zip(rows, lines):
                    if key in waiting:
                        line_vectors.insert_lines(session, key, per_line, json.loads(ids))
                        done += 1
                session.commit()
            after = rows[-1][0]

    def schedule_line_index(self) -> bool:
        """index_lines() in the background (it embeds)."""

        async def job() -> int:
            count = self.index_lines()
            if count:
                log.info("memory: line vectors stored for %d older memories", count)
            return count

        return self.writer.submit(("lines",), job)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for texts to store (see embed_passages_with_lines)."""
        return self.embed_passages_with_lines(texts)[0]

    def embed_passages_with_lines(self, texts: Sequence[str]) -> tuple[np.ndarray, list[np.ndarray]]:
        """Vectors for texts to store, and the unit vector of each of their lines. Each line (in a chunk: each
        message) is embedded on its own, in pieces when longer than the model's window, and a text's vector
        is the normalised mean of its line vectors, so a short message keeps its weight beside long ones and
        the end of a long excerpt still counts. A one-line text under the window gets exactly its plain
        embedding. The line vectors are kept (memory_lines): recall scores each line too."""
        limit = self._passage_chars()
        pieces: list[str] = []
        line_of_piece: list[int] = []
        text_of_line: list[int] = []
        for index, body in enumerate(texts):
            for line in split_for_embedding(body, limit):
                pieces += line
                line_of_piece += [len(text_of_line)] * len(line)
                text_of_line.append(index)
        vectors = self.embedder.embed_documents(pieces)
        if len(pieces) == len(texts):
            return vectors, [vectors[i : i + 1] for i in range(len(texts))]
        lines = np.zeros((len(text_of_line), vectors.shape[1]), dtype=np.float32)
        np.add.at(lines, line_of_piece, vectors)
        lines = normalise(lines)
        summed = np.zeros((len(texts), vectors.shape[1]), dtype=np.float32)
        np.add.at(summed, text_of_line, lines)
        owner = np.asarray(text_of_line)
        return normalise(summed), [lines[owner == i] for i in range(len(texts))]

    def _passage_chars(self) -> int:
        tokens = getattr(self.embedder.load(), "max_seq_length", None)  # embedding loads it anyway
        return int(tokens * CHARS_PER_TOKEN) if isinstance(tokens, int) and tokens > 0 else DEFAULT_PASSAGE_CHARS

    # -- helpers --------------------------------------------------------------------------------
    def _record_model(self, session: Session) -> None:
        if repository.get_meta(session, "embedding_model") is None:
            repository.set_meta(session, "embedding_model", self.embedder.model_name)

    @staticmethod
    def _clean(text: str, policy: MemoryPolicy) -> str:
        text = " ".join(text.split()) if "\n" not in text else text.strip()
        if not text:
            raise InvalidMemory("A memory needs some text: type what should be remembered.")
        if len(text) > MAX_MEMORY_CHARS:
            raise InvalidMemory(f"That memory is too long: keep it under {MAX_MEMORY_CHARS} characters.")
        result: FilterResult = filter_sensitive(text, policy)
        if not result.storable:
            raise MemoryOff()
        if not result.text.strip():
            raise InvalidMemory("Nothing is left of that memory once private details are removed.")
        return result.text

    @staticmethod
    def _require(session: Session, memory_id: str) -> Memory:
        memory = repository.get_memory(session, memory_id)
        if memory is None:
            raise MemoryNotFound(memory_id)
        return memory
