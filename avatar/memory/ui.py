"""The Memory tab: browse, search, edit, pin and delete what the characters remember, and see what was recalled."""

from __future__ import annotations

import html
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import gradio as gr

from avatar.context import AppContext
from avatar.core.errors import AvatarError
from avatar.core.wording import counted
from avatar.memory.origins import Origins
from avatar.memory.ranking import as_utc
from avatar.memory.schemas import MemoryKind, MemoryOut, MemoryScope, RecalledMemory, SourceMessage

if TYPE_CHECKING:
    from avatar.conversations.ui import ChatTab

log = logging.getLogger(__name__)

ALL = ""  # the "any" choice of every filter
WORDS, MEANING = "Words", "Meaning"
KIND_CHOICES = [
    ("All kinds", ALL),
    ("Cards: distilled notes", "card"),
    ("Excerpts: raw chat", "chunk"),
    ("Lore: from character cards and worlds", "lore"),
]
SCOPE_CHOICES = [
    ("Everything", ALL),
    ("About you (every character sees these)", "profile"),
    ("Shared with the character only", "persona"),
    ("A world's lore (recalled in its scenes)", "world"),
]
LIST_LIMIT = 200
MEANING_K = 50
HEADERS = ["Memory", "Kind", "Belongs to", "Importance", "Pinned", "Stored", "Ref"]
SOURCE_HEADERS = ["When", "Who", "Message"]
REF_CHARS = 8  # the tail of a UUIDv7 is random: a short, unambiguous handle for a row
NO_SELECTION = (
    "Pick a memory in the list to see why it was stored and where it comes from, and to edit, pin or delete it."
)


def when(moment: datetime | None) -> str:
    return as_utc(moment).strftime("%Y-%m-%d %H:%M UTC") if moment else ""


def kind_label(memory: MemoryOut) -> str:
    if memory.kind is MemoryKind.chunk:
        return "excerpt"
    if memory.kind is MemoryKind.lore:
        return "lore"
    return f"card: {memory.card_type.value}" if memory.card_type else "card"


def one_line(text: str, limit: int = 160) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


