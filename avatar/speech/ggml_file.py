"""Whether a whisper.cpp model file is whole: its header, then every tensor it should have, each to its last byte.

whisper.cpp notices a file cut short ("not all tensors loaded") and returns no model, but pywhispercpp keeps
the empty context, and the first transcription then crashes the whole app (a segmentation fault, the text chat
gone with it). A file copied or converted only in part is such a file, so it is read here first: the header,
the mel filters and the vocabulary, then each tensor's shape and type, skipping over its data.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import BinaryIO

GGML_MAGIC = 0x67676D6C  # "ggml", little-endian
_QK = 32  # values per block of the classic quantized types
# ggml type -> (bytes per block, values per block): the types whisper.cpp's models come in.
_TYPE_SIZES = {
    0: (4, 1),  # f32
    1: (2, 1),  # f16
    2: (18, _QK),  # q4_0
    3: (20, _QK),  # q4_1
    6: (22, _QK),  # q5_0
    7: (24, _QK),  # q5_1
    8: (34, _QK),  # q8_0
    10: (84, 256),  # q2_K
    11: (110, 256),  # q3_K
    12: (144, 256),  # q4_K
    13: (176, 256),  # q5_K
    14: (210, 256),  # q6_K
}


class IncompleteModel(ValueError):
    """The file ends before the model does."""


def expected_tensors(n_audio_layer: int, n_text_layer: int) -> int:
    """Tensors of a Whisper model in whisper.cpp's layout: the encoder's convolutions, positions and final norm
    (7) and 15 per layer; the decoder's embeddings and final norm (4) and 24 per layer (self and cross attention)."""
    return 7 + 15 * n_audio_layer + 4 + 24 * n_text_layer


def check_whole(path: Path) -> None:
    """Raise IncompleteModel when `path`, a ggml Whisper file, is cut short; return quietly when it is whole
    (or is a kind this cannot read, which whisper.cpp then judges itself)."""
    size = path.stat().st_size
    with path.open("rb") as file:
        header = _read(file, 4 * 12)
        magic, _vocab, _audio_ctx, _audio_state, _audio_head, audio_layers, *rest = struct.unpack("<12i", header)
        if magic != GGML_MAGIC:
            return
        text_layers = rest[3]
        n_mel, n_fft = struct.unpack("<2i", _read(file, 8))
        file.seek(4 * n_mel * n_fft, os.SEEK_CUR)
        (n_tokens,) = struct.unpack("<i", _read(file, 4))
        for _ in range(n_tokens):
            (length,) = struct.unpack("<I", _read(file, 4))
            file.seek(length, os.SEEK_CUR)
        wanted = expected_tensors(audio_layers, text_layers)
        for found in range(wanted):
            head = file.read(12)
            if len(head) < 12:
                raise IncompleteModel(f"it ends after {found} of its {wanted} tensors ({_mb(size)})")
            n_dims, name_length, ggml_type = struct.unpack("<3i", head)
            if ggml_type not in _TYPE_SIZES or not 0 < n_dims <= 4:
                return  # a layout this does not know: whisper.cpp reads it itself
            shape = struct.unpack(f"<{n_dims}i", _read(file, 4 * n_dims))
            file.seek(name_length, os.SEEK_CUR)
            block_bytes, block_values = _TYPE_SIZES[ggml_type]
            values = 1
            for dim in shape:
                values *= dim
            end = file.tell() + values // block_values * block_bytes
            if end > size:
                raise IncompleteModel(
                    f"it ends inside tensor {found + 1} of {wanted} ({_mb(size)} of at least {_mb(end)})"
                )
            file.seek(end)


def _read(file: BinaryIO, count: int) -> bytes:
    data = file.read(count)
    if len(data) < count:
        raise IncompleteModel("it ends inside its header")
    return data


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB"
