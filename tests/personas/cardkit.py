"""Test cards built from the published field lists (V1, V2 spec_v2.md, V3 SPEC_V3.md), and PNGs made by Pillow."""

from __future__ import annotations

import base64
import copy
import io
import json
from typing import Any

from PIL import Image
from PIL.PngImagePlugin import PngInfo

# Every field of TavernCardV2.data, in the spec's order.
V2_DATA_FIELDS = [
    "name",
    "description",
    "personality",
    "scenario",
    "first_mes",
    "mes_example",
    "creator_notes",
    "system_prompt",
    "post_history_instructions",
    "alternate_greetings",
    "character_book",
    "tags",
    "creator",
    "character_version",
    "extensions",
]
V2_REQUIRED = [name for name in V2_DATA_FIELDS if name != "character_book"]
V3_REQUIRED = [*V2_REQUIRED, "group_only_greetings"]


def v2_data() -> dict[str, Any]:
    return {
        "name": "Seraphina",
        "description": "{{char}} is the guardian of an enchanted forest.\nShe heals those who get lost.",
        "personality": "kind, protective, quietly funny",
        "scenario": "{{user}} wakes up in {{char}}'s glade after a storm.",
        "first_mes": "*Seraphina smiles.* You're awake, {{user}}. How do you feel?",
        "mes_example": (
            "<START>\n{{user}}: Who are you?\n{{char}}: I'm Seraphina, keeper of this forest.\n"
            "<START>\n<USER>: Where am I?\n<BOT>: Somewhere safe, in my glade."
        ),
        "creator_notes": "Works best with a warm, descriptive model.",
        "system_prompt": "{{original}}\nWrite one vivid paragraph per reply.",
        "post_history_instructions": "Stay in the first person; never speak for {{user}}.",
        "alternate_greetings": ["Oh! You're up already.", "Rest a little longer, <USER>."],
        "character_book": {
            "name": "Glade lore",
            "scan_depth": 4,
            "extensions": {},
            "entries": [
                {
                    "keys": ["glade", "clearing"],
                    "content": "The glade is hidden from outsiders by old magic.",
                    "extensions": {},
                    "enabled": True,
                    "insertion_order": 10,
                    "name": "The glade",
                    "priority": 2,
                    "id": 1,
                    "selective": False,
                    "constant": False,
                    "position": "before_char",
                },
                {
                    "keys": ["sword"],
                    "content": "A disabled entry: never used.",
                    "extensions": {},
                    "enabled": False,
                    "insertion_order": 20,
                },
                {
                    "keys": [],
                    "content": "@@depth 4\n@@@instruct_depth 4\nSeraphina never lies to a guest.",
                    "extensions": {"x_app": {"keep": True}},
                    "enabled": True,
                    "insertion_order": 5,
                    "constant": True,
                    "comment": "honesty",
                },
            ],
        },
        "tags": ["fantasy", "guardian"],
        "creator": "cardmaker",
        "character_version": "1.2",
        "extensions": {"talkativeness": "0.5", "depth_prompt": {"prompt": "Be gentle.", "depth": 4, "role": "system"}},
    }


def v2_card(**data_overrides: Any) -> dict[str, Any]:
    return {"spec": "chara_card_v2", "spec_version": "2.0", "data": {**v2_data(), **data_overrides}}


def v3_card(**data_overrides: Any) -> dict[str, Any]:
    data = v2_data()
    for entry in data["character_book"]["entries"]:
        entry["use_regex"] = False
    data.update(
        name="Seraphina Three",
        nickname="Sera",
        creator_notes_multilingual={"en": "Works best with a warm, descriptive model.", "fr": "Un modèle chaleureux."},
        source=["https://example.invalid/cards/seraphina"],
        group_only_greetings=["Hello, everyone."],
        creation_date=1_700_000_000,
        modification_date=1_700_000_100,
        assets=[{"type": "icon", "uri": "ccdefault:", "name": "main", "ext": "png"}],
    )
    data.update(data_overrides)
    return {"spec": "chara_card_v3", "spec_version": "3.0", "data": data}


def v1_card() -> dict[str, Any]:
    return {
        "name": "Old Timer",
        "description": "A V1 card: <BOT> talks to <USER>.",
        "personality": "grumpy",
        "scenario": "A porch in summer.",
        "first_mes": "Get off my lawn, <user>.",
        "mes_example": "<START>\n<USER>: Hi\n<BOT>: Hmph.",
    }


def b64json(value: Any) -> str:
    return base64.b64encode(json.dumps(value).encode("utf-8")).decode("ascii")


def png(
    texts: dict[str, str] | None = None, size: tuple[int, int] = (40, 60), colour=(200, 100, 50), itxt=False
) -> bytes:
    """A real PNG written by Pillow, with the given text chunks (tEXt, or compressed iTXt)."""
    info = PngInfo()
    for key, value in (texts or {}).items():
        if itxt:
            info.add_itxt(key, value, zip=True)
        else:
            info.add_text(key, value)
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="PNG", pnginfo=info)
    return out.getvalue()


def png_texts(data: bytes) -> dict[str, str]:
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        return dict(image.text)


def decode_b64json(text: str) -> dict[str, Any]:
    return json.loads(base64.b64decode(text).decode("utf-8"))


def deep(value: Any) -> Any:
    return copy.deepcopy(value)