class MemoryTab:
    """Handlers are methods so they share the app context; the components are built in build()."""

    def __init__(self, ctx: AppContext, chat_tab: ChatTab | None = None) -> None:
        self.ctx = ctx
        self.chat_tab = chat_tab
        self.origins = Origins(ctx)

    # -- helpers ---------------------------------------------------------------------------
    def persona_choices(self) -> list[tuple[str, str]]:
        return [("All characters", ALL), *((p.name, p.id) for p in self.ctx.personas.list())]

    def persona_name(self, persona_id: str | None) -> str:
        if not persona_id:
            return "the character"
        try:
            return self.ctx.personas.get(persona_id).name
        except AvatarError:
            return persona_id  # a memory may outlive its persona file

    def belongs_to(self, memory: MemoryOut) -> str:
        if memory.scope is MemoryScope.profile:
            return self.origins.owner(memory, "You (every character)")
        return self.origins.owner(memory, self.persona_name(memory.persona_id))

    def memories(self, persona_id: str, kind: str, scope: str, query: str, mode: str) -> tuple[list[MemoryOut], str]:
        """The memories the filters select, and a line saying what is shown."""
        kind_filter = MemoryKind(kind) if kind else None
        scope_filter = MemoryScope(scope) if scope else None
        query = (query or "").strip()
        whose = f" {self.persona_name(persona_id)} knows" if persona_id else ""
        if query and mode == MEANING:
            self.ctx.memory.embedder.load()  # EmbeddingModelUnavailable says what to do
            found = self.ctx.memory.search(
                query, persona_id or None, k=MEANING_K, kind=kind_filter, scope=scope_filter, with_sources=False
            )
            if persona_id and scope_filter is MemoryScope.persona:
                found = [r for r in found if r.memory.persona_id == persona_id]
            note = f"{len(found)} memories{whose} closest in meaning to “{query}”, best first."
            return [r.memory for r in found], note
        options: dict[str, Any] = {"kind": kind_filter, "search": query or None, "limit": LIST_LIMIT + 1}
        if persona_id and scope_filter is MemoryScope.persona:
            options["persona_id"] = persona_id
        elif persona_id and scope_filter is None:
            options["visible_to"] = persona_id
        options["scope"] = scope_filter
        rows = self.ctx.memory.list(**options)
        more = len(rows) > LIST_LIMIT
        rows = rows[:LIST_LIMIT]
        matching = f" with the words “{query}”" if query else ""
        if not rows:
            return rows, f"No memories{whose}{matching} yet." if not query else f"No memories{whose}{matching}."
        shown = f"The newest {LIST_LIMIT} memories" if more else counted(len(rows), "memory", "memories")
        note = f"{shown}{whose}{matching}, newest first."
        if more:
            note += " Narrow the filters to see older ones."
        return rows, note

    def rows(self, memories: Sequence[MemoryOut]) -> list[list[Any]]:
        self.origins = self.origins.fresh()  # scenes and worlds are looked up once per list
        return [
            [
                one_line(m.text),
                kind_label(m),
                self.belongs_to(m),
                f"{m.importance:.2f}",
                "pinned" if m.pinned else "",
                when(m.created_at),
                m.id[-REF_CHARS:],
            ]
            for m in memories
        ]

    def sources_rows(self, memory: MemoryOut, sources: Sequence[SourceMessage]) -> list[list[str]]:
        character = self.persona_name(memory.persona_id) if memory.persona_id else "Character"
        if memory.scope is MemoryScope.profile and memory.conversation_id:
            try:
                character = self.persona_name(self.ctx.conversations.get(memory.conversation_id).persona_id)
            except AvatarError:
                pass
        return [
            [
                when(s.created_at),
                "You" if s.role == "user" else self.origins.speaker(s.speaker_id) or character,
                s.content,
            ]
            for s in sources
        ]

    def info(self, memory: MemoryOut) -> str:
        about = (
            "about you: every character can recall it"
            if memory.scope is MemoryScope.profile
            else f"shared with {self.persona_name(memory.persona_id)} only"
        )
        if memory.scope is MemoryScope.world:
            about = f"lore of the world {self.origins.world(memory.world_id)}: recalled in the scenes set there"
        if scene := self.origins.scene(memory.conversation_id):
            about += f" · from {scene}"
        pinned = " · **pinned**: always kept in mind" if memory.pinned else ""
        times = "once" if memory.recall_count == 1 else f"{memory.recall_count} times"
        recalled = (
            f" · recalled {times}, last {when(memory.last_recalled_at)}"
            if memory.recall_count
            else " · never recalled yet"
        )
        reason = html.escape(memory.reason) if memory.reason else "(no reason was given)"
        return (
            f"**{kind_label(memory).capitalize()}**, {about} · importance {memory.importance:.2f}{pinned}\n\n"
            f"Stored {when(memory.created_at)} · updated {when(memory.updated_at)}{recalled}\n\n"
            f"**Why it was stored:** {reason}"
        )

    # -- views -----------------------------------------------------------------------------
    def detail(self, memory_id: str | None, status: str | None = None) -> tuple[Any, ...]:
        """(selected id, info, text, pin button, sources, confirm-delete button, status)."""
        hidden_confirm = gr.update(visible=False)
        keep = gr.update() if status is None else status

        def nothing_selected(message: Any) -> tuple[Any, ...]:
            return (
                None,
                NO_SELECTION,
                gr.update(value="", interactive=False),
                gr.update(value="Pin"),
                [],
                hidden_confirm,
                message,
            )

        if not memory_id:
            return nothing_selected(keep)
        try:
            memory = self.ctx.memory.get(memory_id)
            sources = self.ctx.memory.sources(memory_id)
        except AvatarError as error:
            return nothing_selected(error.message)
        return (
            memory.id,
            self.info(memory),
            gr.update(value=memory.text, interactive=True),
            gr.update(value="Unpin" if memory.pinned else "Pin"),
            self.sources_rows(memory, sources),
            hidden_confirm,
            keep,
        )

    def view(
        self,
        persona_id: str | None,
        kind: str | None,
        scope: str | None,
        query: str | None,
        mode: str | None,
        selected_id: str | None = None,
        status: str = "",
    ) -> tuple[Any, ...]:
        """Everything the tab shows: (status, count, table, ids, *detail, confirm-forget-all button)."""
        try:
            found, note = self.memories(persona_id or ALL, kind or ALL, scope or ALL, query or "", mode or WORDS)
        except AvatarError as error:
            found, note, status = [], "", error.message
        if not self.ctx.memory.wait_for_writes(timeout_s=0):
            note += " Memories are still being written from your latest messages: Refresh in a moment."
        selected, *detail, detail_status = self.detail(selected_id)
        if isinstance(detail_status, str) and not status:
            status = detail_status
        return (
            status,
            note,
            self.rows(found),
            [m.id for m in found],
            selected,
            *detail,
            gr.update(visible=False),
        )

    # -- handlers --------------------------------------------------------------------------
    def select(self, ids: list[str] | None, evt: gr.SelectData) -> tuple[Any, ...]:
        ids = ids or []
        row = evt.row_value if isinstance(evt.row_value, list) else None
        memory_id = None
        if row:
            ref = str(row[-1])
            memory_id = next((i for i in ids if i.endswith(ref)), None)
        if memory_id is None and isinstance(evt.index, (list, tuple)) and evt.index and 0 <= evt.index[0] < len(ids):
            memory_id = ids[evt.index[0]]
        return self.detail(memory_id, status="")

    def save_text(self, memory_id: str | None, text: str, *filters: Any) -> tuple[Any, ...]:
        if not memory_id:
            return self.view(*filters, None, "Pick a memory first.")
        try:
            memory = self.ctx.memory.get(memory_id)
            self.ctx.memory.edit(memory_id, text or "", policy=self._policy(memory))
        except AvatarError as error:
            return self.view(*filters, memory_id, error.message)
        return self.view(*filters, memory_id, "Saved. The memory is searched by its new words from now on.")

    def toggle_pin(self, memory_id: str | None, *filters: Any) -> tuple[Any, ...]:
        if not memory_id:
            return self.view(*filters, None, "Pick a memory first.")
        try:
            memory = self.ctx.memory.pin(memory_id, not self.ctx.memory.get(memory_id).pinned)
        except AvatarError as error:
            return self.view(*filters, memory_id, error.message)
        message = "Pinned: always kept in mind." if memory.pinned else "Unpinned: recalled only when relevant."
        return self.view(*filters, memory_id, message)

    def ask_delete(self, memory_id: str | None) -> tuple[Any, str]:
        if not memory_id:
            return gr.update(visible=False), "Pick a memory first."
        return gr.update(visible=True), "Delete this memory for good? The conversation it came from stays."

    def delete(self, memory_id: str | None, *filters: Any) -> tuple[Any, ...]:
        if not memory_id:
            return self.view(*filters, None, "Pick a memory first.")
        try:
            self.ctx.memory.delete(memory_id)
        except AvatarError as error:
            return self.view(*filters, None, error.message)
        return self.view(*filters, None, "Deleted. It will not be recalled again.")

    def ask_forget_all(self, persona_id: str | None) -> tuple[Any, str]:
        if not persona_id:
            return gr.update(visible=False), "Pick a character in the Character filter first."
        count = self.ctx.memory.count(persona_id=persona_id)
        name = self.persona_name(persona_id)
        if count == 0:
            return gr.update(visible=False), f"{name} has no memories of its own to forget."
        return (
            gr.update(visible=True, value=f"Yes, forget all {counted(count, 'memory', 'memories')} of {name}"),
            (
                f"Forget all {count} memories {name} has of your chats? Memories about you, which every character "
                "shares, stay. This cannot be undone."
            ),
        )

    def forget_all(self, persona_id: str | None, *filters: Any) -> tuple[Any, ...]:
        if not persona_id:
            return self.view(*filters, None, "Pick a character in the Character filter first.")
        count = self.ctx.memory.delete_all(persona_id=persona_id)
        return self.view(
            *filters, None, f"Forgot {counted(count, 'memory', 'memories')} of {self.persona_name(persona_id)}."
        )

    def recalled_view(self, conversation_id: str | None) -> str:
        """HTML: what was recalled for the newest reply of the Chat tab's conversation, and why."""
        if not conversation_id:
            return self._note("Open or start a conversation in the Chat tab, then look here.")
        try:
            conversation = self.ctx.conversations.get(conversation_id)
        except AvatarError as error:
            return self._note(error.message)
        name = self.persona_name(conversation.persona_id)
        title = html.escape(conversation.title)
        if not conversation.memory_enabled:
            return self._note(f"Memory is off for “{title}”, so nothing is recalled into it.")
        try:
            if self.ctx.personas.get(conversation.persona_id).memory_policy == "off":
                return self._note(f"Memory is off for {html.escape(name)}, so nothing is recalled.")
        except AvatarError:
            pass
        recalled = self.ctx.chat.last_recall.get(conversation_id)
        if recalled is None:
            return self._note(
                f"Nothing recalled in “{title}” since the app started: send a message in the Chat tab, then look again."
            )
        if not recalled:
            return self._note(f"For the newest reply in “{title}”, no memory matched, so none was recalled.")
        items = "".join(self._recalled_item(r, name) for r in recalled)
        return (
            f"<div id='memory-recall-list'><p>For the newest reply in “{title}” with {html.escape(name)}, "
            f"{len(recalled)} {'memory was' if len(recalled) == 1 else 'memories were'} recalled, best first:</p>"
            f"<ol>{items}</ol></div>"
        )

    @staticmethod
    def _note(text: str) -> str:
        return f"<p id='memory-recall-note'>{text}</p>"

    def _recalled_item(self, recalled: RecalledMemory, name: str) -> str:
        memory = recalled.memory
        why = []
        if memory.pinned:
            why.append("pinned")
        if recalled.similarity is not None:
            why.append(f"meaning (similarity {recalled.similarity:.2f})")
        if recalled.keyword_rank is not None:
            why.append(f"words (#{recalled.keyword_rank})")
        if recalled.time_rank is not None:
            why.append("the time you mentioned")
        about = "about you" if memory.scope is MemoryScope.profile else f"with {name}"
        sources = "".join(
            f"<li><b>{'You' if s.role == 'user' else html.escape(name)}</b>, {when(s.created_at)}: "
            f"<span style='white-space: pre-wrap'>{html.escape(s.content)}</span></li>"
            for s in recalled.sources
        )
        from_messages = (
            f"<details><summary>From {counted(len(recalled.sources), 'message', 'messages')}</summary>"
            f"<ul>{sources}</ul></details>"
            if sources
            else ""
        )
        return (
            f"<li><span style='white-space: pre-wrap'>{html.escape(recalled.text)}</span><br>"
            f"<small>{kind_label(memory)}, {about} · matched by {', '.join(why) or 'recency'} · "
            f"score {recalled.score:.4f}</small>{from_messages}</li>"
        )

    def _policy(self, memory: MemoryOut) -> str:
        if memory.scope is MemoryScope.persona and memory.persona_id:
            try:
                return self.ctx.personas.get(memory.persona_id).memory_policy
            except AvatarError:
                pass
        return "strict"

    def refresh_persona_choices(self, current: str | None) -> Any:
        choices = self.persona_choices()
        value = current if current in {c[1] for c in choices} else ALL
        return gr.update(choices=choices, value=value)

    # -- layout ----------------------------------------------------------------------------
    def build(self) -> None:
        with gr.Tab("Memory", id="memory") as tab:
            gr.Markdown(
                "What your characters remember about you and your chats. Everything here stays in this "
                "computer's database; edit, pin or delete anything."
            )
            status = gr.Markdown(elem_id="memory-status")
            with gr.Row():
                persona = gr.Dropdown(
                    label="Character",
                    choices=self.persona_choices(),
                    value=ALL,
                    filterable=False,
                    elem_id="memory-persona",
                )
                kind = gr.Dropdown(
                    label="Kind", choices=KIND_CHOICES, value=ALL, filterable=False, elem_id="memory-kind"
                )
                scope = gr.Dropdown(
                    label="About", choices=SCOPE_CHOICES, value=ALL, filterable=False, elem_id="memory-scope"
                )
            with gr.Row(equal_height=True):
                query = gr.Textbox(
                    label="Search",
                    placeholder="Words to find, or a question to match by meaning (Enter to search)",
                    max_lines=1,
                    scale=4,
                    elem_id="memory-search",
                )
                mode = gr.Radio([WORDS, MEANING], value=WORDS, label="Match by", scale=1, elem_id="memory-mode")
                refresh = gr.Button("Refresh", scale=0, elem_id="memory-refresh")
            count = gr.Markdown(elem_id="memory-count")
            table = gr.Dataframe(
                headers=HEADERS,
                value=[],
                interactive=False,
                wrap=True,
                max_height=420,
                column_widths=["42%", "10%", "12%", "8%", "7%", "12%", "9%"],
                elem_id="memory-table",
            )
            ids = gr.State([])
            selected = gr.State(None)
            with gr.Group():
                info = gr.Markdown(NO_SELECTION, elem_id="memory-info")
                text = gr.Textbox(label="Text", lines=3, max_lines=12, interactive=False, elem_id="memory-text")
                with gr.Row():
                    save_button = gr.Button("Save text", elem_id="memory-save")
                    pin_button = gr.Button("Pin", elem_id="memory-pin")
                    delete_button = gr.Button("Delete", variant="stop", elem_id="memory-delete")
                    confirm_delete = gr.Button(
                        "Yes, delete it", variant="stop", visible=False, elem_id="memory-confirm-delete"
                    )
                sources = gr.Dataframe(
                    headers=SOURCE_HEADERS,
                    value=[],
                    label="Where it comes from: the original messages",
                    interactive=False,
                    wrap=True,
                    column_widths=["18%", "12%", "70%"],
                    elem_id="memory-sources",
                )
            with gr.Accordion("Forget everything a character remembers", open=False):
                gr.Markdown("Deletes the memories of the character picked in the Character filter above.")
                forget_button = gr.Button("Forget this character's memories…", variant="stop", elem_id="memory-forget")
                confirm_forget = gr.Button(
                    "Yes, forget them", variant="stop", visible=False, elem_id="memory-confirm-forget"
                )
            with gr.Accordion("What did you remember?", open=True):
                gr.Markdown(
                    "What was recalled for the newest reply in the conversation open in the **Chat** tab, "
                    "why each memory matched, and the messages it comes from."
                )
                recall_button = gr.Button("Show what was recalled", elem_id="memory-recall-refresh")
                recall_view = gr.HTML(elem_id="memory-recall")

        filters = [persona, kind, scope, query, mode]
        detail_outputs = [selected, info, text, pin_button, sources, confirm_delete, status]
        view_outputs = [status, count, table, ids, *detail_outputs[:-1], confirm_forget]
        self.components = {"persona": persona, "view_outputs": view_outputs, "recall_view": recall_view, "tab": tab}

        def show(*values: Any) -> tuple[Any, ...]:
            return self.view(*values)

        for trigger in (persona.input, kind.input, scope.input, mode.input, query.submit, refresh.click):
            trigger(show, [*filters, selected], view_outputs, show_progress="hidden", api_name=False)
        table.select(self.select, [ids], detail_outputs, show_progress="hidden", api_name=False)
        save_button.click(self.save_text, [selected, text, *filters], view_outputs, api_name=False)
        pin_button.click(self.toggle_pin, [selected, *filters], view_outputs, api_name=False)
        delete_button.click(self.ask_delete, [selected], [confirm_delete, status], api_name=False)
        confirm_delete.click(self.delete, [selected, *filters], view_outputs, api_name=False)
        forget_button.click(self.ask_forget_all, [persona], [confirm_forget, status], api_name=False)
        confirm_forget.click(self.forget_all, [persona, *filters], view_outputs, api_name=False)

        conversation = self.chat_tab.components["conversation_id"] if self.chat_tab is not None else gr.State(None)
        recall_button.click(self.recalled_view, [conversation], [recall_view], show_progress="hidden", api_name=False)
        # Opening the tab: characters may have been added meanwhile, memories written, a reply recalled.
        tab.select(self.refresh_persona_choices, [persona], [persona], show_progress="hidden", api_name=False)
        tab.select(show, [*filters, selected], view_outputs, show_progress="hidden", api_name=False)
        tab.select(self.recalled_view, [conversation], [recall_view], show_progress="hidden", api_name=False)
