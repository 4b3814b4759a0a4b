"""The prompt for one turn, laid out so the model server can reuse its cache of the previous one.

Local model servers (Ollama, llama.cpp server, vLLM) keep the previous prompt's KV cache and evaluate
again everything after the first token that differs. So the prompt goes from what changes least to
what changes most: the persona and what the user wrote about themselves (the system message, the same
on every turn), then the history, where each user message keeps the note of memories recalled at its
turn (a note, once sent, stays where it was; a turn adds only what is not already in the window), then
this turn's note and message, and the post-history instructions last. The history is trimmed in big
steps (window.py), so the prefix stays the same for many turns between trims.

The character note (SillyTavern's "Character's Note", a card's extensions.depth_prompt) is a system
message `character_note_depth` messages from the end of the history that was kept: 0 puts it after
the newest message, a depth past the oldest kept message puts it first, right after the system prompt.

Budget: context_tokens - reply_tokens is what the prompt may use; `turn_reserve` of it is kept for this
turn's note. The system prompt, the character note, the post-history instructions and the newest user
message are never dropped; a newest message too long to fit is shortened in the middle (the saved
message keeps every character). Older messages go first, oldest first, each with its note.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from avatar.llm.base import ChatMessage
from avatar.llm.tokens import message_tokens, truncate_to_tokens
from avatar.llm.window import window_start
from avatar.personas.schemas import Persona

# The newest message keeps at least this much room even when the system prompt is huge.
MIN_NEWEST_MESSAGE_TOKENS = 256
# Where the window starts is decided with at least this much room for the newest message, whatever it
# costs: so the start for the next turn is known as soon as a reply ends (next_turn_prefix), and a trim
# can be prepared in the server's cache while the person reads and types.
NEWEST_ROOM_TOKENS = 256


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


def system_prompt(persona: Persona, user_name: str, about_me: str = "") -> str:
    """The persona as one system message: the first of every prompt, so nothing in it changes from turn
    to turn (no dates, no recalled memories). `about_me` is the user's profile text (user-global,
    every persona sees it)."""
    closing = (
        f"Stay in character as {persona.name}. Speak only as {persona.name}; never write {user_name}'s lines. "
        "Keep replies conversational: they may be read aloud."
    )
    return join_sections(persona_text(persona, user_name), about_user_section(user_name, about_me), closing)


def join_sections(*sections: str) -> str:
    return "\n\n".join(section for section in sections if section.strip())


def persona_text(persona: Persona, user_name: str) -> str:
    """Who the persona is (its card's fields, macros filled): the start of its system message."""
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
    # The user's own words (about_me) are not a template: they are added after the macros are filled.
    return apply_macros("\n\n".join(sections), persona.name, user_name)


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
    # A system message shown just before this message: the memories recalled at that turn (quoted data).
    note: str = ""


@dataclass(frozen=True)
class BuiltPrompt:
    messages: list[ChatMessage]
    estimated_tokens: int
    dropped_messages: int
    newest_truncated: bool
    last_word: int = 0  # how many messages at the end are the post-history instructions

    def before_last_word(self) -> list[ChatMessage]:
        """The messages up to the newest one: what the next turn's prompt starts with."""
        return self.messages[: len(self.messages) - self.last_word]


@dataclass(frozen=True)
class FixedParts:
    """What every turn sends around the history: the system message, the character note, the last word."""

    system: ChatMessage
    note: list[ChatMessage]
    after: list[ChatMessage]

    @property
    def tokens(self) -> int:
        return sum(message_tokens(m.content) for m in (self.system, *self.note, *self.after))


def fixed_parts(persona: Persona, user_name: str, about_me: str = "", system: str | None = None) -> FixedParts:
    """`system`: another first message than the persona's own (a scene's, see avatar/scenes/prompt.py)."""
    note_text = character_note_text(persona, user_name)
    after_text = post_history_text(persona, user_name)
    return FixedParts(
        system=ChatMessage(role="system", content=system or system_prompt(persona, user_name, about_me)),
        note=[ChatMessage(role="system", content=note_text)] if note_text else [],
        after=[ChatMessage(role="system", content=after_text)] if after_text else [],
    )


def item_tokens(item: HistoryItem) -> int:
    return message_tokens(item.content) + (message_tokens(item.note) if item.note else 0)


def history_budget(fixed: FixedParts, context_tokens: int, reply_tokens: int, turn_reserve: int) -> int:
    """What the history may use: the context, less the reply, the fixed parts and this turn's notes."""
    return context_tokens - reply_tokens - fixed.tokens - turn_reserve


def first_kept(
    persona: Persona,
    history: Sequence[HistoryItem],
    *,
    user_name: str,
    context_tokens: int,
    reply_tokens: int,
    about_me: str = "",
    turn_reserve: int = 0,
    system: str | None = None,
) -> int:
    """Index in `history` of the oldest message the prompt keeps (see window.py: it moves in big steps).
    The newest message's own note is not counted: `turn_reserve` holds its room."""
    fixed = fixed_parts(persona, user_name, about_me, system)
    return _start(history, history_budget(fixed, context_tokens, reply_tokens, turn_reserve))


def _start(history: Sequence[HistoryItem], budget: int) -> int:
    if not history:
        return 0
    costs = [item_tokens(item) for item in history[:-1]]
    costs.append(max(message_tokens(_newest_text(history[-1], budget)), NEWEST_ROOM_TOKENS))
    return window_start(costs, budget)


def _newest_text(newest: HistoryItem, budget: int) -> str:
    """The newest message, shortened in the middle when it alone is over the budget."""
    return truncate_to_tokens(newest.content, max(budget, MIN_NEWEST_MESSAGE_TOKENS) - message_tokens(""))


def build_prompt(
    persona: Persona,
    history: Sequence[HistoryItem],
    *,
    user_name: str,
    context_tokens: int,
    reply_tokens: int,
    about_me: str = "",
    turn_reserve: int = 0,
    system: str | None = None,
) -> BuiltPrompt:
    """The messages for one turn, from what changes least to what changes most: the system message,
    the kept history (each message after its note, the character note at its depth), then the
    post-history instructions. `history` ends with the message to answer; its `note` is this turn's
    (recalled memories, the mood line), and must fit in `turn_reserve`. `system`: see fixed_parts()."""
    fixed = fixed_parts(persona, user_name, about_me, system)
    if not history:
        messages = [fixed.system, *fixed.note, *fixed.after]
        return BuiltPrompt(messages, fixed.tokens, 0, False)
    budget = history_budget(fixed, context_tokens, reply_tokens, turn_reserve)
    start = _start(history, budget)
    newest = history[-1]
    newest_text = _newest_text(newest, budget)
    kept = [*history[start:-1], HistoryItem(newest.role, newest_text, newest.note)]
    # Placed among the kept messages, not the whole history: trimming never pushes the note out.
    at = max(len(kept) - persona.character_note_depth, 0)
    window: list[ChatMessage] = []
    for index, item in enumerate(kept):
        if index == at:
            window += fixed.note
        if item.note:
            window.append(ChatMessage(role="system", content=item.note))
        window.append(ChatMessage(role=item.role, content=item.content))
    if at >= len(kept):
        window += fixed.note
    messages = [fixed.system, *window, *fixed.after]
    return BuiltPrompt(
        messages=messages,
        estimated_tokens=sum(message_tokens(m.content) for m in messages),
        dropped_messages=start,
        newest_truncated=newest_text != newest.content,
        last_word=len(fixed.after),
    )


def next_turn_prefix(
    persona: Persona,
    history: Sequence[HistoryItem],
    *,
    user_name: str,
    context_tokens: int,
    reply_tokens: int,
    about_me: str = "",
    turn_reserve: int = 0,
    system: str | None = None,
) -> tuple[list[ChatMessage], int]:
    """What the next turn's prompt will start with once `history` (ending with a reply) gets one more
    message of ordinary length: (the messages before that message, the index of the first kept one)."""
    ahead = [*history, HistoryItem("user", "")]
    built = build_prompt(
        persona,
        ahead,
        user_name=user_name,
        context_tokens=context_tokens,
        reply_tokens=reply_tokens,
        about_me=about_me,
        turn_reserve=turn_reserve,
        system=system,
    )
    # The placeholder is last but for the post-history instructions and a depth-0 character note after it.
    after = built.last_word + (
        1 if persona.character_note_depth == 0 and character_note_text(persona, user_name) else 0
    )
    return built.messages[: len(built.messages) - after - 1], built.dropped_messages
