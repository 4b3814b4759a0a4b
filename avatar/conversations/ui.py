"""The Chat tab's handlers: persona and model pickers, conversation list, streaming chat, Stop, Regenerate, model status.

Its components and which handler each event calls are in chat_layout.py.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import gradio as gr

from avatar.chat.schemas import TurnUpdate
from avatar.context import AppContext
from avatar.conversations.chat_layout import build_chat_tab, wire_page_load
from avatar.conversations.model_status import MODEL_INFO, MODEL_INFO_FLAG, banner_text, model_picker_update
from avatar.conversations.rendering import ChatHistory, error_bubble, render_messages
from avatar.conversations.schemas import MessageStatus
from avatar.conversations.turn_queue import QueuedTurn, TurnQueue
from avatar.core.errors import AvatarError
from avatar.expressions.ui import Faces
from avatar.llm.base import ProviderError, listed_name
from avatar.personas.schemas import Persona
from avatar.scenes.ui import ScenePanel

log = logging.getLogger(__name__)


class ChatTab:
    """Handlers are methods so they share the app context; the components are built in build()."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.faces = Faces(ctx)
        self.scenes = ScenePanel(ctx, self)
        self.turns = TurnQueue()

    # -- helpers ---------------------------------------------------------------------------
    def persona_choices(self) -> list[tuple[str, str]]:
        return [(p.name, p.id) for p in self.ctx.personas.list()]

    def conversation_choices(self, persona_id: str | None) -> list[tuple[str, str]]:
        """The character's chats and the scenes it has been in, the latest first."""
        if not persona_id:
            return []
        chats = [c for c in self.ctx.conversations.list(persona_id) if not c.is_scene]
        listed = sorted(
            [*chats, *self.ctx.scenes.scenes.list_for(persona_id)], key=lambda c: c.updated_at, reverse=True
        )
        return [(self.scenes.label(c.id, c.title) if c.is_scene else c.title, c.id) for c in listed]

    def refresh_listing(self, persona_id: str | None, conversation_id: str | None) -> Any:
        return gr.update(choices=self.conversation_choices(persona_id), value=conversation_id)

    def greeting_view(self, persona_id: str | None, index: int = 0) -> ChatHistory:
        greeting = self.ctx.chat.greeting(persona, index) if (persona := self._persona(persona_id)) else ""
        return [{"role": "assistant", "content": greeting}] if greeting else []

    def _persona(self, persona_id: str | None) -> Persona | None:
        if not persona_id:
            return None
        try:
            return self.ctx.personas.get(persona_id)
        except AvatarError:
            return None

    def _greeting_count(self, persona_id: str | None) -> int:
        persona = self._persona(persona_id)
        return len(self.ctx.chat.greetings(persona)) if persona else 0

    def persona_blurb(self, persona_id: str | None) -> str:
        if not persona_id:
            errors = self.ctx.personas.errors()
            return "No characters found." + (f" {errors[0].message}" if errors else "")
        try:
            persona = self.ctx.personas.get(persona_id)
        except AvatarError as error:
            return error.message
        return f"*{persona.tagline}*" if persona.tagline else ""

    def persona_errors_text(self) -> str:
        errors = self.ctx.personas.errors()
        if not errors:
            return ""
        lines = "\n".join(f"- {e.message}" for e in errors)
        return f"**Some character files could not be loaded** (the others work):\n{lines}"

    def history_view(self, conversation_id: str | None, persona_id: str | None, figures: bool = True) -> ChatHistory:
        """The conversation as the chat shows it; `figures`: each reply's model-server figures under it."""
        if not conversation_id:
            return self.greeting_view(persona_id)
        if self.ctx.scenes.is_scene(conversation_id):
            return self.scenes.history(conversation_id, figures)
        return render_messages(self.ctx.conversations.messages(conversation_id), figures)

    def model_info(self) -> str:
        return MODEL_INFO_FLAG if "model" in self.ctx.settings.model_fields_set else MODEL_INFO

    # -- handlers --------------------------------------------------------------------------
    async def status(self, shown_model: str | None = None) -> tuple[Any, Any, Any]:
        """(banner, Pull button, Model dropdown) from what the model server says now."""
        health = await self.ctx.provider.health()
        text = banner_text(health, self.ctx.provider.name)
        persona_problems = self.persona_errors_text()
        full = "\n\n".join(t for t in (text, persona_problems) if t)
        show_pull = health.reachable and not health.model_available and health.can_pull
        return (
            gr.update(value=full, visible=bool(full)),
            gr.update(visible=show_pull, value=f"Pull {health.model}"),
            model_picker_update(health, shown_model, self.model_info()),
        )

    async def warm_model(self, persona_id: str | None) -> AsyncIterator[Any]:
        """Load the character's model on the server ahead of the first message, saying so while it loads."""
        try:
            model = self.ctx.chat.model_for(persona_id)
        except AvatarError:
            yield gr.update(visible=False)
            return
        yield gr.update(value=f"Loading **{model}**…", visible=True)
        try:
            seconds = await self.ctx.chat.preload(model)
        except ProviderError as error:  # the status banner says what is wrong (server down, model missing)
            log.info("preload of %s failed: %s", model, error.message)
            yield gr.update(visible=False)
            return
        if seconds is None or seconds < 1.0:  # already loaded (or a reply is running): nothing worth saying
            yield gr.update(visible=False)
            return
        yield gr.update(value=f"**{model}** loaded in {seconds:.1f} s.", visible=True)

    async def choose_model(self, model: str | None, persona_id: str | None) -> tuple[Any, ...]:
        """(banner, Pull button, Model dropdown, notice): the following turns use `model`."""
        notice = ""
        if model and listed_name(self.ctx.provider.model, [model]) is None:
            log.info("model chosen in the Chat tab: %s", model)
            try:
                self.ctx.use_model(model)
            except AvatarError as error:  # not remembered, but used until the app stops
                notice = error.message
        persona = self._persona(persona_id)
        if not notice and persona is not None and persona.model:
            notice = f"{persona.name} keeps its own model, {persona.model}; the other characters use {model}."
        return (*(await self.status(model)), notice)

    def load(self, current: str | None = None) -> tuple[Any, ...]:
        """Page load: the current character list, keeping the selection the page was built with."""
        choices = self.persona_choices()
        persona_id = current if current in [c[1] for c in choices] else self.ctx.personas.default_id()
        # Only the choices are sent when the selection stands: a value update alongside them makes
        # Gradio's dropdown filter its open list down to the selected name.
        picker = gr.update(choices=choices) if persona_id == current else gr.update(choices=choices, value=persona_id)
        return (picker, *self.select_persona(persona_id))

    def pick_persona(self, persona_id: str | None) -> tuple[Any, ...]:
        """A character picked in the dropdown: its chats, and the pick itself shown again. (Picked while the page's
        load was on its way, the load's answer re-rendered the dropdown after the pick and it showed the load's
        character, Aria, over Captain Vega's chat: 3 of 8 quick picks after a reload in Chromium.)"""
        return (gr.update(value=persona_id), *self.select_persona(persona_id))

    def select_persona(self, persona_id: str | None) -> tuple[Any, ...]:
        choices = self.conversation_choices(persona_id)
        conversation_id = choices[0][1] if choices else None
        return (
            self.persona_blurb(persona_id),
            gr.update(choices=choices, value=conversation_id),
            conversation_id,
            self.history_view(conversation_id, persona_id),
            self.title_of(conversation_id),
        )

    def title_of(self, conversation_id: str | None) -> str:
        if not conversation_id:
            return ""
        try:
            return self.ctx.conversations.get(conversation_id).title
        except AvatarError:
            return ""

    def select_conversation(self, conversation_id: str | None, persona_id: str | None) -> tuple[Any, ...]:
        try:
            history = self.history_view(conversation_id, persona_id)
        except AvatarError as error:
            gr.Warning(error.message)
            return self.select_persona(persona_id)[2:]
        return conversation_id, history, self.title_of(conversation_id)

    def new_chat(self, persona_id: str | None) -> tuple[Any, ...]:
        return gr.update(value=None), None, self.greeting_view(persona_id), ""

    def name_prompt(self) -> Any:
        """The "what should they call you?" row: shown until the profile has a name (Character.ai asks first too)."""
        return gr.update(visible=not self.ctx.profile.get().name)

    def save_name(self, name: str, persona_id: str | None, conversation_id: str | None) -> tuple[Any, Any, str]:
        """(the row, chatbot, notice): the name goes into the profile, and a new chat's greeting uses it."""
        if not (name or "").strip():
            return (
                gr.update(),
                gr.update(),
                f"Type your name first (until then they call you {self.ctx.profile.default_name}).",
            )
        try:
            profile = self.ctx.profile.save(name, self.ctx.profile.about_me())
        except AvatarError as error:
            return gr.update(), gr.update(), error.message
        chatbot = gr.update() if conversation_id else self.greeting_view(persona_id)  # saved greetings stay as said
        notice = f"Nice to meet you, {profile.name}. Change it any time under Personas → About you."
        return gr.update(visible=False), chatbot, notice

    def greeting_choice(self, persona_id: str | None, conversation_id: str | None) -> tuple[Any, int]:
        """(the "another greeting" button, the greeting index). Offered on a new chat whose character
        has alternate greetings, as character sites and SillyTavern do; the shown greeting is the first."""
        count = 0 if conversation_id else self._greeting_count(persona_id)
        return self._greeting_button(0, count), 0

    def next_greeting(
        self, persona_id: str | None, conversation_id: str | None, index: int | None
    ) -> tuple[Any, int, Any]:
        """(chatbot, greeting index, button): the next greeting, before anything is said."""
        count = self._greeting_count(persona_id)
        if conversation_id or count < 2:
            return gr.update(), index or 0, self._greeting_button(0, 0)
        index = ((index or 0) + 1) % count
        return self.greeting_view(persona_id, index), index, self._greeting_button(index, count)

    @staticmethod
    def _greeting_button(index: int, count: int) -> Any:
        return gr.update(visible=count > 1, value=f"↻ Another greeting ({index + 1} of {count})")

    async def send(
        self,
        text: str,
        persona_id: str | None,
        conversation_id: str | None,
        greeting_index: int | None = 0,
        request: gr.Request | None = None,
    ) -> AsyncIterator[tuple[Any, ...]]:
        """Stream one reply. Yields (message box, chatbot, conversation id, conversation list, notice).

        Sent while this tab's previous turn is still running, the message waits for it (see TurnQueue).
        """
        if not text.strip():
            yield gr.update(), gr.update(), conversation_id, gr.update(), "Type a message first."
            return
        if not persona_id:
            yield text, gr.update(), conversation_id, gr.update(), "Pick a character first."
            return
        session = request.session_hash if request is not None and request.session_hash else "local"
        if self.turns.is_repeat(session, text):
            return  # Enter and Send pressed for one message: it is already on its way
        if self.turns.busy(session):
            # Taken now, so the box is free for the next message; it shows in the chat when the reply ends.
            yield "", gr.update(), gr.update(), gr.update(), gr.update()
        async with self.turns.turn(session, text, conversation_id) as queued:
            async for shown in self._send_now(text, persona_id, queued, greeting_index):
                yield shown

    async def _send_now(
        self, text: str, persona_id: str, queued: QueuedTurn, greeting_index: int | None
    ) -> AsyncIterator[tuple[Any, ...]]:
        conversation_id = queued.conversation_id
        if self.ctx.scenes.is_scene(conversation_id):
            assert conversation_id is not None
            async for shown in self.scenes.send(text, conversation_id, persona_id):
                yield shown
            return
        try:
            if not conversation_id:
                conversation_id = self.ctx.chat.start_conversation(persona_id, greeting_index=greeting_index or 0)
            queued.started_in = conversation_id
            saved: ChatHistory = []
            box: Any = ""  # cleared once, when the message is saved: after that the person may be typing the next
            async for update in self.ctx.chat.send(persona_id, conversation_id, text):
                first = not update.reply and not update.done
                if first:
                    saved = self.history_view(conversation_id, persona_id)  # read once per turn, not per token
                shown = self._with_reply(saved, conversation_id, persona_id, update)
                # The list changes twice: the new title once the message is saved, the order once answered.
                listing = (
                    gr.update(choices=self.conversation_choices(persona_id), value=conversation_id)
                    if first or update.done
                    else gr.update()
                )
                yield box, shown, conversation_id, listing, self._notice(update)
                box = gr.update()
        except AvatarError as error:
            yield gr.update(), gr.update(), conversation_id, gr.update(), error.message

    async def regenerate(self, persona_id: str | None, conversation_id: str | None) -> AsyncIterator[tuple[Any, ...]]:
        if not conversation_id:
            yield gr.update(), "Nothing to regenerate yet: send a message first."
            return
        if self.ctx.scenes.is_scene(conversation_id):
            async for shown in self.scenes.regenerate(conversation_id):
                yield shown
            return
        try:
            saved: ChatHistory | None = None
            async for update in self.ctx.chat.regenerate(conversation_id):
                if saved is None:
                    saved = self.history_view(conversation_id, persona_id)  # the old reply is gone by now
                yield self._with_reply(saved, conversation_id, persona_id, update), self._notice(update)
        except AvatarError as error:
            yield gr.update(), error.message

    def _with_reply(
        self, saved: ChatHistory, conversation_id: str, persona_id: str | None, update: TurnUpdate
    ) -> ChatHistory:
        if update.done:
            shown = self.history_view(conversation_id, persona_id)
            if update.error and update.reply_message_id is None:
                shown.append(error_bubble(update.error))
            return shown
        # Mid-stream: what was saved before this reply, plus the reply as it grows.
        if not update.reply:
            return saved
        return saved + [{"role": "assistant", "content": update.reply}]

    @staticmethod
    def _notice(update: TurnUpdate) -> str:
        if update.error:
            # Said once: in the "No reply" bubble when nothing came back, here when a reply broke off midway.
            return "" if update.done and update.reply_message_id is None else update.error
        if update.done and update.status is MessageStatus.partial:
            return "Stopped. The part of the reply you saw is saved."
        return ""

    async def stop(self, conversation_id: str | None) -> str:
        if not conversation_id:
            return ""
        scene = self.ctx.scenes.is_scene(conversation_id)  # a scene: the replies still to come stop too
        if not (self.ctx.scenes.stop(conversation_id) if scene else self.ctx.chat.stop(conversation_id)):
            return ""
        await self.ctx.chat.registry.wait_finished(conversation_id, timeout_s=5)
        return "Stopped. The part of the reply you saw is saved."

    def rename(self, conversation_id: str | None, title: str, persona_id: str | None) -> tuple[Any, str]:
        if not conversation_id:
            return gr.update(), "Start a conversation first, then give it a name."
        try:
            self.ctx.conversations.rename(conversation_id, title)
        except AvatarError as error:
            return gr.update(), error.message
        return gr.update(choices=self.conversation_choices(persona_id), value=conversation_id), "Renamed."

    def memory_switch(self, conversation_id: str | None) -> Any:
        """The "Remember this chat" box for the conversation now shown (a new chat starts with it on)."""
        if not conversation_id:
            return gr.update(value=True)
        try:
            return gr.update(value=self.ctx.conversations.get(conversation_id).memory_enabled)
        except AvatarError:
            return gr.update(value=True)

    def set_memory(
        self, conversation_id: str | None, enabled: bool, persona_id: str | None, greeting_index: int | None = 0
    ) -> tuple[Any, ...]:
        """(notice, conversation id, conversation list). Switching memory off before the first message
        starts the conversation right away, so that even its first turn is neither recalled into nor stored."""
        listing = gr.update()
        try:
            if conversation_id:
                self.ctx.conversations.set_memory_enabled(conversation_id, bool(enabled))
            elif not enabled and persona_id:
                conversation_id = self.ctx.chat.start_conversation(
                    persona_id, memory_enabled=False, greeting_index=greeting_index or 0
                )
                listing = gr.update(choices=self.conversation_choices(persona_id), value=conversation_id)
        except AvatarError as error:
            return error.message, conversation_id, listing
        if enabled:
            notice = "Memory is on for this chat: it can recall what you shared before and remember what you say."
        else:
            notice = "Memory is off for this chat: nothing is recalled into it and nothing said here is remembered."
        return notice, conversation_id, listing

    def ask_delete(self, conversation_id: str | None) -> tuple[Any, str]:
        if not conversation_id:
            return gr.update(visible=False), "There is no saved conversation selected."
        return gr.update(visible=True), "Delete this conversation and all its messages? This cannot be undone."

    def delete(self, conversation_id: str | None, persona_id: str | None) -> tuple[Any, ...]:
        if conversation_id:
            try:
                self.ctx.conversations.delete(conversation_id)
            except AvatarError as error:
                return (gr.update(visible=False), error.message, *self.select_persona(persona_id)[1:])
        return (gr.update(visible=False), "Conversation deleted.", *self.select_persona(persona_id)[1:])

    async def pull(self, progress: gr.Progress = gr.Progress()) -> AsyncIterator[str]:  # noqa: B008 (Gradio injects it)
        model = self.ctx.provider.model
        yield f"Downloading {model}…"
        try:
            async for step in self.ctx.provider.pull(model):
                fraction = step.fraction
                progress(fraction if fraction is not None else 0.0, desc=f"{model}: {step.status}")
            yield f"{model} is ready."
        except ProviderError as error:
            yield error.message

    # -- layout ----------------------------------------------------------------------------
    def build(self) -> None:
        build_chat_tab(self)  # chat_layout.py

    def wire_load(self, demo: gr.Blocks) -> None:
        wire_page_load(self, demo)
