"""Sentence embeddings for memory: a lazily loaded sentence-transformers model giving L2-normalised float32 vectors.

torch and sentence-transformers cost ~15-20 s to import, so nothing is imported until the first
embedding (or `start_warm_up()`, which the app calls in the background at startup). One instance
is shared by the whole app; loading and encoding are serialised by locks, because HF tokenizers
are not safe to call from several threads at once and a second concurrent load would double the
memory use. Once loaded, the model runs on ONNX Runtime where it can (onnx_encoder.py: ~3x faster).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from avatar.core.gc_pauses import freeze_loaded
from avatar.memory.exceptions import EmbeddingModelUnavailable
from avatar.memory.models import EMBEDDING_DIM
from avatar.memory.onnx_encoder import OnnxEncoder, onnx_encoder

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

DEFAULT_EMBEDDING_MODEL = "BAAI/bge-small-en-v1.5"
# BGE v1.5 retrieves best when short queries (not the stored passages) carry this instruction.
BGE_QUERY_INSTRUCTION = "Represent this sentence for searching relevant passages: "
# What sentence-transformers needs from a hub repo: configs, tokenizer, pooling and safetensors weights
# (not the duplicate pytorch_model.bin and ONNX exports, which would triple the download).
MODEL_FILES = ["*.json", "*.txt", "*.model", "*.safetensors", "1_Pooling/*"]


def normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), as contiguous float32."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return np.ascontiguousarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)


class Embedder:
    """Turns text into 384-d unit vectors. `model` is a hub name or a local sentence-transformers folder."""

    dimension = EMBEDDING_DIM

    def __init__(
        self,
        model: str | Path = DEFAULT_EMBEDDING_MODEL,
        *,
        cache_dir: Path | None = None,
        device: str = "cpu",
        batch_size: int = 32,
        threads: int | None = 1,
    ) -> None:
        self.model_name = str(model)
        self.cache_dir = cache_dir
        self.device = device
        self.batch_size = batch_size
        self.threads = threads
        self._model: SentenceTransformer | None = None
        self._onnx: OnnxEncoder | None = None  # the same model on ONNX Runtime, when it runs it exactly
        self._load_lock = threading.Lock()
        self._encode_lock = threading.Lock()
        self._warm_up: threading.Thread | None = None
        self.load_error: EmbeddingModelUnavailable | None = None

    @property
    def is_bge(self) -> bool:
        # The model's own name (hub id or folder), not its parent folders.
        return "bge" in Path(self.model_name.rstrip("/\\")).name.lower()

    @property
    def loaded(self) -> bool:
        return self._model is not None

    @property
    def runtime(self) -> str | None:
        """What embeds once loaded: "onnx" (ONNX Runtime, see onnx_encoder.py) or "torch"; None before."""
        if self._model is None:
            return None
        return "onnx" if self._onnx is not None else "torch"

    @property
    def busy(self) -> bool:
        """Loading, or embedding a batch (a memory write, the lore): an encode now would wait for it."""
        return self._load_lock.locked() or self._encode_lock.locked()

    @property
    def _is_local_path(self) -> bool:
        # Hub ids are "name" or "org/name"; anything else that names a path is a local folder.
        name = self.model_name
        if Path(name).expanduser().exists():
            return True
        return name.startswith((".", "/", "~")) or "\\" in name or name.count("/") > 1

    def load(self) -> SentenceTransformer:
        """The model, loaded on first call. Raises EmbeddingModelUnavailable with what to do about it."""
        if self._model is not None:
            return self._model
        with self._load_lock:
            if self._model is None:
                self._model = self._load()
        return self._model

    def _load(self) -> SentenceTransformer:
        if self._is_local_path and not Path(self.model_name).expanduser().is_dir():
            raise EmbeddingModelUnavailable(
                f"The embedding model folder {self.model_name} does not exist. "
                "Point the embedding model setting at a sentence-transformers folder, or at a model name."
            )
        folder = self._model_folder()
        import torch  # heavy: ~15 s the first time
        from sentence_transformers import SentenceTransformer

        if self.threads:
            # Process-wide. One thread embeds a sentence in ~10 ms; more threads lose badly when Ollama
            # is busy on every core (~6x slower measured on 2 cores), and Silero VAD wants 1 as well.
            torch.set_num_threads(self.threads)

        try:
            model = SentenceTransformer(folder, device=self.device, local_files_only=True)
        except (OSError, ValueError) as error:  # a folder that is not a sentence-transformers model
            raise EmbeddingModelUnavailable(
                f"Can't load the embedding model '{self.model_name}' from {folder}: {error}. Point the embedding "
                "model setting at a sentence-transformers folder, or at a model name."
            ) from error
        dimension = _dimension_of(model)
        if dimension != EMBEDDING_DIM:
            raise EmbeddingModelUnavailable(
                f"The embedding model '{self.model_name}' makes {dimension}-d vectors; memory stores "
                f"{EMBEDDING_DIM}-d vectors. Choose a {EMBEDDING_DIM}-d model such as {DEFAULT_EMBEDDING_MODEL}."
            )
        self._onnx = onnx_encoder(model, folder, self.cache_dir, self.threads)
        log.info("embedding model ready: %s (%s)", self.model_name, "ONNX Runtime" if self._onnx else "torch")
        return model

    def _model_folder(self) -> str:
        """A local folder holding the model. Hub names are looked up in the cache first and downloaded only
        when missing, so a cached model never makes the app contact the hub (not even to check for updates)."""
        if self._is_local_path:
            return str(Path(self.model_name).expanduser())
        from huggingface_hub import snapshot_download

        download = partial(
            snapshot_download,
            self.model_name,
            cache_dir=str(self.cache_dir) if self.cache_dir else None,
            allow_patterns=MODEL_FILES,
        )
        try:
            return download(local_files_only=True)
        except OSError:  # LocalEntryNotFoundError: not downloaded yet
            pass
        if _hub_offline():
            raise EmbeddingModelUnavailable(
                f"The embedding model '{self.model_name}' for memory is not downloaded and the app is offline "
                "(--offline or HF_HUB_OFFLINE=1): run once with internet access so it can be downloaded "
                "(~130 MB), or point the embedding model setting at a local folder."
            )
        log.warning("downloading the embedding model %s for memory (first use, ~130 MB)...", self.model_name)
        try:
            folder = download()  # tqdm shows the progress in the terminal
        except Exception as error:
            raise EmbeddingModelUnavailable(
                f"Can't download the embedding model '{self.model_name}' for memory ({type(error).__name__}). "
                "Check the internet connection (it is downloaded once), or point the embedding model setting "
                "at a local sentence-transformers folder."
            ) from error
        log.warning("embedding model downloaded to %s", folder)
        return folder

    def start_warm_up(self) -> threading.Thread:
        """Load the model on a background thread; a failure is kept in `load_error`, not raised."""
        if self._warm_up is None:

            def warm_up() -> None:
                try:
                    self.load()
                    self.embed_query("warm up")  # the first encode allocates; do it before a user waits
                    freeze_loaded()  # torch and the model: never walked by a full collection again
                except EmbeddingModelUnavailable as error:
                    self.load_error = error
                    log.warning("%s", error.message)

            self._warm_up = threading.Thread(target=warm_up, name="embedder-warm-up", daemon=True)
            self._warm_up.start()
        return self._warm_up

    def finish_warm_up(self, timeout_s: float) -> None:
        """Wait (at most `timeout_s`) for a warm-up under way. At the interpreter's exit a thread still inside torch
        aborts the process ("terminate called without an active exception", exit -6): a stop right after the start
        lost its clean exit that way."""
        if self._warm_up is not None:
            self._warm_up.join(timeout_s)

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
        model = self.load()
        with self._encode_lock:
            if self._onnx is not None:
                return normalise(self._onnx.encode(texts, self.batch_size))
            vectors: Any = model.encode(
                list(texts),
                batch_size=self.batch_size,
                convert_to_numpy=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
        return normalise(vectors)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for texts to be stored, shape (len(texts), 384)."""
        return self._encode(texts)

    def embed_query(self, text: str) -> np.ndarray:
        """The vector for a search query, shape (384,); BGE models get their query instruction."""
        prefix = BGE_QUERY_INSTRUCTION if self.is_bge else ""
        return self._encode([prefix + text])[0]


def _hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"}


def _dimension_of(model: SentenceTransformer) -> int | None:
    getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    return getter()
