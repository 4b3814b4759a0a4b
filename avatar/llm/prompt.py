"""The prompt for one turn: the persona as a system message, as much recent history as fits (with the
persona's character note inside it), then the persona's post-history instructions.

The character note (SillyTavern's "Character's Note", a card's extensions.depth_prompt) is a system
message `character_note_depth` messages from the end of the history that was kept: 0 puts it after
the newest message, a depth past the oldest kept message puts it first, right after the system prompt.

Budget: context_tokens - reply_tokens is what the prompt may use. The system prompt, the character
note, the post-history instructions and the newest user message are never dropped; a newest message
too long to fit is shortened in the middle (the saved message keeps every character). Older messages
go first, oldest first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from avatar.llm.base import ChatMessage
from avatar.llm.tokens import message_tokens, truncate_to_tokens
from avatar.personas.schemas import Persona

# The newest message keeps at least this much room even when the system prompt is huge.
MIN_NEWEST_MESSAGE_TOKENS = 256


def apply_macros(text: str, char_name: str, user_name: str) -> str:
    """Character-card macros: {{char}} and {{user}} (any case, as the card spec allows)."""
    for macro, value in (("{{char}}", char_name), ("{{user}}", user_name)):
        text = text.replace(macro, value).replace(macro.upper(), value).replace(macro.title(), value)
    return text


def about_user_section(user_name: str, about_me: str) -> str:
    """What the user wrote about themselves in their profile, labelled as such; "" if nothing."""
    about_me = about_me.strip()
    if not about_me:
        return ""
    return f"## About {user_name}\n(What {user_name} has told you about themselves.)\n{about_me}"


def system_prompt(
    persona: Persona,
    user_name: str,
    about_me: str = "",
    extra_sections: Sequence[str] = (),
) -> str:
    """The persona as one system message. `about_me` is the user's profile text (user-global, every
    persona sees it); `extra_sections` are finished blocks (e.g. recalled memories) put before the
    closing instruction, without macros applied to them."""
    sections: list[str] = []
    intro = f"You are {persona.name}."
    if persona.tagline:
        intro += f" {persona.tagline}"
    sections.append(intro)
    if persona.system_prompt:
        sections.append(persona.system_prompt)
    for title, body in (
        ("Description", persona.description),
        ("Personality", persona.personality),
        ("Scenario", persona.scenario),
    ):
        if body.strip():
            sections.append(f"## {title}\n{body.strip()}")
    if persona.style.do or persona.style.dont:
        lines = [f"- Do: {rule}" for rule in persona.style.do] + [f"- Don't: {rule}" for rule in persona.style.dont]
        sections.append("## Style\n" + "\n".join(lines))
    if persona.boundaries:
        sections.append("## Boundaries\n" + "\n".join(f"- {rule}" for rule in persona.boundaries))
    if persona.example_dialogues:
        examples = "\n\n".join(block.strip() for block in persona.example_dialogues)
        sections.append(
            "## Example dialogues\n(How you talk. They are examples, not part of this conversation.)\n" + examples
        )
    persona_text = apply_macros("\n\n".join(sections), persona.name, user_name)
    # The user's own words and recalled data are not templates: no macro replacement in them.
    tail = [about_user_section(user_name, about_me), *extra_sections]
    closing = (
        f"Stay in character as {persona.name}. Speak only as {persona.name}; never write {user_name}'s lines. "
        "Keep replies conversational: they may be read aloud."
    )
    return "\n\n".join([persona_text, *(block for block in tail if block.strip()), closing])


def post_history_text(persona: Persona, user_name: str) -> str:
    """The persona's post-history instructions with macros filled, or ""."""
    return apply_macros(persona.post_history_instructions.strip(), persona.name, user_name)


def character_note_text(persona: Persona, user_name: str) -> str:
    """The persona's character note with macros filled, or ""."""
    return apply_macros(persona.character_note.strip(), persona.name, user_name)


@dataclass(frozen=True)
class HistoryItem:
    role: str  # "user" | "assistant"
    content: str


@dataclass(frozen=True)
class BuiltPrompt:
    messages: list[ChatMessage]
    estimated_tokens: int
    dropped_messages: int
    newest_truncated: bool


def build_prompt(
    persona: Persona,
    history: Sequence[HistoryItem],
    *,
    user_name: str,
    context_tokens: int,
    reply_tokens: int,
    about_me: str = "",
    extra_sections: Sequence[str] = (),
    turn_notes: Sequence[str] = (),
) -> BuiltPrompt:
    """System prompt, the newest history that fits with the character note placed inside it, then the
    post-history instructions (if the persona has any) as a last system message. `history` ends with
    the user message to answer."""
    system = ChatMessage(role="system", content=system_prompt(persona, user_name, about_me, extra_sections))
    note_text = character_note_text(persona, user_name)
    note = [ChatMessage(role="system", content=note_text)] if note_text else []
    after_text = post_history_text(persona, user_name)
    after = [ChatMessage(role="system", content=after_text)] if after_text else []
    fixed_tokens = sum(message_tokens(m.content) for m in (system, *note, *after))
    budget = context_tokens - reply_tokens - fixed_tokens
    if not history:
        return BuiltPrompt([system, *note, *after], fixed_tokens, 0, False)

    newest = history[-1]
    newest_budget = max(budget, MIN_NEWEST_MESSAGE_TOKENS)
    newest_text = truncate_to_tokens(newest.content, newest_budget - message_tokens(""))
    window: list[ChatMessage] = [ChatMessage(role=newest.role, content=newest_text)]
    used = message_tokens(newest_text)

    kept = 1
    for item in reversed(history[:-1]):
        cost = message_tokens(item.content)
        if used + cost > budget:
            break
        window.append(ChatMessage(role=item.role, content=item.content))
        used += cost
        kept += 1
    window.reverse()
    # This turn's notes (the character's mood) change every turn: a system message just before the
    # newest message, never in the system prompt, whose cached prefix they would break.
    notes = [ChatMessage(role="system", content=text) for text in turn_notes if text.strip()]
    window[-1:-1] = notes
    # Placed in the kept window, not the whole history: trimming never pushes the note out.
    at = max(len(window) - persona.character_note_depth, 0)
    window[at:at] = note
    return BuiltPrompt(
        messages=[system, *window, *after],
        estimated_tokens=used + fixed_tokens + sum(message_tokens(m.content) for m in notes),
        dropped_messages=len(history) - kept,
        newest_truncated=newest_text != newest.content,
    )
