"""Persona pictures: uploads normalised to PNG, and small previews for the Personas tab's gallery."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

from PIL import Image, ImageOps

from avatar.core import scratch
from avatar.core.errors import InvalidInputError
from avatar.core.files import atomic_write_bytes

MAX_SIDE = 1536  # a portrait; a 6000-pixel photo is scaled down before it is stored
MAX_PIXELS = 40_000_000  # refuse decompression bombs before decoding them
PREVIEW_SIZE = (384, 576)


class InvalidImage(InvalidInputError):
    """An uploaded picture that cannot be used."""


def normalise_image(data: bytes) -> bytes:
    """`data` (PNG, JPEG, WebP, GIF, ...) as a PNG of at most MAX_SIDE pixels a side."""
    try:
        with Image.open(io.BytesIO(data)) as picture:
            if picture.width * picture.height > MAX_PIXELS:
                raise InvalidImage(f"The picture is {picture.width}x{picture.height} pixels; that is too large.")
            picture.load()
            image = ImageOps.exif_transpose(picture)
    except InvalidImage:
        raise
    except Exception:  # noqa: BLE001 - Pillow raises many types for files it cannot read; all mean the same here
        raise InvalidImage("The picture cannot be read: use a PNG, JPEG or WebP image.") from None
    if image.mode not in ("RGB", "RGBA"):
        image = image.convert("RGBA" if "A" in image.getbands() or "transparency" in image.info else "RGB")
    image.thumbnail((MAX_SIDE, MAX_SIDE))
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def preview_dir() -> Path:
    """Gradio serves files from the run's scratch folder without allowed_paths being widened to the
    data directory, which holds the database."""
    return scratch.folder("previews")


def preview_of(image_path: Path | None, name: str) -> Path:
    """A small PNG of the persona's picture (or of a plain placeholder), cached by content."""
    from avatar.personas.card_png import placeholder_png  # card_png imports Pillow; keep this module light

    if image_path is not None:
        try:
            data = image_path.read_bytes()
        except OSError:
            data = None
    else:
        data = None
    source = data if data is not None else placeholder_png(name, (200, 300))
    key = hashlib.sha256(source).hexdigest()[:32]
    path = preview_dir() / f"{key}.png"
    if path.exists():
        return path
    try:
        with Image.open(io.BytesIO(source)) as picture:
            picture.thumbnail(PREVIEW_SIZE)
            image = picture.convert("RGBA" if "A" in picture.getbands() else "RGB")
    except Exception:  # noqa: BLE001 - a damaged picture on disk still gets a preview: the placeholder
        return preview_of(None, name)
    out = io.BytesIO()
    image.save(out, format="PNG")
    atomic_write_bytes(path, out.getvalue())
    return path
