"""Scenes and worlds in the user's data controls: exported with who was there, one fine-tuning record per
speaker, deleted with a character's conversations, erased with everything."""

from __future__ import annotations

import json
import zipfile

from avatar.privacy import data_controls
from tests.scenes.conftest import collect
from tests.worlds.worldkit import meridian_world_info


def test_export_erase_and_delete_cover_scenes_and_worlds(ctx, settings, fake_ollama):
    world, _ = ctx.worlds.import_world(json.dumps(meridian_world_info()).encode(), "Meridian.json")
    scene = ctx.scenes.start(["aria", "captain-vega"], world_id=world.id)
    fake_ollama.script("Aye, the torch is lit.", "So pretty!")
    collect(ctx.scenes.send(scene, "Vega, is the engine ready?"))
    collect(ctx.scenes.send(scene, "Aria, want to see it?"))

    with zipfile.ZipFile(data_controls.export_archive(ctx, settings.data_dir / "export.zip")) as archive:
        [conversation] = [json.loads(line) for line in archive.read("conversations.jsonl").splitlines()]
        exported_world = json.loads(archive.read(f"worlds/{world.id}.json"))
    assert conversation["kind"] == "scene" and conversation["world_id"] == world.id
    assert [m["persona_id"] for m in conversation["members"]] == ["aria", "captain-vega"]
    assert [m["speaker_id"] for m in conversation["messages"]] == ["aria", None, "captain-vega", None, "aria"]
    assert exported_world["entries"] == meridian_world_info()["entries"]

    records = data_controls.finetune_records(ctx)
    assert [r["persona"] for r in records] == ["aria", "captain-vega"]
    vega = records[1]["messages"]
    assert vega[0]["role"] == "system" and vega[0]["content"].startswith("You are Captain Vega.")
    assert {"role": "assistant", "content": "Aye, the torch is lit."} in vega
    assert {"role": "user", "content": "Aria: So pretty!"} in vega  # the others' lines, named

    assert data_controls.delete_persona_conversations(ctx, "captain-vega") == 1  # a scene she was in
    assert ctx.scenes.scenes.find(scene) is None
    data_controls.wipe_everything(ctx)
    assert ctx.worlds.list() == []
