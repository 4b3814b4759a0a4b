"""A face drawn from a name: the picture of a character that has none, with a look for each expression label.

Deterministic: the same name always gives the same person (skin, hair, colours), so a character is
recognisable everywhere it appears; the label only moves the brows, eyes and mouth. Drawn with Pillow
at twice the size and scaled down, which smooths the edges.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

from PIL import Image, ImageDraw

from avatar.expressions.labels import AFFECT, NEUTRAL

SKIN = ["#f6d7c0", "#efc3a0", "#e0a980", "#c68a62", "#a86b4a", "#7d4a31"]
HAIR = ["#2b1b14", "#4a2c1d", "#8c3b1f", "#c58a3d", "#e2c275", "#6b6b6b", "#1d2a44", "#5b2a48"]
BACKGROUND = ["#ffd8cc", "#d6eccd", "#b6d4f4", "#e6d4f7", "#fdf0b8", "#cdeeea", "#f7d6e6"]
INK = "#2a2220"


@dataclass(frozen=True)
class Look:
    """What the label changes. Brow tilt > 0 raises the inner ends (worry), < 0 lowers them (anger)."""

    smile: float = 0.0  # -1 frown .. 1 broad smile
    mouth_open: float = 0.0  # 0 closed .. 1 wide open
    eyes_open: float = 1.0  # 0 closed (a happy arc) .. 1.3 wide
    brow_raise: float = 0.0  # -1 low .. 1 high
    brow_tilt: float = 0.0


# Faces for the labels whose look is not simply read off valence and arousal.
SPECIAL: dict[str, Look] = {
    "amusement": Look(smile=0.9, mouth_open=0.35, eyes_open=0.0, brow_raise=0.2),
    "anger": Look(smile=-0.6, mouth_open=0.15, eyes_open=0.8, brow_raise=-0.6, brow_tilt=-1.0),
    "annoyance": Look(smile=-0.3, eyes_open=0.6, brow_raise=-0.3, brow_tilt=-0.6),
    "confusion": Look(smile=-0.2, eyes_open=1.0, brow_raise=0.4, brow_tilt=0.5),
    "disgust": Look(smile=-0.8, mouth_open=0.2, eyes_open=0.5, brow_raise=-0.5, brow_tilt=-0.7),
    "fear": Look(smile=-0.4, mouth_open=0.5, eyes_open=1.3, brow_raise=0.8, brow_tilt=0.9),
    "grief": Look(smile=-0.9, eyes_open=0.3, brow_raise=0.2, brow_tilt=1.0),
    "joy": Look(smile=1.0, mouth_open=0.45, eyes_open=0.0, brow_raise=0.3),
    "nervousness": Look(smile=-0.2, mouth_open=0.1, eyes_open=1.1, brow_raise=0.5, brow_tilt=0.8),
    "realization": Look(smile=0.1, mouth_open=0.45, eyes_open=1.2, brow_raise=0.9),
    "relief": Look(smile=0.6, eyes_open=0.0, brow_raise=0.1, brow_tilt=0.3),
    "sadness": Look(smile=-0.8, eyes_open=0.6, brow_raise=0.1, brow_tilt=0.9),
    "surprise": Look(smile=0.0, mouth_open=0.8, eyes_open=1.3, brow_raise=1.0),
}


def look_for(label: str) -> Look:
    if label in SPECIAL:
        return SPECIAL[label]
    valence, arousal = AFFECT.get(label, AFFECT[NEUTRAL])
    return Look(
        smile=valence,
        mouth_open=max(0.0, arousal - 0.3) * 0.6,
        eyes_open=1.0 + 0.2 * arousal,
        brow_raise=0.4 * arousal,
        brow_tilt=0.5 * min(valence, 0.0) * -1,
    )


def generated_face(name: str, label: str = NEUTRAL, size: tuple[int, int] = (384, 384)) -> bytes:
    """A PNG portrait for `name` showing `label`, `size` pixels (the face centred in a taller picture)."""
    digest = hashlib.sha256(name.strip().lower().encode("utf-8")).digest()
    width, height = size
    scale = 2
    canvas = Image.new("RGB", (width * scale, height * scale), BACKGROUND[digest[0] % len(BACKGROUND)])
    side = min(width, height) * scale
    left, top = (width * scale - side) // 2, (height * scale - side) // 2
    _draw_face(ImageDraw.Draw(canvas), left, top, side, digest, look_for(label))
    picture = canvas.resize((width, height), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    picture.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _draw_face(draw: ImageDraw.ImageDraw, left: int, top: int, side: int, digest: bytes, look: Look) -> None:
    def at(x: float, y: float) -> tuple[float, float]:
        return left + x * side, top + y * side

    def box(x0: float, y0: float, x1: float, y1: float) -> tuple[float, float, float, float]:
        return (*at(x0, y0), *at(x1, y1))

    skin = SKIN[digest[1] % len(SKIN)]
    hair = HAIR[digest[2] % len(HAIR)]
    style = digest[3] % 4
    line = max(2, side // 110)
    # Neck and shoulders, then the hair behind the head (long styles), the head, the hair on top.
    draw.rectangle(box(0.43, 0.70, 0.57, 0.86), fill=skin)
    draw.ellipse(
        box(0.18, 0.82, 0.82, 1.25), fill=BACKGROUND[(digest[4] + 3) % len(BACKGROUND)], outline=INK, width=line
    )
    if style in (1, 3):
        draw.rounded_rectangle(box(0.22, 0.22, 0.78, 0.80 if style == 1 else 0.62), radius=side // 8, fill=hair)
    draw.ellipse(box(0.27, 0.20, 0.73, 0.76), fill=skin, outline=INK, width=line)
    if style == 2:
        draw.ellipse(box(0.40, 0.08, 0.60, 0.26), fill=hair)  # a bun
    draw.chord(box(0.25, 0.15, 0.75, 0.49), 180, 360, fill=hair)
    draw.pieslice(box(0.30, 0.22, 0.58, 0.40), 180, 320, fill=hair)  # a fringe over one side
    # Brows: each end moves with raise; tilt lifts the inner ends (worry) or drops them (anger).
    for sign in (-1, 1):
        cx = 0.5 + sign * 0.095
        y = 0.405 - 0.03 * look.brow_raise
        inner, outer = cx - sign * 0.04, cx + sign * 0.04
        draw.line([at(inner, y - 0.025 * look.brow_tilt), at(outer, y)], fill=INK, width=line + 1)
    # Eyes: closed ones are smiling arcs.
    for sign in (-1, 1):
        cx, cy = 0.5 + sign * 0.095, 0.47
        if look.eyes_open <= 0.05:
            draw.arc(box(cx - 0.032, cy - 0.02, cx + 0.032, cy + 0.025), 200, 340, fill=INK, width=line + 1)
            continue
        rx, ry = 0.026, 0.032 * min(look.eyes_open, 1.3)
        draw.ellipse(box(cx - rx, cy - ry, cx + rx, cy + ry), fill="white", outline=INK, width=line)
        pr = min(0.016, ry)
        draw.ellipse(box(cx - 0.016, cy - pr, cx + 0.016, cy + pr), fill=INK)
    # Cheeks when pleased.
    if look.smile > 0.5:
        for sign in (-1, 1):
            cx = 0.5 + sign * 0.14
            draw.ellipse(box(cx - 0.03, 0.54, cx + 0.03, 0.575), fill="#f19a9a")
    # Mouth: a curve whose ends rise with the smile, open into a dark shape with arousal.
    mouth_w, mouth_y = 0.075, 0.625
    curve = 0.045 * look.smile
    if look.mouth_open > 0.05:
        opening = 0.06 * look.mouth_open
        upper = mouth_y - 0.01 - max(0.0, -curve) * 0.5
        lower = mouth_y + opening + max(0.0, curve)
        shape = box(0.5 - mouth_w * 0.8, upper, 0.5 + mouth_w * 0.8, lower)
        if look.smile > 0.3:  # a grin: flat on top, round below
            shape = box(0.5 - mouth_w, mouth_y - 0.015, 0.5 + mouth_w, mouth_y + 0.02 + opening + curve)
            draw.chord(shape, 0, 180, fill="#7a2b2b", outline=INK, width=line)
        else:
            draw.ellipse(shape, fill="#7a2b2b", outline=INK, width=line)
    elif curve >= 0:
        draw.arc(
            box(0.5 - mouth_w, mouth_y - 0.03, 0.5 + mouth_w, mouth_y + curve + 0.005),
            10,
            170,
            fill=INK,
            width=line + 1,
        )
    else:
        draw.arc(box(0.5 - mouth_w, mouth_y + curve, 0.5 + mouth_w, mouth_y + 0.04), 200, 340, fill=INK, width=line + 1)
