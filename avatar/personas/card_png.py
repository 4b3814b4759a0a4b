"""PNG character cards: the card's tEXt chunks read and written, the picture checked, a face drawn for none.

A PNG card is a picture carrying the card as base64 JSON in a tEXt chunk: `chara` (V2, or V1) and/or
`ccv3` (V3, preferred when both are there); V3 emotion assets ride in `chara-ext-asset_:<path>` chunks."""

from __future__ import annotations

import base64
import binascii
import io
import logging
import struct
import zlib
from collections.abc import Iterable
from typing import Any

from PIL import Image

from avatar.personas.card_format import (
    ASSET_KEYWORD_PREFIX,
    CARD_KEYWORDS,
    MAX_CARD_BYTES,
    MAX_IMAGE_PIXELS,
    PNG_SIGNATURE,
    CardError,
    load_json,
)

log = logging.getLogger(__name__)


def card_from_png(data: bytes, warnings: list[str]) -> tuple[dict[str, Any], bytes, dict[str, bytes]]:
    """(the card JSON, the picture without any card chunks, its embedded assets by path) from a PNG card."""
    chunks = png_chunks(data)
    texts: dict[str, tuple[bytes, bytes]] = {}
    picture: list[tuple[bytes, bytes]] = []
    for chunk_type, body in chunks:
        keyword = _text_keyword(chunk_type, body)
        if keyword in CARD_KEYWORDS or (keyword or "").startswith(ASSET_KEYWORD_PREFIX):
            texts.setdefault(keyword, (chunk_type, body))  # the first one counts
            continue  # the YAML now holds the card; a stale copy in the picture would only mislead
        picture.append((chunk_type, body))
    found = [keyword for keyword in CARD_KEYWORDS if keyword in texts]
    if not found:
        raise CardError("This PNG has no character card in it (no 'chara' or 'ccv3' data): is it a plain picture?")
    card: dict[str, Any] | None = None
    for keyword in found:
        try:
            card = _decode_card_text(keyword, *texts[keyword])
            break
        except CardError as error:
            if keyword == found[-1]:
                raise
            warnings.append(f"The card's '{keyword}' data was unusable ({error.message}); its other copy was used.")
    image = build_png(picture)
    _check_picture(image)
    assert card is not None
    return card, image, _embedded_assets(texts)


def _embedded_assets(texts: dict[str, tuple[bytes, bytes]]) -> dict[str, bytes]:
    """The pictures in a PNG card's `chara-ext-asset_:<path>` chunks, by path (what `__asset:<path>` names)."""
    found: dict[str, bytes] = {}
    for keyword, chunk in texts.items():
        if not keyword.startswith(ASSET_KEYWORD_PREFIX):
            continue
        path = keyword.removeprefix(ASSET_KEYWORD_PREFIX).removeprefix(":")
        try:
            found[path] = base64.b64decode(_text_chunk_value(*chunk), validate=False)
        except (CardError, binascii.Error, ValueError):
            continue  # an unreadable asset: the sprite is reported missing, the card still imports
    return found


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """Every chunk (type, body) up to IEND, checking lengths and checksums."""
    if not data.startswith(PNG_SIGNATURE):
        raise CardError("This is not a PNG image.")
    chunks: list[tuple[bytes, bytes]] = []
    position, size = len(PNG_SIGNATURE), len(data)
    while position < size:
        if position + 12 > size:
            raise CardError("The PNG is truncated.")
        length, chunk_type = struct.unpack(">I4s", data[position : position + 8])
        end = position + 12 + length
        if end > size:
            raise CardError("The PNG is truncated.")
        body = data[position + 8 : end - 4]
        (checksum,) = struct.unpack(">I", data[end - 4 : end])
        if zlib.crc32(body, zlib.crc32(chunk_type)) != checksum:
            raise CardError("The PNG is damaged (a chunk's checksum does not match).")
        chunks.append((chunk_type, body))
        position = end
        if chunk_type == b"IEND":
            break
    if not chunks or chunks[0][0] != b"IHDR" or chunks[-1][0] != b"IEND":
        raise CardError("The PNG is damaged (it does not start with IHDR and end with IEND).")
    return chunks


