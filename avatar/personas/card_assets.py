"""Expression sprites inside a character card: V3 `assets` of type "emotion", as RisuAI and SillyTavern write them.

In a PNG card each asset's picture is a tEXt chunk `chara-ext-asset_:<n>` (base64) that the asset's
uri `__asset:<n>` points at; a JSON card may carry them as `data:` URIs. The asset's name is the
label (joy, anger, …). CHARX (zip) cards are not read yet.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from avatar.expressions.labels import LABELS
from avatar.personas.images import InvalidImage, normalise_image

EMOTION_ASSET_TYPES = ("emotion", "expression")  # the spec's word, and SillyTavern's
ASSET_CHUNK_PREFIX = "chara-ext-asset_:"


def emotion_asset_chunks(card_v3: dict[str, Any], sprites: dict[str, bytes]) -> list[tuple[str, str]]:
    """List the sprites in the V3 card's `assets` (its picture as the main icon first, as the spec asks)
    and return the tEXt chunks (keyword, base64) that hold them."""
    if not sprites:
        return []
    assets = [{"type": "icon", "uri": "ccdefault:", "name": "main", "ext": "png"}]
    chunks: list[tuple[str, str]] = []
    for index, label in enumerate(label for label in LABELS if label in sprites):
        assets.append({"type": "emotion", "uri": f"__asset:{index}", "name": label, "ext": "png"})
        chunks.append((f"{ASSET_CHUNK_PREFIX}{index}", base64.b64encode(sprites[label]).decode("ascii")))
    card_v3["data"]["assets"] = assets
    return chunks


def emotion_sprites(data: dict[str, Any], embedded: dict[str, bytes], warnings: list[str]) -> dict[str, bytes]:
    """label -> PNG from the card's emotion assets (`embedded`: the PNG's asset chunks by path)."""
    assets = data.get("assets")
    if not isinstance(assets, list):
        return {}
    sprites: dict[str, bytes] = {}
    unreadable: list[str] = []
    for asset in assets:
        if not isinstance(asset, dict) or asset.get("type") not in EMOTION_ASSET_TYPES:
            continue
        label = str(asset.get("name", "")).strip().lower()
        uri = asset.get("uri")
        if label not in LABELS or label in sprites or not isinstance(uri, str):
            continue
        raw = _asset_bytes(uri, embedded)
        if raw is None:
            unreadable.append(label)
            continue
        try:
            sprites[label] = normalise_image(raw)
        except InvalidImage:
            unreadable.append(label)
    if unreadable:
        warnings.append(
            f"{len(unreadable)} expression sprite(s) in the card could not be read: {', '.join(unreadable[:6])}."
        )
    return sprites


def _asset_bytes(uri: str, embedded: dict[str, bytes]) -> bytes | None:
    if uri.startswith("__asset:"):
        return embedded.get(uri.removeprefix("__asset:"))
    if uri.startswith("data:") and ";base64," in uri:
        try:
            return base64.b64decode(uri.split(";base64,", 1)[1], validate=False)
        except (binascii.Error, ValueError):
            return None
    return None  # embeded:// (CHARX) and web addresses: nothing is fetched
