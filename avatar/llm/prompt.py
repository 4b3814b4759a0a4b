"""The prompt for one turn: the persona as a system message, then as much recent history as fits.

Budget: context_tokens - reply_tokens is what the prompt may use. The system prompt and the newest
user message are never dropped; a newest message too long to fit is shortened in the middle (the
saved message keeps every character). Older messages go first, oldest first.
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


def system_prompt(persona: Persona, user_name: str) -> str:
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
    sections.append(
        f"Stay in character as {persona.name}. Speak only as {persona.name}; never write {user_name}'s lines. "
        "Keep replies conversational: they may be read aloud."
    )
    return apply_macros("\n\n".join(sections), persona.name, user_name)


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
) -> BuiltPrompt:
    """System prompt plus the newest history that fits. `history` ends with the user message to answer."""
    system = ChatMessage(role="system", content=system_prompt(persona, user_name))
    budget = context_tokens - reply_tokens - message_tokens(system.content)
    if not history:
        return BuiltPrompt([system], message_tokens(system.content), 0, False)

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
    return BuiltPrompt(
        messages=[system, *window],
        estimated_tokens=used + message_tokens(system.content),
        dropped_messages=len(history) - kept,
        newest_truncated=newest_text != newest.content,
    )
