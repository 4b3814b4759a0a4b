"""The prompt: persona first, newest history that fits the budget, nothing essential dropped."""

from __future__ import annotations

from avatar.llm.prompt import HistoryItem, apply_macros, build_prompt, system_prompt
from avatar.llm.tokens import estimate_tokens, message_tokens
from avatar.llm.window import window_start
from avatar.personas.schemas import Persona

PERSONA = Persona(
    id="tester",
    name="Tess",
    tagline="A careful tester.",
    description="{{char}} checks everything {{user}} builds.",
    personality="Meticulous.",
    scenario="A lab.",
    style={"do": ["Be brief."], "dont": ["Ramble."]},
    example_dialogues=["{{user}}: Does it work?\n{{char}}: Let me check."],
    boundaries=["No medical advice."],
)


def prompt_tokens(messages) -> int:
    return sum(message_tokens(m.content) for m in messages)


def test_system_prompt_has_every_persona_field_with_macros_filled():
    text = system_prompt(PERSONA, user_name="Sam")
    for expected in (
        "You are Tess.",
        "A careful tester.",
        "Tess checks everything Sam builds.",
        "Meticulous.",
        "A lab.",
        "Do: Be brief.",
        "Don't: Ramble.",
        "No medical advice.",
        "Sam: Does it work?",
    ):
        assert expected in text
    assert "{{" not in text


def test_macros_any_case():
    assert apply_macros("{{char}} {{CHAR}} {{User}}", "A", "B") == "A A B"


def test_window_keeps_newest_and_drops_oldest_first():
    history = [HistoryItem("user" if i % 2 == 0 else "assistant", f"message number {i} " * 40) for i in range(200)]
    built = build_prompt(PERSONA, history, user_name="Sam", context_tokens=2048, reply_tokens=256)
    assert built.messages[0].role == "system"
    assert built.messages[-1].content == history[-1].content
    assert built.dropped_messages > 0
    kept = [m.content for m in built.messages[1:]]
    assert kept == [h.content for h in history[-len(kept) :]]  # a contiguous newest suffix, in order
    assert prompt_tokens(built.messages) <= 2048 - 256


def test_100kb_message_is_shortened_in_the_prompt_but_budget_holds():
    huge = ("lorem ipsum dolor sit amet " * 4000)[:100_000] + " THE END"
    built = build_prompt(PERSONA, [HistoryItem("user", huge)], user_name="Sam", context_tokens=4096, reply_tokens=512)
    newest = built.messages[-1].content
    assert built.newest_truncated
    assert newest.startswith("lorem ipsum") and newest.endswith("THE END")
    assert "characters omitted" in newest
    assert prompt_tokens(built.messages) <= 4096 - 512


def test_unicode_and_emoji_are_counted_conservatively_and_kept_intact():
    text = "こんにちは 👋🏽 café — naïve"
    assert estimate_tokens(text) >= len(text.encode("utf-8")) // 3
    built = build_prompt(PERSONA, [HistoryItem("user", text)], user_name="Sam", context_tokens=4096, reply_tokens=512)
    assert built.messages[-1].content == text


def test_system_prompt_is_never_dropped_even_when_huge():
    giant = PERSONA.model_copy(update={"description": "x " * 20_000})
    built = build_prompt(
        giant,
        [HistoryItem("assistant", "old"), HistoryItem("user", "hello")],
        user_name="Sam",
        context_tokens=1024,
        reply_tokens=256,
    )
    assert built.messages[0].role == "system" and "x x x" in built.messages[0].content
    assert built.messages[-1].content == "hello"


def test_post_history_instructions_come_last_with_macros_and_count_in_the_budget():
    persona = PERSONA.model_copy(update={"post_history_instructions": "Reply as {{char}}, never as {{user}}. " * 60})
    history = [HistoryItem("user" if i % 2 == 0 else "assistant", f"message number {i} " * 4) for i in range(101)]
    built = build_prompt(persona, history, user_name="Sam", context_tokens=2048, reply_tokens=256)
    system, *window, last = built.messages
    assert system.role == "system" and "Reply as" not in system.content  # not in the system prompt
    assert last.role == "system" and last.content.startswith("Reply as Tess, never as Sam.")
    assert window[-1].content == history[-1].content  # the user's newest message is just before it
    assert prompt_tokens(built.messages) <= 2048 - 256
    assert built.estimated_tokens == prompt_tokens(built.messages)
    plain = build_prompt(PERSONA, history, user_name="Sam", context_tokens=2048, reply_tokens=256)
    assert plain.messages[-1].role == "user"  # no empty instruction message without the field
    assert built.dropped_messages > plain.dropped_messages  # the instructions took room from the history


def test_about_me_is_a_labelled_section_and_creator_notes_are_never_sent():
    persona = PERSONA.model_copy(update={"creator_notes": "Secret note for card readers."})
    text = system_prompt(persona, user_name="Sam", about_me="I'm a nurse in Lyon. I say {{char}} a lot.")
    assert "## About Sam\n(What Sam has told you about themselves.)\nI'm a nurse in Lyon." in text
    assert "I say {{char}} a lot." in text  # the user's words are not a template
    assert "Secret note" not in text
    assert text.index("## About Sam") < text.index("Stay in character")
    assert "## About" not in system_prompt(PERSONA, user_name="Sam", about_me="   ")
    built = build_prompt(
        persona,
        [HistoryItem("user", "hi")],
        user_name="Sam",
        about_me="I climb.",
        context_tokens=4096,
        reply_tokens=512,
    )
    assert "I climb." in built.messages[0].content
    assert all("Secret note" not in m.content for m in built.messages)


