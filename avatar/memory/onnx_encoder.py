"""The embedding model run by ONNX Runtime: its transformer exported once, pooling and normalising in numpy.

Why: torch runs a small BERT layer by layer from Python, so it needs the GIL between operators. With the
voice call's event loop busy beside it, embedding a voice turn's recall query took 11-47 ms (median ~25)
where it takes 11 alone. ONNX Runtime runs the whole model in one native call: ~7 ms for the same
query, busy loop or not (MiniLM-L6, one thread). A reply cannot start before its recall, so this is on
the path of every turn; memory writes and expression labels get faster too.

The export is written once per model (torch's exporter, atomically) into the embedding cache, and it is
checked against torch on probe sentences at every load: a model this cannot run exactly (other pooling,
extra layers, an export that differs) stays on torch.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

POOLING = ("mean", "cls")  # what the app's models use (MiniLM: mean, BGE: cls); others stay on torch
PROBES = ["What did I tell you about my sister's wedding?", "ok", "Bella is my cat. " * 40]
AGREEMENT = 0.999  # cosine between the two runtimes on every probe, or torch is kept
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


class OnnxEncoder:
    """Texts -> pooled vectors (the embedder normalises them) with the model's own tokenizer, an ONNX session
    and its pooling."""

    def __init__(self, session: Any, tokenizer: Any, pooling: str, max_length: int) -> None:
        self.session = session
        self.tokenizer = tokenizer  # not thread-safe: the embedder calls encode() under its lock
        self.pooling = pooling
        self.max_length = max_length
        self.input_names = [i.name for i in session.get_inputs()]

    def encode(self, texts: Sequence[str], batch_size: int) -> np.ndarray:
        # Similar lengths batched together, as sentence-transformers does: padding is wasted work.
        order = np.argsort([-len(text) for text in texts], kind="stable")
        batches = [
            self._batch([texts[i] for i in order[start : start + batch_size]])
            for start in range(0, len(texts), batch_size)
        ]
        vectors = np.empty((len(texts), batches[0].shape[1]), dtype=np.float32)
        vectors[order] = np.concatenate(batches)
        return vectors

    def _batch(self, texts: list[str]) -> np.ndarray:
        tokens = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="np")
        feed = {name: np.asarray(tokens[name], dtype=np.int64) for name in self.input_names}
        hidden = self.session.run(None, feed)[0]
        if self.pooling == "cls":
            pooled = hidden[:, 0]
        else:
            mask = feed["attention_mask"][..., np.newaxis].astype(np.float32)
            pooled = (hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
        return pooled


def onnx_encoder(
    model: SentenceTransformer, folder: str, cache_dir: Path | None, threads: int | None
) -> OnnxEncoder | None:
    """The model on ONNX Runtime, exported on first use; None (stay on torch) when it cannot run it exactly."""
    pooling = _plain_layout(model)
    if pooling is None:
        log.info("embedding model: not a plain transformer + %s pooling, staying on torch", "/".join(POOLING))
        return None
    try:
        path = _exported(model, folder, cache_dir)
        encoder = OnnxEncoder(_session(path, threads), model.tokenizer, pooling, int(model.max_seq_length))
        agreement = _agreement(model, encoder)
    except Exception as error:  # an architecture the exporter cannot take: torch still works
        log.warning("embedding model: ONNX export failed (%s), staying on torch", error, exc_info=True)
        return None
    if agreement < AGREEMENT:
        log.warning("embedding model: ONNX and torch disagree (cosine %.4f), staying on torch", agreement)
        return None
    return encoder


def _plain_layout(model: SentenceTransformer) -> str | None:
    """The pooling mode when the model is Transformer -> Pooling (mean or CLS) -> optional Normalize."""
    modules = list(model)
    names = [type(module).__name__ for module in modules]
    if names not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
        return None
    pooling = getattr(modules[1], "pooling_mode", None)
    return pooling if pooling in POOLING else None


def _exported(model: SentenceTransformer, folder: str, cache_dir: Path | None) -> Path:
    """The model's transformer as ONNX, exported now if this version of the model has none yet."""
    root = (cache_dir or Path(tempfile.gettempdir()) / "local-avatar-embeddings") / "onnx"
    path = root / f"{Path(folder.rstrip('/')).name}-{_fingerprint(folder)}.onnx"
    if path.is_file():
        return path
    import torch

    root.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    transformer = model[0].auto_model.eval()
    sample = model.tokenizer(["a sample"], return_tensors="pt")
    names = [name for name in _INPUTS if name in sample]

    class Hidden(torch.nn.Module):  # positional inputs, the last hidden state out
        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, *inputs: Any) -> Any:
            return self.transformer(**dict(zip(names, inputs, strict=True))).last_hidden_state

    _remove_abandoned(root, path.name)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    axes = {name: {0: "batch", 1: "tokens"} for name in [*names, "hidden"]}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the tracer's notes on Python control flow: shapes are dynamic axes
        torch.onnx.export(
            Hidden(),
            tuple(sample[name] for name in names),
            str(partial),
            input_names=names,
            output_names=["hidden"],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,  # the TorchScript exporter: the dynamo one needs onnxscript
        )
    os.replace(partial, path)  # never a half-written model under the real name
    log.info("embedding model exported to ONNX in %.1f s: %s", time.perf_counter() - started, path)
    return path


def _remove_abandoned(root: Path, name: str) -> None:
    """Delete the half-written exports of processes that ended during theirs (a stop while the model loaded)."""
    for partial in root.glob(f".{name}.*.partial"):
        pid = partial.name.removeprefix(f".{name}.").removesuffix(".partial")
        if pid.isdigit() and not _running(int(pid)):
            partial.unlink(missing_ok=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def _fingerprint(folder: str) -> str:
    """Changes when the model's files do (name, size, modification time), or with another torch."""
    import torch

    digest = hashlib.sha256(torch.__version__.encode())
    for file in sorted(Path(folder).rglob("*")):
        if file.is_file():
            stat = file.stat()
            digest.update(f"{file.relative_to(folder)}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:12]


def _session(path: Path, threads: int | None) -> Any:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    return onnxruntime.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


def _agreement(model: SentenceTransformer, encoder: OnnxEncoder) -> float:
    """The lowest cosine between torch's and ONNX Runtime's vectors for the probes."""
    reference = model.encode(PROBES, convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=False)
    ours = encoder.encode(PROBES, batch_size=len(PROBES))
    return float(np.min(np.sum(reference * ours, axis=1) / np.linalg.norm(ours, axis=1)))
