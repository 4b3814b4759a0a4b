"""The Chat tab's layout and wiring: its components, and which `ChatTab` handler each event calls."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import gradio as gr

if TYPE_CHECKING:
    from avatar.conversations.ui import ChatTab

# The page's load (the character list and the default character's chats) and picking a character share one
# queue, one at a time, first come first served: a pick made while the load is still on its way (a slow first
# load, a busy machine) is answered after it, so the load's default character cannot land over the pick.
AFTER_PAGE_LOAD: dict[str, Any] = {"concurrency_id": "chat-character", "concurrency_limit": 1}


def hidden() -> Any:
    return gr.update(visible=False)


def build_chat_tab(tab: ChatTab) -> None:
    """The Chat tab's components and events; `tab.components` names the ones other tabs and the page load use."""
    with gr.Tab("Chat", id="chat"):
        with gr.Row(equal_height=True):
            banner = gr.Markdown(visible=False, elem_id="status-banner")
            pull_button = gr.Button(f"Pull {tab.ctx.provider.model}", visible=False, scale=0, elem_id="pull")
        pull_status = gr.Markdown()
        # "Loading llama3.2:3b…" while the model server loads the model ahead of the first message.
        load_note = gr.Markdown(visible=False, elem_id="model-load")
        conversation_id = gr.State(None)
        greeting_index = gr.State(0)  # which greeting a new chat opens with (0: the main one)
        with gr.Row():
            with gr.Column(scale=1, min_width=240):
                # Filled at build time too, so the list is usable before the page's load event returns.
                persona_picker = gr.Dropdown(
                    label="Character",
                    choices=tab.persona_choices(),
                    value=tab.ctx.personas.default_id(),
                    interactive=True,
                    filterable=False,
                )
                face_panel = tab.faces.build_panel()
                persona_blurb = gr.Markdown()
                # The list is filled on page load (one request to the model server), never at build time.
                model_picker = gr.Dropdown(
                    label="Model",
                    choices=[tab.ctx.provider.model],
                    value=tab.ctx.provider.model,
                    interactive=True,
                    info=tab.model_info(),
                    elem_id="model-picker",
                )
                new_button = gr.Button("+ New chat")
                tab.scenes.build_setup()
                conversation_list = gr.Radio(label="Conversations", choices=[], elem_id="conversation-list")
                memory_switch = gr.Checkbox(
                    value=True,
                    label="Remember this chat",
                    info="Off: this chat neither recalls memories nor adds to them.",
                    elem_id="memory-switch",
                )
                with gr.Accordion("Rename or delete", open=False):
                    title_box = gr.Textbox(label="Title", max_lines=1)
                    rename_button = gr.Button("Rename")
                    delete_button = gr.Button("Delete conversation", variant="stop")
                    confirm_delete = gr.Button("Yes, delete it", variant="stop", visible=False)
            with gr.Column(scale=3):
                with gr.Column(visible=not tab.ctx.profile.get().name, elem_id="ask-name") as name_row:
                    gr.Markdown("**What should the characters call you?**")
                    with gr.Row(equal_height=True):
                        name_box = gr.Textbox(
                            placeholder="Your name (optional; you can change it under Personas → About you)",
                            show_label=False,
                            container=False,
                            max_lines=1,
                            scale=4,
                            elem_id="ask-name-box",
                        )
                        name_button = gr.Button("That's me", scale=1, elem_id="ask-name-save")
                tab.scenes.build_bar()
                chatbot = gr.Chatbot(
                    type="messages",
                    height=520,
                    show_copy_button=True,
                    elem_id="chatbot",
                    label="Chat",
                    group_consecutive_messages=False,  # a scene's replies: one bubble per speaker
                )
                greeting_button = gr.Button("↻ Another greeting", visible=False, size="sm", elem_id="another-greeting")
                message_box = gr.Textbox(
                    placeholder="Message… (Enter to send, Shift+Enter for a new line)",
                    show_label=False,
                    lines=1,  # Gradio submits on Enter only for single-line boxes; it still grows
                    max_lines=8,
                    autofocus=True,
                    elem_id="message-box",
                )
                with gr.Row():
                    send_button = gr.Button("Send", variant="primary", elem_id="send")
                    stop_button = gr.Button("Stop", elem_id="stop")
                    regenerate_button = gr.Button("Regenerate", elem_id="regenerate")
                notice = gr.Markdown(elem_id="chat-notice")

    after_select = [persona_blurb, conversation_list, conversation_id, chatbot, title_box]
    tab.components = {
        "banner": banner,
        "load_note": load_note,
        "pull_button": pull_button,
        "model_picker": model_picker,
        "persona_picker": persona_picker,
        "after_select": after_select,
        "conversation_id": conversation_id,
        "greeting_index": greeting_index,
        "name_row": name_row,
        "memory_switch": memory_switch,
        "chatbot": chatbot,
        "face_panel": face_panel,
        "conversation_list": conversation_list,
        "title_box": title_box,
    }

    persona_picker.input(
        tab.pick_persona,
        [persona_picker],
        [persona_picker, *after_select],
        show_progress="hidden",
        api_name=False,
        **AFTER_PAGE_LOAD,
    ).then(tab.warm_model, [persona_picker], [load_note], show_progress="hidden", api_name=False)
    # Leaving a conversation is the moment to make its memory cards (see memory/card_schedule.py).
    conversation_id.change(tab.ctx.chat.opened, [conversation_id], None, show_progress="hidden", api_name=False)
    conversation_list.input(
        tab.select_conversation,
        [conversation_list, persona_picker],
        [conversation_id, chatbot, title_box],
        show_progress="hidden",
        api_name=False,
    )
    new_button.click(
        tab.new_chat, [persona_picker], [conversation_list, conversation_id, chatbot, title_box], api_name=False
    )

    send_outputs = [message_box, chatbot, conversation_id, conversation_list, notice]
    send_inputs = [message_box, persona_picker, conversation_id, greeting_index]
    # Every Enter fires ("multiple"); TurnQueue puts a message sent during a reply after it, not dropped.
    send_options: dict[str, Any] = {"show_progress": "hidden", "api_name": False, "trigger_mode": "multiple"}
    submit_event = message_box.submit(tab.send, send_inputs, send_outputs, **send_options)
    click_event = send_button.click(tab.send, send_inputs, send_outputs, **send_options)
    regenerate_event = regenerate_button.click(
        tab.regenerate,
        [persona_picker, conversation_id],
        [chatbot, notice],
        show_progress="hidden",
        api_name=False,
    )
    status_outputs = [banner, pull_button, model_picker]
    for event in (submit_event, click_event, regenerate_event):
        event.then(tab.status, [model_picker], status_outputs, show_progress="hidden", api_name=False).then(
            hidden, None, [load_note], show_progress="hidden", api_name=False
        )
    chat_turns = [submit_event, click_event, regenerate_event]
    scene_turns = tab.scenes.wire(chatbot, conversation_id, notice, chat_turns)
    tab.faces.wire_chat(chatbot, face_panel, persona_picker, conversation_id, [*chat_turns, *scene_turns])
    model_picker.input(
        tab.choose_model,
        [model_picker, persona_picker],
        [*status_outputs, notice],
        show_progress="hidden",
        api_name=False,
    ).then(tab.warm_model, [persona_picker], [load_note], show_progress="hidden", api_name=False)
    stop_button.click(tab.stop, [conversation_id], [notice], show_progress="hidden", api_name=False)

    # Whatever changes the conversation shown (picking one, New chat, sending, deleting, the Voice tab).
    conversation_id.change(
        tab.memory_switch, [conversation_id], [memory_switch], show_progress="hidden", api_name=False
    )
    # A new chat (by any route) starts again at the first greeting; the button shows only before the first message.
    greeting_inputs = [persona_picker, conversation_id]
    for greeting_reset in (conversation_id.change, persona_picker.change, new_button.click):
        greeting_reset(
            tab.greeting_choice,
            greeting_inputs,
            [greeting_button, greeting_index],
            show_progress="hidden",
            api_name=False,
        )
    name_inputs = [name_box, persona_picker, conversation_id]
    name_outputs = [name_row, chatbot, notice]
    # The app wires About you (Personas tab) to follow these.
    tab.components["name_saved"] = [
        name_event(tab.save_name, name_inputs, name_outputs, show_progress="hidden", api_name=False)
        for name_event in (name_box.submit, name_button.click)
    ]
    greeting_button.click(
        tab.next_greeting,
        [persona_picker, conversation_id, greeting_index],
        [chatbot, greeting_index, greeting_button],
        show_progress="hidden",
        api_name=False,
    )
    memory_switch.input(
        tab.set_memory,
        [conversation_id, memory_switch, persona_picker, greeting_index],
        [notice, conversation_id, conversation_list],
        show_progress="hidden",
        api_name=False,
    )

    rename_button.click(
        tab.rename, [conversation_id, title_box, persona_picker], [conversation_list, notice], api_name=False
    )
    delete_button.click(tab.ask_delete, [conversation_id], [confirm_delete, notice], api_name=False)
    confirm_delete.click(
        tab.delete,
        [conversation_id, persona_picker],
        [confirm_delete, notice, conversation_list, conversation_id, chatbot, title_box],
        api_name=False,
    )
    pull_button.click(tab.pull, None, [pull_status], api_name=False).then(
        tab.status, [model_picker], status_outputs, api_name=False
    )


def wire_page_load(tab: ChatTab, demo: gr.Blocks) -> None:
    """What the page shows once loaded: the Chat tab's characters and chats, the model server's state, your name."""
    c = tab.components
    demo.load(
        tab.load,
        [c["persona_picker"]],
        [c["persona_picker"], *c["after_select"]],
        show_progress="hidden",
        api_name=False,
        **AFTER_PAGE_LOAD,
    )
    demo.load(
        tab.status,
        [c["model_picker"]],
        [c["banner"], c["pull_button"], c["model_picker"]],
        show_progress="hidden",
        api_name=False,
    ).then(tab.warm_model, [c["persona_picker"]], [c["load_note"]], show_progress="hidden", api_name=False)
    demo.load(tab.name_prompt, None, [c["name_row"]], show_progress="hidden", api_name=False)
    demo.load(
        tab.faces.for_chat,
        [c["persona_picker"], c["conversation_id"]],
        [c["chatbot"], *c["face_panel"]],
        show_progress="hidden",
        api_name=False,
    )
