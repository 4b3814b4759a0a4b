"""A scene in the running app, through the named API and by voice over real WebRTC (one app for the module)."""

from __future__ import annotations

import json

import pytest
from gradio_client import Client

from avatar.conversations.service import ConversationService
from avatar.core.db import open_database
from avatar.core.settings import Settings
from avatar.worlds.cli import import_world_command
from tests.worlds.worldkit import meridian_world_info

pytestmark = pytest.mark.slow

CAST = ["aria", "captain-vega", "professor-quill"]


def conversations(app) -> ConversationService:
    return ConversationService(open_database(app.data_dir / "avatar.db"))


def test_the_named_api_runs_a_scene_turn_and_says_who_spoke(voice_app, ollama, tmp_path):
    world_file = tmp_path / "Meridian.json"
    world_file.write_text(json.dumps(meridian_world_info()))
    assert import_world_command(Settings(data_dir=voice_app.data_dir), world_file) == 0  # as `app.py import-world`
    client = Client(voice_app.url, verbose=False)
    assert [w["name"] for w in client.predict(api_name="/worlds")] == ["Meridian"]

    ollama.script("Heading for the comet, rookie.")
    updates = list(client.submit("Vega, where are we going?", CAST, "Meridian", "", 1, api_name="/scene"))
    summary = updates[-1]
    assert summary["turn_done"] is True and summary["spoke"] == ["captain-vega"]
    assert summary["replies"][0]["reply"] == "Heading for the comet, rookie."
    assert summary["replies"][0]["speaker_name"] == "Captain Vega"
    growing = [u for u in updates[:-1] if not u["done"]]
    assert growing and {u["speaker_id"] for u in growing} == {"captain-vega"}  # streamed, with its speaker
    scene = summary["conversation_id"]
    sent = ollama.chat_requests()[-1].body["messages"]
    assert "## The world: Meridian" in sent[0]["content"]  # imported by the CLI while the app runs

    ollama.script("Comets are dirty snowballs!", "Can I paint one?")
    summary = list(client.submit("", [], "", scene, 2, api_name="/scene"))[-1]  # let them talk: two replies
    assert len(summary["spoke"]) == 2 and summary["spoke"][0] != "captain-vega"
    assert summary["spoke"][0] != summary["spoke"][1]
    saved = conversations(voice_app).messages(scene)
    assert [m.speaker_id for m in saved[-2:]] == summary["spoke"]

    with pytest.raises(Exception, match="2 to 5 characters"):
        client.predict("Hi", ["aria"], "", "", 1, api_name="/scene")
