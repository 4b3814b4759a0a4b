"""Who speaks next: the one named, else a draw that follows the scene (who was spoken to, who has something
to add, talkativeness, who has been quiet), never a fixed rotation."""

from __future__ import annotations

import itertools
import random
from collections import Counter

import pytest

from avatar.core.settings import PROJECT_ROOT
from avatar.personas.service import PersonaService
from avatar.scenes.relevance import EmbeddingRelevance
from avatar.scenes.turns import NextSpeaker, SceneMoment, addressed, call_names


@pytest.fixture(scope="module")
def cast():
    personas = PersonaService(PROJECT_ROOT / "personas", PROJECT_ROOT / "personas")
    return [personas.get(p) for p in ("aria", "captain-vega", "professor-quill")]


def test_names_are_what_people_call_each_other(cast):
    assert call_names(cast) == {
        "aria": ["Aria"],
        "captain-vega": ["Captain Vega", "Vega"],
        "professor-quill": ["Professor Quill", "Quill"],
    }
    assert addressed("quill, and you, VEGA?", cast) == ["professor-quill", "captain-vega"]
    assert addressed("Ask the captain and the professor", cast) == []  # titles alone name nobody
    assert addressed("Ariadne was a weaver", cast) == []  # whole words only
    # One letter off, as whisper spells names it hears: "Quil", "Quil," (names of 5 letters or more only).
    assert addressed("Professor Quil, then Aria: what is it?", cast) == ["professor-quill", "aria"]
    assert addressed("a quilted coat", cast) == [] and addressed("an area", cast) == []
    marco, marcy = (cast[0].model_copy(update={"id": n.lower(), "name": n}) for n in ("Marco", "Marcy"))
    assert addressed("Marco, what now?", [marco, marcy]) == ["marco"]  # one letter from Marcy, but Marco's name


def draws(chooser: NextSpeaker, moment: SceneMoment, count: int = 300) -> Counter:
    return Counter(chooser.choose(moment) for _ in range(count))


def test_the_choice_is_a_draw_that_follows_the_scene_not_a_rotation(cast):
    chooser = NextSpeaker(rng=random.Random(1))
    plain = SceneMoment(cast, ["aria", None], "Hmm.")
    counts = draws(chooser, plain)
    assert set(counts) == {"aria", "captain-vega", "professor-quill"}  # anyone may speak: no fixed order
    sequence = [chooser.choose(SceneMoment(cast, [None], "Hmm.")) for _ in range(12)]
    assert len(set(itertools.pairwise(sequence))) > 3  # and not the same order round after round
    assert counts["aria"] > counts["captain-vega"]  # the user answered Aria: she was spoken to

    after_vega = SceneMoment(cast, ["aria", None, "captain-vega"], "Any more ideas?")
    assert "captain-vega" not in draws(chooser, after_vega)  # never twice in a row

    shy = [c.model_copy(update={"talkativeness": 0.0 if c.id == "professor-quill" else 0.5}) for c in cast]
    chatty = [c.model_copy(update={"talkativeness": 1.0 if c.id == "professor-quill" else 0.5}) for c in cast]
    moment = SceneMoment(shy, [None], "Hmm.")
    quiet_quill = draws(chooser, moment)["professor-quill"]
    talkative_quill = draws(chooser, SceneMoment(chatty, [None], "Hmm."))["professor-quill"]
    assert talkative_quill > 2 * quiet_quill


def test_the_one_named_answers_and_several_named_answer_in_turn(cast):
    chooser = NextSpeaker(rng=random.Random(2))
    assert chooser.answering(SceneMoment(cast, ["aria", None], "Vega, status?")) == ["captain-vega"]
    moment = SceneMoment(cast, ["aria", None], "Professor Quill, Aria: thoughts?")
    assert chooser.answering(moment) == ["professor-quill", "aria"]
    # a character naming another hands it the word
    assert chooser.choose(SceneMoment(cast, [None, "aria"], "What do you think, Quill?")) == "professor-quill"


@pytest.mark.slow
def test_who_has_something_to_add_follows_the_meaning(cast, embedder):
    chooser = NextSpeaker(EmbeddingRelevance(embedder), rng=random.Random(3))
    science = draws(chooser, SceneMoment(cast, [None], "Can someone teach me how gravity and tides work?"), 40)
    assert science.most_common(1)[0][0] == "professor-quill"
    question = "Which course should the freighter's pilot set past the asteroid belt?"
    ship = draws(chooser, SceneMoment(cast, [None], question), 40)
    assert ship.most_common(1)[0][0] == "captain-vega"
