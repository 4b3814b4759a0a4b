"""Chunk windows: 3-6 consecutive messages, exchanges kept whole, each message cut once."""

from __future__ import annotations

from avatar.memory.chunking import TurnText, plan_chunks


def dialogue(count: int, start_with: str = "assistant") -> list[TurnText]:
    roles = ["assistant", "user"] if start_with == "assistant" else ["user", "assistant"]
    return [TurnText(id=f"m{i:02d}", role=roles[i % 2], content=f"message {i}") for i in range(count)]


def ids(plan) -> list[list[str]]:
    return [chunk.message_ids for chunk in plan.chunks]


def test_too_few_messages_make_no_chunk_yet():
    plan = plan_chunks(dialogue(3))  # greeting, user, reply: the reply is held back
    assert plan.chunks == [] and plan.last_message_id is None


def test_windows_hold_3_to_6_messages_and_end_on_a_reply():
    turns = dialogue(14)  # greeting + 6.5 exchanges
    plan = plan_chunks(turns)
    windows = ids(plan)
    assert windows == [
        ["m00", "m01", "m02", "m03", "m04"],
        ["m05", "m06", "m07", "m08", "m09", "m10"],
    ]
    assert all(3 <= len(w) <= 6 for w in windows)
    by_id = {t.id: t for t in turns}
    assert all(by_id[w[-1]].role == "assistant" for w in windows)
    assert plan.last_message_id == "m10"


def test_no_message_is_chunked_twice_when_the_rest_is_planned_later():
    turns = dialogue(14)
    first = plan_chunks(turns)
    later = [t for t in turns if t.id > first.last_message_id] + dialogue(20)[14:]
    second = plan_chunks(later)
    seen = [i for w in ids(first) + ids(second) for i in w]
    assert len(seen) == len(set(seen))
    assert seen == sorted(seen)  # consecutive, in order


def test_the_newest_reply_waits_because_regenerate_may_replace_it():
    turns = dialogue(6, start_with="user")  # u a u a u a
    assert ids(plan_chunks(turns)) == []  # u a u a u usable: the window is not full yet
    assert ids(plan_chunks(turns, final=True)) == [["m00", "m01", "m02", "m03", "m04", "m05"]]


def test_long_messages_close_a_window_early_but_never_below_three():
    turns = [TurnText(id=f"m{i}", role=["user", "assistant"][i % 2], content="x" * 700) for i in range(8)]
    # m1 already passes the size limit, but a window of two is too small to close
    assert ids(plan_chunks(turns)) == [["m0", "m1", "m2", "m3"]]


def test_final_flushes_a_last_window_of_at_least_three():
    turns = dialogue(14)
    assert ids(plan_chunks(turns, final=True))[-1] == ["m11", "m12", "m13"]
    assert ids(plan_chunks(dialogue(13), final=True))[-1] != ["m11", "m12"]


def test_empty_messages_are_skipped_and_text_names_the_speakers():
    turns = [
        TurnText("a", "user", "I adopted a dog"),
        TurnText("b", "assistant", ""),
        TurnText("c", "assistant", "What is\nits name?"),
        TurnText("d", "user", "Biscuit"),
        TurnText("e", "assistant", "Lovely."),
    ]
    plan = plan_chunks(turns, user_label="Sam", persona_label="Aria", final=True)
    assert plan.chunks[0].message_ids == ["a", "c", "d", "e"]
    assert plan.chunks[0].text == "Sam: I adopted a dog\nAria: What is its name?\nSam: Biscuit\nAria: Lovely."
