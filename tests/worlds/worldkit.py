"""A SillyTavern World Info file as SillyTavern exports it: entries keyed by uid, every field it writes."""

from __future__ import annotations

from typing import Any


def st_entry(uid: int, content: str, **fields: Any) -> dict[str, Any]:
    """One entry with SillyTavern's defaults (world-info.js newWorldInfoEntryTemplate), `fields` over them."""
    entry = {
        "uid": uid,
        "key": [],
        "keysecondary": [],
        "comment": "",
        "content": content,
        "constant": False,
        "vectorized": False,
        "selective": True,
        "selectiveLogic": 0,
        "addMemo": True,
        "order": 100,
        "position": 0,
        "disable": False,
        "excludeRecursion": False,
        "preventRecursion": False,
        "delayUntilRecursion": False,
        "probability": 100,
        "useProbability": True,
        "depth": 4,
        "group": "",
        "groupOverride": False,
        "groupWeight": 100,
        "scanDepth": None,
        "caseSensitive": None,
        "matchWholeWords": None,
        "useGroupScoring": None,
        "automationId": "",
        "role": None,
        "sticky": 0,
        "cooldown": 0,
        "delay": 0,
        "displayIndex": uid,
    }
    entry.update(fields)
    return entry


def meridian_world_info() -> dict[str, Any]:
    """The starship Meridian: a constant entry, a keyed one, a selective one with secondary keys, a disabled one."""
    return {
        "entries": {
            "0": st_entry(
                0,
                "The Meridian is a deep-space survey ship with a crew of forty; its captain is Vega.",
                comment="The Meridian",
                constant=True,
                order=10,
            ),
            "1": st_entry(
                1,
                "The ship's engine is a fusion torch that runs on frozen deuterium mined from comets.",
                comment="Engine",
                key=["engine", "torch"],
                order=50,
            ),
            "2": st_entry(
                2,
                "Deck seven holds the hydroponic gardens, where the cook grows basil and chili.",
                comment="Gardens",
                key=["deck seven"],
                keysecondary=["basil", "herbs"],
                selective=True,
                selectiveLogic=0,
                position=4,
                depth=2,
                order=60,
            ),
            "3": st_entry(
                3,
                "The ship carries a secret cargo of alien eggs.",
                comment="Old idea",
                key=["cargo"],
                disable=True,
            ),
        }
    }


CONSTANT_TEXT = "The Meridian: The Meridian is a deep-space survey ship with a crew of forty; its captain is Vega."
ENGINE_TEXT = "Engine: The ship's engine is a fusion torch that runs on frozen deuterium mined from comets."
GARDENS_TEXT = (
    "Gardens: Deck seven holds the hydroponic gardens, where the cook grows basil and chili. (keys: with herbs)"
)
