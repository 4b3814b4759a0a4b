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


# Cards as character sites and SillyTavern ship them ------------------------------------------------


def site_data() -> dict[str, Any]:
    """A V2 card's data as a SillyTavern export has it: its own extensions and a World Info lorebook."""

    def entry(uid: int, keys: list[str], content: str, **fields: Any) -> dict[str, Any]:
        return {
            "id": uid,
            "keys": keys,
            "secondary_keys": [],
            "comment": fields.pop("comment", ""),
            "content": content,
            "constant": False,
            "selective": True,
            "insertion_order": 100,
            "enabled": True,
            "position": "after_char",
            "use_regex": True,  # SillyTavern: "ST keys are always regex", in V2 cards too
            "extensions": {
                "position": 1,
                "exclude_recursion": False,
                "display_index": uid,
                "probability": 100,
                "useProbability": True,
                "depth": 4,
                "selectiveLogic": 0,
                "group": "",
                "role": 0,
            },
            **fields,
        }

    return {
        "name": "Elara Voss",
        "description": "{{char}} is the chief engineer of the freighter Kestrel. {{user}} is her new apprentice.",
        "personality": "gruff, brilliant, secretly soft-hearted",
        "scenario": "The Kestrel's engine room, where {{user}} reports for a first shift.",
        "first_mes": "*{{char}} wipes grease off her hands.* So you're {{user}}. Grab a wrench.",
        "mes_example": (
            "<START>\n{{user}}: What does this lever do?\n{{char}}: Keeps us breathing. Don't touch it.\n"
            "<START>\n{{user}}: Can I help?\n{{char}}: Hand me the seven-mil spanner, {{user}}."
        ),
        "creator_notes": "Slow burn mentor story. Works best with 8k context.",
        "system_prompt": "",
        "post_history_instructions": "",
        "alternate_greetings": ["*{{char}} doesn't look up from the reactor.* You're late, {{user}}."],
        "character_book": {
            # As SillyTavern's convertWorldInfoToCharacterBook writes it: no book-level "extensions".
            "name": "Kestrel",
            "entries": [
                entry(0, ["Kestrel", "ship"], "The Kestrel is a decommissioned ore freighter.", comment="The ship"),
                entry(
                    1,
                    ["reactor"],
                    "The reactor hums in B-flat when it is healthy.",
                    comment="Reactor",
                    secondary_keys=["core"],
                    position="before_char",
                ),
                entry(
                    2,
                    [],
                    "Elara lost her brother in a reactor leak.",
                    comment="Backstory",
                    constant=True,
                    selective=False,
                    insertion_order=50,
                ),
                entry(3, ["captain"], "Captain Oduya trusts Elara.", comment="Captain", enabled=False),
            ],
        },
        "tags": ["Sci-Fi", "Female", "OC", "Mentor"],
        "creator": "gearhead",
        "character_version": "main",
        "extensions": {
            "talkativeness": "0.5",
            "fav": False,
            "world": "Kestrel",
            "depth_prompt": {"prompt": "Elara swears mildly and often.", "depth": 4, "role": "system"},
        },
    }


def site_v2_card() -> dict[str, Any]:
    """The whole `chara` JSON a site ships: V1 duplicates at the top beside spec/data, and a create_date."""
    data = site_data()
    return {
        **{key: data[key] for key in ("name", "description", "personality", "scenario", "first_mes", "mes_example")},
        "creatorcomment": data["creator_notes"],
        "avatar": "none",
        "chat": "Elara Voss - 2024-5-1@12h00m00s",
        "talkativeness": "0.5",
        "fav": False,
        "tags": data["tags"],
        "spec": "chara_card_v2",
        "spec_version": "2.0",
        "data": data,
        "create_date": "2024-5-1 @12h 00m 00s 000ms",
    }


def site_v3_card() -> dict[str, Any]:
    """A V3 card (RisuAI/SillyTavern style): the V3-only fields and assets beside the V2 ones."""
    data = site_data()
    data["name"] = "Elara Voss Three"
    data.update(
        nickname="Ela",
        group_only_greetings=["*{{char}} bangs a pipe.* Everyone, grab a wrench."],
        creator_notes_multilingual={"en": "Slow burn mentor story.", "ja": "師弟もの。"},
        source=["https://example.invalid/characters/elara"],
        creation_date=1_714_564_800,
        modification_date=1_714_564_900,
        assets=[
            {"type": "icon", "uri": "ccdefault:", "name": "main", "ext": "png"},
            {"type": "background", "uri": "embeded://assets/engine-room.png", "name": "engine room", "ext": "png"},
        ],
    )
    return {"spec": "chara_card_v3", "spec_version": "3.0", "data": data}
