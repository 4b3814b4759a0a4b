"""Character Card lorebooks become lore memories of the persona, through the real card import and persona changes."""

from __future__ import annotations

import json

import pytest

from avatar.memory.lore import LORE_REASON
from avatar.memory.schemas import MemoryKind
from avatar.personas.card_format import EXTRAS_SUFFIX, CardExtras
from tests.personas.cardkit import v2_card

pytestmark = pytest.mark.slow

GLADE = "The glade: The glade is hidden from outsiders by old magic. (keys: clearing)"
HONESTY = "honesty: Seraphina never lies to a guest."


def lore_of(ctx, persona_id: str) -> dict[str, bool]:
    ctx.memory.wait_for_writes(60)
    return {m.text: m.pinned for m in ctx.memory.list(persona_id=persona_id, kind=MemoryKind.lore)}


def test_an_imported_cards_lorebook_is_recalled_by_its_persona(ctx):
    persona, _ = ctx.personas.import_card(json.dumps(v2_card()).encode(), filename="seraphina.json")
    assert lore_of(ctx, persona.id) == {GLADE: False, HONESTY: True}  # the disabled entry is left out
    stored = ctx.memory.list(persona_id=persona.id, kind=MemoryKind.lore)
    assert {m.reason for m in stored} == {LORE_REASON} and {m.scope.value for m in stored} == {"persona"}

    recalled = [
        r.memory.text for r in ctx.memory.recall("Is anyone near the clearing?", persona.id, wait_for_model=True)
    ]
    assert recalled[0] == HONESTY  # constant in the card: pinned, always first
    assert GLADE in recalled  # found by its key word
    assert all(GLADE not in r.memory.text for r in ctx.memory.recall("the clearing", "aria", wait_for_model=True))


def test_deleted_lore_stays_deleted_until_the_card_changes(ctx, settings):
    persona, _ = ctx.personas.import_card(json.dumps(v2_card()).encode(), filename="seraphina.json")
    assert len(lore_of(ctx, persona.id)) == 2
    ctx.memory.delete_all(persona_id=persona.id)
    ctx.warm_up()  # what the next start does: the same lorebook is not stored again
    assert lore_of(ctx, persona.id) == {}

    sidecar = settings.user_personas_dir / f"{persona.id}.{EXTRAS_SUFFIX}"
    extras = CardExtras.model_validate_json(sidecar.read_text())
    extras.character_book["entries"][0]["content"] = "The glade moved north after the storm."
    sidecar.write_text(extras.model_dump_json())
    ctx.warm_up()
    assert lore_of(ctx, persona.id) == {
        "The glade: The glade moved north after the storm. (keys: clearing)": False,
        HONESTY: True,
    }


def test_a_copy_gets_the_lore_and_deleting_the_persona_removes_it(ctx):
    persona, _ = ctx.personas.import_card(json.dumps(v2_card()).encode(), filename="seraphina.json")
    copy = ctx.personas.duplicate(persona.id)
    assert lore_of(ctx, copy.id) == lore_of(ctx, persona.id) == {GLADE: False, HONESTY: True}
    ctx.personas.delete(persona.id)
    assert lore_of(ctx, persona.id) == {}
    assert len(lore_of(ctx, copy.id)) == 2
