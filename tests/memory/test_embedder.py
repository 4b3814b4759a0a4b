"""The embedder: lazy, 384-d unit vectors, bge query instruction only for bge, clear errors when missing."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from avatar.memory.embedder import BGE_QUERY_INSTRUCTION, Embedder
from avatar.memory.exceptions import EmbeddingModelUnavailable
from tests.conftest import packaged_embedding_model_dir


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


@pytest.mark.slow
def test_a_real_bge_model_folder_embeds_queries_with_the_instruction_and_others_without(tmp_path, embedder):
    """The packaged model under a bge folder name: its queries carry the instruction, its passages do not."""
    bge_dir = tmp_path / "bge-small-en-v1.5"
    bge_dir.symlink_to(Path(packaged_embedding_model_dir()), target_is_directory=True)
    bge = Embedder(bge_dir)
    question = "what is my dog called?"
    assert bge.is_bge and not embedder.is_bge
    assert np.allclose(
        bge.embed_query(question), embedder.embed_documents([BGE_QUERY_INSTRUCTION + question])[0], atol=1e-5
    )
    assert np.allclose(bge.embed_documents([question])[0], embedder.embed_documents([question])[0], atol=1e-5)
    assert np.allclose(embedder.embed_query(question), embedder.embed_documents([question])[0], atol=1e-5)
    assert not np.allclose(bge.embed_query(question), embedder.embed_query(question), atol=1e-3)


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


def _hub_cache_with(model_dir: str, cache: Path, repo_id: str) -> None:
    """The Hugging Face cache layout (models--org--name/{refs,snapshots}) holding a copy of a model folder."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    shutil.copytree(model_dir, repo / "snapshots" / "0123abcd")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0123abcd")


@pytest.fixture
def online(monkeypatch):
    """Hub access allowed, but the hub is a closed port on loopback: any attempt fails at once."""
    import huggingface_hub.constants as hub

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(hub, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(hub, "ENDPOINT", f"http://127.0.0.1:{_closed_port()}")
    connections: list[object] = []
    _CONNECTS.append(connections)
    yield connections
    _CONNECTS.remove(connections)


_CONNECTS: list[list[object]] = []


def _record_connects(event: str, args: tuple) -> None:
    if event == "socket.connect":
        for connections in _CONNECTS:
            connections.append(args[1])


sys.addaudithook(_record_connects)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
def test_a_cached_hub_model_loads_without_contacting_the_hub(tmp_path, online):
    _hub_cache_with(packaged_embedding_model_dir(), tmp_path / "cache", "local-avatar/minilm-test")
    embedder = Embedder("local-avatar/minilm-test", cache_dir=tmp_path / "cache")
    vector = embedder.embed_query("I like green tea")
    assert vector.shape == (384,)
    assert online == [], f"a cached model must not make the app call the hub: {online}"


def test_a_hub_model_that_cannot_be_downloaded_says_what_to_do_at_once(tmp_path, online):
    embedder = Embedder("local-avatar/not-downloaded", cache_dir=tmp_path / "cache")
    with pytest.raises(EmbeddingModelUnavailable, match="internet connection") as caught:
        embedder.load()
    assert "local-avatar/not-downloaded" in caught.value.message
    assert online and all(address[0] == "127.0.0.1" for address in online)  # it asked the (closed) hub, once


@pytest.mark.slow
def test_the_model_runs_on_onnx_runtime_and_gives_torchs_vectors(embedder):
    """Short and over-long texts in one batch, in the order given: the same vectors as sentence-transformers."""
    texts = ["ok", "The user has a dog named Biscuit. " * 60, "what is my dog called?", "Bella is my cat.", ""]
    assert embedder.runtime == "onnx"
    reference = embedder.load().encode(texts, convert_to_numpy=True, normalize_embeddings=True)
    vectors = embedder.embed_documents(texts)
    assert vectors.dtype == np.float32 and vectors.shape == (5, 384)
    assert np.allclose(vectors, reference, atol=1e-4)


def _variant(tmp_path: Path, pooling: dict[str, bool]) -> Path:
    """The packaged model with another pooling: its files linked, its pooling config written anew."""
    source = Path(packaged_embedding_model_dir())
    folder = tmp_path / f"variant-{'-'.join(k for k, v in pooling.items() if v)}"
    for file in source.rglob("*"):
        if file.is_file():
            (folder / file.relative_to(source)).parent.mkdir(parents=True, exist_ok=True)
            (folder / file.relative_to(source)).symlink_to(file)
    config = folder / "1_Pooling" / "config.json"
    config.unlink()
    config.write_text(json.dumps({"word_embedding_dimension": 384, **pooling}))
    return folder


@pytest.mark.slow
@pytest.mark.parametrize(
    ("pooling", "runtime"),
    [({"pooling_mode_cls_token": True}, "onnx"), ({"pooling_mode_max_tokens": True}, "torch")],
)
def test_cls_pooling_runs_on_onnx_and_other_pooling_stays_on_torch(tmp_path, pooling, runtime):
    folder = _variant(tmp_path, pooling)
    cache = tmp_path / "cache"
    variant = Embedder(folder, cache_dir=cache)
    vectors = variant.embed_documents(["what is my dog called?", "Tax law"])
    assert variant.runtime == runtime
    reference = variant.load().encode(["what is my dog called?", "Tax law"], normalize_embeddings=True)
    assert np.allclose(vectors, reference, atol=1e-4)
    exported = list((cache / "onnx").glob("*.onnx")) if (cache / "onnx").is_dir() else []
    assert len(exported) == (1 if runtime == "onnx" else 0)
    if exported:  # loaded again: the export is reused, not written anew
        written = exported[0].stat().st_mtime_ns
        again = Embedder(folder, cache_dir=cache)
        again.load()
        assert again.runtime == "onnx" and exported[0].stat().st_mtime_ns == written
        # A process stopped in the middle of its export left its half-written file: the next export deletes it,
        # but not the file of an export still under way in a running process.
        ended = subprocess.Popen([sys.executable, "-c", "pass"])
        ended.wait()
        abandoned = exported[0].with_name(f".{exported[0].name}.{ended.pid}.partial")
        under_way = exported[0].with_name(f".{exported[0].name}.{os.getppid()}.partial")
        for partial in (abandoned, under_way):
            partial.write_bytes(b"half a model")
        exported[0].unlink()
        Embedder(folder, cache_dir=cache).load()
        assert exported[0].is_file() and under_way.is_file() and not abandoned.exists()
