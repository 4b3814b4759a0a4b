"""Each speaker of a scene keeps a stable prefix: its prompt extends its own previous one, notes included,
so a model server with a slot per speaker (llama.cpp -np 3, vLLM) re-reads only what was said since."""

from __future__ import annotations

import itertools
import random

import pytest

from avatar.context import create_context
from avatar.core.settings import Settings
from avatar.memory.schemas import MemoryScope
from tests.scenes.conftest import CAST, collect, replies
from tests.support.fake_model_server import FakeModelServer
from tests.support.model_costs import count_tokens, render_chat

TURNS = [
    ("captain-vega", "Vega, my dog Biscuit is on board, is that allowed?"),
    ("aria", "Aria, do you want to draw Biscuit?"),
    ("professor-quill", "Professor Quill, how do dogs smell so well?"),
    ("captain-vega", "Vega, where do we land tomorrow?"),
    ("aria", "Aria, I play the cello in the evenings, want to hear?"),
    ("professor-quill", "Quill, tell me about the cello's strings."),
    ("captain-vega", "Vega, will Biscuit need a space suit?"),
    ("aria", "Aria, what are you sketching now?"),
    ("professor-quill", "Quill, one more story before bed?"),
]


@pytest.fixture
def three_slots(tmp_path, embedder):
    server = FakeModelServer(slots=3).start()
    ctx = create_context(Settings(data_dir=tmp_path / "data", ollama_host=server.url), embedder=embedder)
    ctx.memory.add("The user's dog is a beagle named Biscuit.", scope=MemoryScope.profile)
    ctx.memory.add("The user plays the cello.", scope=MemoryScope.profile)
    ctx.scenes.chooser.rng = random.Random(5)
    yield ctx, server
    ctx.close()
    server.stop()


def tokens_of(messages: list[dict]) -> int:
    return len(count_tokens(render_chat(messages)))


def test_each_speakers_prompt_extends_its_previous_one(three_slots):
    ctx, server = three_slots
    scene = ctx.scenes.start(CAST)
    for speaker, text in TURNS:
        server.script(f"A reply from {speaker} to: {text}")
        (answer,) = replies(collect(ctx.scenes.send(scene, text)))
        assert answer.speaker_id == speaker
    requests, uses = server.chat_requests(), server.chat_uses()
    assert any("```memories" in m["content"] for r in requests for m in r.body["messages"])  # memory was on
    by_speaker: dict[str, list[int]] = {}
    for index, (speaker, _) in enumerate(TURNS):
        by_speaker.setdefault(speaker, []).append(index)
    for speaker, turns in by_speaker.items():
        firsts = {requests[i].body["messages"][0]["content"] for i in turns}
        assert len(firsts) == 1, speaker  # its first message never changes
        for before, now in itertools.pairwise(turns):
            previous, current = requests[before].body["messages"], requests[now].body["messages"]
            asked = len(previous) - 1
            assert current[: asked + 1] == previous  # everything it was sent before, its notes in place
            assert current[asked + 1] == {
                "role": "assistant",
                "content": f"A reply from {speaker} to: {TURNS[before][1]}",
            }
            # The server found it all in the speaker's slot: it evaluated only what was said since.
            assert uses[now].cached_tokens >= tokens_of(previous) - 8, (speaker, now)
    notes = [[m["content"] for m in r.body["messages"] if "```memories" in m["content"]] for r in requests]
    assert any("Biscuit" in " ".join(n) for n in notes[:1])  # recalled for Vega, before the question it answers
    # Excerpts of the scene itself were recalled too, as the lines that matched: each note records them
    # ("id#2,3") and is sent again exactly so, or the prefix checks above would fail.
    refs = [r for m in ctx.conversations.messages(scene) for rs in m.speaker_notes.values() for r in rs]
    assert any("#" in ref for ref in refs), refs
