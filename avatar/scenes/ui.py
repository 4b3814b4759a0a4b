"""Scenes in the Chat tab: start one (2-5 characters, a world), the scene bar (each face with its "Ask"
button, "Let them talk", who is here), the scene's turns streamed into the chat, and the worlds."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import TYPE_CHECKING, Any

import gradio as gr

from avatar.chat.schemas import TurnUpdate
from avatar.context import AppContext
from avatar.conversations.rendering import ChatHistory, error_bubble, render_messages
from avatar.conversations.schemas import MessageStatus
from avatar.core.errors import AvatarError
from avatar.scenes.chat_view import SceneFaces
from avatar.scenes.exceptions import MAX_MEMBERS
from avatar.scenes.flows import DEFAULT_CARRY_ON, MAX_CARRY_ON
from avatar.scenes.schemas import SceneOut
from avatar.scenes.worlds_ui import WorldsSection

if TYPE_CHECKING:
    from avatar.conversations.ui import ChatTab

log = logging.getLogger(__name__)

STOPPED = "Stopped. The part of the reply you saw is saved."


class ScenePanel:
    def __init__(self, ctx: AppContext, chat_tab: ChatTab) -> None:
        self.ctx = ctx
        self.chat_tab = chat_tab
        self.faces = SceneFaces(ctx)
        self.worlds = WorldsSection(ctx)

    # -- what the Chat tab asks ------------------------------------------------------------------
    def scene(self, conversation_id: str | None) -> SceneOut | None:
        return self.ctx.scenes.scenes.find(conversation_id)

    def label(self, conversation_id: str, title: str) -> str:
        """A scene in the conversation list: marked, with who is in it."""
        scene = self.scene(conversation_id)
        names = ", ".join(self.faces.name(p) for p in scene.members) if scene else ""
        return f"Scene: {title} ({names})" if names else f"Scene: {title}"

    def history(self, conversation_id: str, figures: bool) -> ChatHistory:
        messages = self.ctx.conversations.messages(conversation_id)
        scene = self.scene(conversation_id)
        first = scene.stays[0].persona_id if scene and scene.stays else None
        return self.faces.decorate(messages, render_messages(messages, figures), first)

    # -- starting a scene ------------------------------------------------------------------------
    def start(self, cast: list[str] | None, world_id: str | None) -> tuple[Any, ...]:
        """(character picker, conversation list, conversation id, chatbot, title, notice, cast)."""
        try:
            conversation_id = self.ctx.scenes.start(cast or [], world_id=world_id or None)
        except AvatarError as error:
            return gr.update(), gr.update(), gr.update(), gr.update(), gr.update(), error.message, gr.update()
        first = (cast or [])[0]
        listing = gr.update(choices=self.chat_tab.conversation_choices(first), value=conversation_id)
        names = ", ".join(self.faces.name(p) for p in cast or [])
        notice = f"A scene with {names}. Name someone to have them answer, or use the buttons above the chat."
        history = self.chat_tab.history_view(conversation_id, first)
        return gr.update(value=first), listing, conversation_id, history, "", notice, gr.update(value=[])

    # -- the scene bar ---------------------------------------------------------------------------
    def bar(self, conversation_id: str | None) -> tuple[Any, ...]:
        """(the bar, each slot, each slot's face, each slot's Ask button, who may join, who may leave)."""
        scene = self.scene(conversation_id)
        if scene is None:
            hidden = [gr.update(visible=False)] * MAX_MEMBERS
            return (gr.update(visible=False), *hidden, *[gr.update()] * MAX_MEMBERS, *hidden, gr.update(), gr.update())
        labels = self._newest_labels(scene.conversation_id)
        slots, pictures, buttons = [], [], []
        for index in range(MAX_MEMBERS):
            member = scene.members[index] if index < len(scene.members) else None
            slots.append(gr.update(visible=member is not None))
            face = self.ctx.faces.face(self.faces.persona(member), labels.get(member or "")) if member else None
            pictures.append(gr.update(value=str(face) if face else None))
            buttons.append(gr.update(visible=member is not None, value=f"Ask {self.faces.name(member)}"))
        joinable = [(p.name, p.id) for p in self.ctx.personas.list() if p.id not in scene.members]
        present = [(self.faces.name(p), p) for p in scene.members]
        return (
            gr.update(visible=True),
            *slots,
            *pictures,
            *buttons,
            gr.update(choices=joinable, value=None),
            gr.update(choices=present, value=None),
        )

    def _newest_labels(self, conversation_id: str) -> dict[str, str]:
        labels: dict[str, str] = {}
        for message in self.ctx.conversations.messages(conversation_id):
            if message.speaker_id and message.emotion:
                labels[message.speaker_id] = message.emotion
        return labels

    def join(self, conversation_id: str | None, persona_id: str | None) -> str:
        if not conversation_id or not persona_id:
            return "Pick a character to bring in first."
        try:
            self.ctx.scenes.scenes.add_member(conversation_id, persona_id)
        except AvatarError as error:
            return error.message
        return f"{self.faces.name(persona_id)} joins the scene: from now on they hear everything said."

    def leave(self, conversation_id: str | None, persona_id: str | None) -> str:
        if not conversation_id or not persona_id:
            return "Pick who should leave first."
        try:
            self.ctx.scenes.scenes.remove_member(conversation_id, persona_id)
        except AvatarError as error:
            return error.message
        return f"{self.faces.name(persona_id)} leaves the scene, remembering what they were there for."

    # -- turns -----------------------------------------------------------------------------------
    async def send(self, text: str, conversation_id: str, persona_id: str | None) -> AsyncIterator[tuple[Any, ...]]:
        """The Chat tab's send, in a scene: (message box, chatbot, conversation id, conversation list, notice)."""
        box: Any = ""
        listing: Any = gr.update()
        async for shown, notice, update in self._stream(
            lambda: self.ctx.scenes.send(conversation_id, text), conversation_id
        ):
            if update is not None and update.user_message_id and not update.reply and not update.done:
                listing = gr.update(choices=self.chat_tab.conversation_choices(persona_id), value=conversation_id)
            yield box, shown, conversation_id, listing, notice
            box, listing = gr.update(), gr.update()

    async def regenerate(self, conversation_id: str) -> AsyncIterator[tuple[Any, str]]:
        async for shown, notice, _ in self._stream(
            lambda: self.ctx.scenes.regenerate(conversation_id), conversation_id
        ):
            yield shown, notice

    async def ask(self, slot: int, conversation_id: str | None) -> AsyncIterator[tuple[Any, str]]:
        """The "Ask <name>" button of the face in `slot`."""
        scene = self.scene(conversation_id)
        if scene is None or slot >= len(scene.members):
            yield gr.update(), "Open a scene first."
            return
        speaker = scene.members[slot]
        async for shown, notice, _ in self._stream(
            lambda: self.ctx.scenes.ask(scene.conversation_id, speaker), scene.conversation_id
        ):
            yield shown, notice

    async def let_them_talk(self, conversation_id: str | None, replies: float) -> AsyncIterator[tuple[Any, str]]:
        if self.scene(conversation_id) is None:
            yield gr.update(), "Open a scene first."
            return
        assert conversation_id is not None
        async for shown, notice, _ in self._stream(
            lambda: self.ctx.scenes.carry_on(conversation_id, int(replies or DEFAULT_CARRY_ON)), conversation_id
        ):
            yield shown, notice

    async def _stream(
        self, turn: Callable[[], AsyncIterator[TurnUpdate]], conversation_id: str
    ) -> AsyncIterator[tuple[Any, str, TurnUpdate | None]]:
        """(chatbot, notice, update) as the replies come, one under each speaker's face."""
        saved: ChatHistory | None = None
        try:
            async for update in turn():
                if saved is None or (not update.reply and not update.done):
                    saved = self.chat_tab.history_view(conversation_id, None)  # once per reply, not per token
                if update.done:
                    shown = self.chat_tab.history_view(conversation_id, None)
                    saved = None  # the next reply starts from what is saved now
                    if update.error and update.reply_message_id is None:
                        shown.append(error_bubble(update.error))
                elif update.reply:
                    shown = [*saved, self.faces.bubble(update.speaker_id, update.reply)]
                else:
                    shown = saved
                yield shown, self._notice(update), update
        except AvatarError as error:
            yield gr.update(), error.message, None

    @staticmethod
    def _notice(update: TurnUpdate) -> str:
        if update.error:
            return "" if update.done and update.reply_message_id is None else update.error
        if update.done and update.status is MessageStatus.partial:
            return STOPPED
        return ""

    # -- layout ----------------------------------------------------------------------------------
    def build_setup(self) -> None:
        """The left column's "New scene" section (call inside the Chat tab's layout)."""
        with gr.Accordion("New scene", open=False, elem_id="scene-setup"):
            gr.Markdown(
                "Several characters in one conversation. Name one to have them answer; otherwise the one the "
                "scene calls for speaks."
            )
            self.cast = gr.CheckboxGroup(
                label=f"Characters (2 to {MAX_MEMBERS})",
                choices=[(p.name, p.id) for p in self.ctx.personas.list()],
                elem_id="scene-cast",
            )
            self.world = self.worlds.build_picker()
            self.start_button = gr.Button("Start the scene", variant="primary", elem_id="scene-start")
            self.worlds.build_editor()

    def build_bar(self) -> None:
        """The scene bar above the chat: the faces with their Ask buttons, Let them talk, who is here."""
        with gr.Column(visible=False, elem_id="scene-bar") as self.bar_column:
            with gr.Row(equal_height=True):
                self.slots, self.pictures, self.ask_buttons = [], [], []
                for index in range(MAX_MEMBERS):
                    with gr.Column(visible=False, min_width=90, elem_classes="scene-slot") as slot:
                        picture = gr.Image(
                            show_label=False,
                            interactive=False,
                            height=90,
                            container=False,
                            show_download_button=False,
                            show_share_button=False,
                            show_fullscreen_button=False,
                            elem_id=f"scene-face-{index}",
                        )
                        button = gr.Button("Ask", size="sm", elem_id=f"scene-ask-{index}")
                    self.slots.append(slot)
                    self.pictures.append(picture)
                    self.ask_buttons.append(button)
            with gr.Row(equal_height=True):
                self.talk_button = gr.Button("Let them talk", scale=2, elem_id="scene-talk")
                self.talk_count = gr.Slider(
                    1,
                    MAX_CARRY_ON,
                    value=DEFAULT_CARRY_ON,
                    step=1,
                    label="replies",
                    scale=1,
                    min_width=120,
                    elem_id="scene-talk-count",
                )
            with gr.Accordion("Who is here", open=False, elem_id="scene-members"):
                with gr.Row(equal_height=True):
                    self.joiner = gr.Dropdown(label="Bring in", choices=[], elem_id="scene-join-pick")
                    self.join_button = gr.Button("Join", scale=0, elem_id="scene-join")
                with gr.Row(equal_height=True):
                    self.leaver = gr.Dropdown(label="Send away", choices=[], elem_id="scene-leave-pick")
                    self.leave_button = gr.Button("Leave", scale=0, elem_id="scene-leave")

    def wire(self, chatbot: gr.Chatbot, conversation_id: gr.State, notice: gr.Markdown, after: list[Any]) -> list[Any]:
        """Events; `after`: the Chat tab's turn events (the faces follow them). Returns this panel's turn events."""
        c = self.chat_tab.components
        bar_outputs = [self.bar_column, *self.slots, *self.pictures, *self.ask_buttons, self.joiner, self.leaver]
        conversation_id.change(self.bar, [conversation_id], bar_outputs, show_progress="hidden", api_name=False)
        turns = [
            button.click(
                partial(self.ask, index), [conversation_id], [chatbot, notice], show_progress="hidden", api_name=False
            )
            for index, button in enumerate(self.ask_buttons)
        ]
        turns.append(
            self.talk_button.click(
                self.let_them_talk,
                [conversation_id, self.talk_count],
                [chatbot, notice],
                show_progress="hidden",
                api_name=False,
            )
        )
        for event in [*turns, *after]:
            event.then(self.bar, [conversation_id], bar_outputs, show_progress="hidden", api_name=False)
        for button, handler, pick in (
            (self.join_button, self.join, self.joiner),
            (self.leave_button, self.leave, self.leaver),
        ):
            button.click(handler, [conversation_id, pick], [notice], api_name=False).then(
                self.bar, [conversation_id], bar_outputs, show_progress="hidden", api_name=False
            ).then(
                self.chat_tab.refresh_listing,
                [c["persona_picker"], conversation_id],
                [c["conversation_list"]],
                show_progress="hidden",
                api_name=False,
            )
        self.start_button.click(
            self.start,
            [self.cast, self.world],
            [
                c["persona_picker"],
                c["conversation_list"],
                conversation_id,
                chatbot,
                c["title_box"],
                notice,
                self.cast,
            ],
            api_name=False,
        )
        self.worlds.wire()
        return turns

    def refresh_choices(self) -> Any:
        """The cast list after the characters changed (Personas tab)."""
        return gr.update(choices=[(p.name, p.id) for p in self.ctx.personas.list()])

    def follow_personas(self, revision: gr.State) -> None:
        """Keep the cast list in step with the Personas tab (`revision` changes with every save or delete)."""
        revision.change(self.refresh_choices, None, [self.cast], show_progress="hidden", api_name=False)