def _text_keyword(chunk_type: bytes, body: bytes) -> str | None:
    if chunk_type not in (b"tEXt", b"zTXt", b"iTXt"):
        return None
    return body.split(b"\0", 1)[0].decode("latin-1").lower()


def _decode_card_text(keyword: str, chunk_type: bytes, body: bytes) -> dict[str, Any]:
    """The card JSON in a tEXt (or zTXt/iTXt, which some tools write) chunk's base64 text."""
    try:
        text = _text_chunk_value(chunk_type, body)
    except (ValueError, zlib.error):
        raise CardError(f"The card's '{keyword}' text chunk is damaged.") from None
    compact = "".join(text.split())
    compact += "=" * (-len(compact) % 4)
    try:
        raw = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        raise CardError(f"The card's '{keyword}' data is not valid base64.") from None
    return load_json(raw, f"The card's '{keyword}' data")


def _text_chunk_value(chunk_type: bytes, body: bytes) -> str:
    _, rest = body.split(b"\0", 1)
    if chunk_type == b"tEXt":
        return rest.decode("latin-1")
    if chunk_type == b"zTXt":
        return _inflate(rest[1:]).decode("latin-1")
    compressed, rest = rest[0], rest[2:]  # iTXt: flag, method, language\0, translated keyword\0, text
    _language, _translated, text = rest.split(b"\0", 2)
    return (_inflate(text) if compressed else text).decode("utf-8")


def _inflate(data: bytes) -> bytes:
    inflater = zlib.decompressobj()
    result = inflater.decompress(data, MAX_CARD_BYTES)
    if inflater.unconsumed_tail:
        raise ValueError("compressed text too large")
    return result


def _chunk(chunk_type: bytes, body: bytes) -> bytes:
    return (
        struct.pack(">I", len(body)) + chunk_type + body + struct.pack(">I", zlib.crc32(body, zlib.crc32(chunk_type)))
    )


def text_chunk(keyword: str, text: str) -> tuple[bytes, bytes]:
    return b"tEXt", keyword.encode("latin-1") + b"\0" + text.encode("latin-1")


def build_png(chunks: Iterable[tuple[bytes, bytes]]) -> bytes:
    return PNG_SIGNATURE + b"".join(_chunk(chunk_type, body) for chunk_type, body in chunks)


def _check_picture(png: bytes) -> None:
    try:
        with Image.open(io.BytesIO(png)) as picture:
            width, height = picture.size
            picture.verify()
    except Image.DecompressionBombError:
        raise CardError("The card's picture is far too large.") from None
    except Exception:  # noqa: BLE001 - Pillow raises many types for a damaged file; all mean the same here
        raise CardError("The card's picture is damaged and cannot be shown.") from None
    if width * height > MAX_IMAGE_PIXELS:
        raise CardError(f"The card's picture is {width}x{height} pixels; that is too large for a portrait.")


def is_card_chunk(chunk: tuple[bytes, bytes]) -> bool:
    keyword = _text_keyword(*chunk) or ""
    return keyword in CARD_KEYWORDS or keyword.startswith(ASSET_KEYWORD_PREFIX)


def as_png(image: bytes) -> bytes | None:
    """`image` as PNG bytes (converted if it is a JPEG, WebP, ...), or None if it cannot be read."""
    try:
        if image.startswith(PNG_SIGNATURE):
            png_chunks(image)
            return image
        with Image.open(io.BytesIO(image)) as picture:
            out = io.BytesIO()
            picture.save(out, format="PNG")
            return out.getvalue()
    except (CardError, OSError, ValueError, Image.DecompressionBombError):
        log.warning("persona image unreadable; exporting with a placeholder picture")
        return None


def placeholder_png(name: str, size: tuple[int, int] = (400, 600)) -> bytes:
    """A face drawn from `name` (the 2:3 portrait most card sites use) for a persona without a picture."""
    from avatar.expressions.faces import generated_face  # Pillow drawing; only when a picture is missing

    return generated_face(name, size=size)
