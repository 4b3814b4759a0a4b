"""The embedder: lazy, 384-d unit vectors, bge query instruction only for bge, clear errors when missing."""

from __future__ import annotations

import sys
import threading

import numpy as np
import pytest

from avatar.memory.embedder import BGE_QUERY_INSTRUCTION, Embedder
from avatar.memory.exceptions import EmbeddingModelUnavailable


def test_creating_an_embedder_imports_nothing_heavy(tmp_path):
    Embedder(tmp_path / "model")
    if "sentence_transformers" not in sys.modules:  # other tests may have loaded it already
        assert "torch" not in sys.modules


def test_a_missing_local_folder_says_so_without_loading_torch(tmp_path):
    embedder = Embedder(tmp_path / "no-such-model")
    with pytest.raises(EmbeddingModelUnavailable, match="does not exist"):
        embedder.embed_query("hi")


def test_warm_up_keeps_a_load_failure_for_later_instead_of_raising(tmp_path):
    embedder = Embedder(tmp_path / "no-such-model")
    embedder.start_warm_up().join(timeout=30)
    assert isinstance(embedder.load_error, EmbeddingModelUnavailable)


def test_bge_models_get_the_query_instruction_and_others_do_not(monkeypatch):
    seen: list[str] = []

    def fake_encode(self, texts):
        seen.extend(texts)
        return np.ones((len(texts), 384), dtype=np.float32)

    monkeypatch.setattr(Embedder, "_encode", fake_encode)
    Embedder("BAAI/bge-small-en-v1.5").embed_query("dog name")
    Embedder("BAAI/bge-small-en-v1.5").embed_documents(["The dog is Biscuit."])
    Embedder("sentence-transformers/all-MiniLM-L6-v2").embed_query("dog name")
    assert seen == [BGE_QUERY_INSTRUCTION + "dog name", "The dog is Biscuit.", "dog name"]


@pytest.mark.slow
def test_vectors_are_384_d_unit_float32_and_meaningful(embedder):
    vectors = embedder.embed_documents(
        ["The user has a dog named Biscuit.", "The user owns a dog called Biscuit.", "Tax law"]
    )
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    query = embedder.embed_query("what is my dog called?")
    assert query.shape == (384,)
    assert vectors[0] @ query > vectors[2] @ query
    assert vectors[0] @ vectors[1] > 0.85


@pytest.mark.slow
def test_encoding_from_several_threads_at_once_is_safe(embedder):
    results: list[np.ndarray] = []
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            results.append(embedder.embed_query(f"question number {i}"))
        except BaseException as error:  # noqa: BLE001
            errors.append(error)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(results) == 8


@pytest.mark.slow
def test_a_hub_model_missing_offline_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    embedder = Embedder("BAAI/bge-small-en-v1.5", cache_dir=tmp_path / "empty-cache")
    with pytest.raises(EmbeddingModelUnavailable, match="offline") as caught:
        embedder.load()
    assert "bge-small-en-v1.5" in caught.value.message