def test_notes_sit_just_before_their_message_verbatim_and_count_in_the_budget():
    history = [
        HistoryItem("assistant", "Hi {{user}}!"),
        HistoryItem("user", "first", note="## Memories\n- {{user}} likes tea"),
        HistoryItem("assistant", "Noted."),
        HistoryItem("user", "second", note="## Memories\n- {{user}} has a cat"),
    ]
    built = build_prompt(PERSONA, history, user_name="Sam", context_tokens=4096, reply_tokens=512, turn_reserve=200)
    assert [(m.role, m.content) for m in built.messages[1:]] == [
        ("assistant", "Hi {{user}}!"),  # stored text is sent as it is: macros are for the persona's fields
        ("system", "## Memories\n- {{user}} likes tea"),
        ("user", "first"),
        ("assistant", "Noted."),
        ("system", "## Memories\n- {{user}} has a cat"),
        ("user", "second"),
    ]
    assert "likes tea" not in built.messages[0].content and "has a cat" not in built.messages[0].content
    assert built.estimated_tokens == prompt_tokens(built.messages)


def chat_history(count: int, words: int = 1) -> list[HistoryItem]:
    """`count` alternating messages, ending with the user's (the one to answer)."""
    return [
        HistoryItem("user" if (count - i) % 2 == 1 else "assistant", f"message number {i} " * words)
        for i in range(count)
    ]


def test_character_note_sits_depth_messages_from_the_end_with_macros_filled():
    history = chat_history(5)
    note = {"character_note": "  {{char}} teases {{user}}.  ", "post_history_instructions": "Last word."}
    for depth, at in ((0, 6), (1, 5), (4, 2), (5, 1), (100, 1)):
        persona = PERSONA.model_copy(update={**note, "character_note_depth": depth})
        built = build_prompt(persona, history, user_name="Sam", context_tokens=4096, reply_tokens=512)
        messages = built.messages
        assert (messages[at].role, messages[at].content) == ("system", "Tess teases Sam."), depth
        assert [m.content for m in messages[1:at] + messages[at + 1 : -1]] == [h.content for h in history]
        assert messages[-1].content == "Last word."  # the post-history instructions stay the last word
        assert "teases" not in messages[0].content
    empty = build_prompt(PERSONA.model_copy(update=note), [], user_name="Sam", context_tokens=4096, reply_tokens=512)
    assert empty.messages[1].content == "Tess teases Sam."  # no history yet: still sent
    plain = build_prompt(PERSONA, history, user_name="Sam", context_tokens=4096, reply_tokens=512)
    assert len(plain.messages) == 1 + len(history)  # no empty note message without the field


def test_character_note_survives_trimming_and_counts_in_the_budget():
    persona = PERSONA.model_copy(update={"character_note": "Stay in voice, {{char}}. " * 80, "character_note_depth": 3})
    history = chat_history(101, words=40)
    built = build_prompt(persona, history, user_name="Sam", context_tokens=2048, reply_tokens=256)
    notes = [i for i, m in enumerate(built.messages) if m.content.startswith("Stay in voice, Tess.")]
    assert notes == [len(built.messages) - 4] and built.messages[notes[0]].role == "system"
    assert built.messages[-1].content == history[-1].content
    assert prompt_tokens(built.messages) <= 2048 - 256
    assert built.estimated_tokens == prompt_tokens(built.messages)
    plain = build_prompt(PERSONA, history, user_name="Sam", context_tokens=2048, reply_tokens=256)
    assert built.dropped_messages > plain.dropped_messages  # the note took room from the history, not the reverse


def test_a_huge_character_note_is_never_dropped():
    persona = PERSONA.model_copy(update={"character_note": "y " * 5_000, "character_note_depth": 1})
    history = [HistoryItem("user", "old question"), HistoryItem("assistant", "old answer"), HistoryItem("user", "hi")]
    built = build_prompt(persona, history, user_name="Sam", context_tokens=1024, reply_tokens=256)
    assert [m.content for m in built.messages[1:]] == ["y " * 4_999 + "y", "hi"]  # the note, then the newest


def test_the_window_moves_in_steps_and_keeps_60_to_100_percent_of_the_budget():
    costs: list[int] = []
    starts: list[int] = []
    for index in range(300):
        costs.append(20 + (index * 37) % 61)  # messages of 20-80 tokens
        starts.append(window_start(costs, 1000))
    moves = [turn for turn in range(1, 300) if starts[turn] != starts[turn - 1]]
    assert 20 <= len(moves) <= 60  # ~15k tokens through a 1000-token window, 400 tokens at a time
    for turn in range(300):
        kept = sum(costs[starts[turn] : turn + 1])
        assert kept <= 1000 or starts[turn] == turn  # fits (or only the newest message is left)
        if turn in moves:
            assert kept >= 600 - 80  # a step drops 40 % of the budget (to the next message boundary)
    assert starts == [window_start(costs[: turn + 1], 1000) for turn in range(300)]  # the same history, the same cut


def test_the_newest_message_is_kept_whatever_it_costs():
    assert window_start([10, 10, 5000], 1000) == 2
    assert window_start([10, 10, 10], 1000) == 0
    assert window_start([], 1000) == 0
