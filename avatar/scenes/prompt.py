"""A scene's prompt for one speaker, following the layout of avatar/llm/prompt.py (a stable prefix per speaker).

Each speaker has its own first message, the same on every one of its turns: its persona, the world, a
short line on each other character, what the user wrote about themselves. Then the shared history as
that speaker sees it: its own replies as the assistant's, everyone else's as "Name: words" lines. The
notes of memories recalled for a speaker are its own (`messages.speaker_notes`): recalled from its
memories, the user's and the world's lore, shown just before the message they were recalled for, and
sent again in place on its later turns, so each speaker's prompt extends its previous one. A character
joining or leaving changes the line on the others: that speaker's next prompt starts afresh, once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from avatar.chat.notes import NotedHistory, join_notes, shown_in_notes
from avatar.conversations.schemas import MessageOut
from avatar.llm.prompt import HistoryItem, about_user_section, apply_macros, join_sections, persona_text
from avatar.memory.prompt import format_memories
from avatar.memory.service import MemoryService
from avatar.personas.schemas import Persona
from avatar.worlds.schemas import WorldOut

LINE_CHARS = 160  # a short line on each other character


def one_line_about(persona: Persona, user_name: str) -> str:
    """Who another character is, in a line: its tagline, else the first sentence of its description."""
    text = persona.tagline.strip() or persona.description.strip().split("\n")[0].split(". ")[0]
    text = " ".join(apply_macros(text, persona.name, user_name).split())
    return text if len(text) <= LINE_CHARS else text[: LINE_CHARS - 1] + "…"


def names_list(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def scene_system_prompt(
    speaker: Persona, others: Sequence[Persona], world: WorldOut | None, user_name: str, about_me: str = ""
) -> str:
    """The speaker's first message in this scene: nothing in it changes from turn to turn."""
    world_section = ""
    if world is not None:
        description = apply_macros(world.description.strip(), speaker.name, user_name)
        world_section = f"## The world: {world.name}\n{description}".strip()
    lines = "\n".join(f"- {other.name}: {one_line_about(other, user_name)}".rstrip(": ") for other in others)
    everyone = names_list([*(o.name for o in others), user_name])
    closing = (
        f"This is a scene with {everyone}. The others' messages begin with their name. Stay in character as "
        f"{speaker.name}: write only {speaker.name}'s own reply, without a name in front, never the lines of "
        f"{everyone}. Keep replies conversational: they may be read aloud."
    )
    return join_sections(
        persona_text(speaker, user_name),
        world_section,
        f"## Also in this scene\n{lines}" if lines else "",
        about_user_section(user_name, about_me),
        closing,
    )


def continue_line(speaker: Persona) -> str:
    """Asked to speak right after its own reply: say so, or the model would only finish that reply."""
    return f"{speaker.name} goes on, adding something new."


@dataclass(frozen=True)
class SceneView:
    """Who is who in a scene, for rendering its history to one speaker."""

    speaker_id: str
    names: Mapping[str, str]  # persona id -> name, for everyone who ever spoke in the scene
    first_character: str  # who said a reply without a speaker_id (a conversation from before scenes)
    user_name: str

    def item(self, message: MessageOut, note: str) -> HistoryItem:
        if message.role.value == "user":
            return HistoryItem("user", f"{self.user_name}: {message.content}", note)
        said_by = message.speaker_id or self.first_character
        if said_by == self.speaker_id:
            return HistoryItem("assistant", message.content, note)
        return HistoryItem("user", f"{self.names.get(said_by, said_by)}: {message.content}", note)


def scene_history(messages: Sequence[MessageOut], view: SceneView, memory: MemoryService | None) -> NotedHistory:
    """The scene as `view.speaker_id` sees it, each message after the note that speaker was shown before it."""
    kept = [m for m in messages if m.content.strip()]
    notes = [m.speaker_notes.get(view.speaker_id, []) for m in kept]  # "id" or "id#2,3", as recall showed them
    items: list[HistoryItem] = []
    note_ids: list[list[str]] = []
    for message, shown in zip(kept, shown_in_notes(notes, memory)):
        items.append(view.item(message, join_notes(format_memories(shown, view.user_name))))
        note_ids.append([r.memory.id for r in shown])
    return NotedHistory(items, note_ids, [m.id for m in kept], ["" for _ in kept])
