"""The Voice tab: talk with the Chat tab's character, in the Chat tab's conversation, over WebRTC."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import gradio as gr
from fastrtc import WebRTC

from avatar.context import AppContext
from avatar.conversations.ui import ChatTab
from avatar.core.errors import AvatarError
from avatar.expressions.ui import Faces
from avatar.voice.call_screen import CallScreen
from avatar.voice.handler import Mode, VoiceEvent, VoiceHandler
from avatar.voice.latency import HEADERS
from avatar.voice.models import VoiceModels
from avatar.voice.rtc import keep_calls_through_busy_moments, listen_without_prefetch, switch_threads_often

log = logging.getLogger(__name__)

MAX_CALLS = 4  # voice connections at once (each costs whisper and Piper time on this machine)
PREPARE_POLL_S = 0.5
PREPARE_MAX_S = 30 * 60  # a first download of base.en on a slow line

TALK = "🎙 Talk"
DONE = "⏹ Done, send"


def _event_functions() -> dict[int, Any]:
    root = gr.context.Context.root_block
    return root.default_config.fns if root is not None else {}


def hearing_text(text: str) -> str:
    """The live transcript as the page shows it: what you are saying, as whisper hears it so far."""
    return f"🎙 *{text}…*" if text else ""


SCROLL_TO_NEWEST = """() => {
  const wrap = document.querySelector('#voice-chatbot .bubble-wrap');
  if (wrap) requestAnimationFrame(() => wrap.scrollTo(0, wrap.scrollHeight));
}"""


class VoiceTab:
    """Shares the Chat tab's character picker and conversation state; built after the Chat tab."""

    def __init__(self, ctx: AppContext, chat_tab: ChatTab, models: VoiceModels | None = None) -> None:
        self.ctx = ctx
        self.chat_tab = chat_tab
        self.models = models or VoiceModels(ctx.settings)
        self.handler = VoiceHandler(ctx, self.models)
        self.faces = Faces(ctx)
        self.call = CallScreen(self.faces)
        listen_without_prefetch()
        switch_threads_often()
        keep_calls_through_busy_moments()

    # -- handlers --------------------------------------------------------------------------------
    def prepare(self) -> Iterator[str]:
        """Load the speech models in the background (on first opening the tab), showing progress."""
        self.models.warm_up_in_background()
        deadline = time.monotonic() + PREPARE_MAX_S
        while not self.models.ready and self.models.error is None and time.monotonic() < deadline:
            yield self.models.status
            time.sleep(PREPARE_POLL_S)
        yield self.models.status

    def on_event(self, persona_id: str | None, event: VoiceEvent) -> tuple[Any, ...]:
        """One message from the voice handler -> (status, transcript, latency, conversation, chat, list,
        what you are saying, *the call screen's parts)."""
        status = event.status if event.status is not None else gr.update()
        latency = gr.update(value=event.latency_rows) if event.latency_rows is not None else gr.update()
        hearing = gr.update() if event.hearing is None else hearing_text(event.hearing)
        persona = event.persona_id or persona_id
        call = self.call.update(persona, event.status, event.caption, event.emotion)
        if not event.conversation_id:
            return status, gr.update(), latency, gr.update(), gr.update(), gr.update(), hearing, *call
        history = self.chat_tab.history_view(event.conversation_id, persona)
        transcript = self.faces.for_chatbot(persona, event.conversation_id)
        # The Voice tab's conversation without the model-server figures: its latency table has them.
        transcript["value"] = self.chat_tab.history_view(event.conversation_id, persona, figures=False)
        # The Chat tab's list is its picked character's (in a scene the speaker changes; the list does not).
        listed = persona_id or persona
        listing = gr.update(choices=self.chat_tab.conversation_choices(listed), value=event.conversation_id)
        return status, transcript, latency, event.conversation_id, history, listing, hearing, *call

    def show_conversation(self, conversation_id: str | None, persona_id: str | None) -> tuple[Any, ...]:
        """(transcript with the faces, *the call screen) for the conversation the Chat tab shows."""
        try:
            history = self.chat_tab.history_view(conversation_id, persona_id, figures=False)
        except AvatarError:  # a conversation deleted meanwhile: the Chat tab reports it
            history = []
        transcript = self.faces.for_chatbot(persona_id, conversation_id)
        transcript["value"] = history
        return transcript, *self.call.show(persona_id, conversation_id)

    @staticmethod
    def mode_changed(mode: str) -> tuple[Any, bool]:
        return gr.update(visible=mode == Mode.push_to_talk.value, value=TALK), False

    @staticmethod
    def toggle_talk(talking: bool) -> tuple[bool, Any]:
        return (not talking), gr.update(value=TALK if talking else DONE)

    # -- layout ----------------------------------------------------------------------------------
    def build(self) -> None:
        settings = self.ctx.settings
        chat = self.chat_tab.components
        persona_picker = chat["persona_picker"]
        _, conversation_list, conversation_id, chat_chatbot, _ = chat["after_select"]
        with gr.Tab("Voice", id="voice") as tab:
            gr.Markdown(
                "Talk with the character picked in the **Chat** tab, in the same conversation. Press the "
                "microphone and just talk: the reply starts as soon as you pause, and talking over it "
                'stops it (a short "mm-hmm" does not). Your voice is processed on this computer only.'
            )
            model_status = gr.Markdown(elem_id="voice-models")
            with gr.Row():
                with gr.Column(scale=2, min_width=300):
                    call_outputs = self.call.build()
                    webrtc = WebRTC(
                        # Any value but FastRTC's placeholder: with the placeholder its page script
                        # fetches a sound effect from huggingface.co, and this page loads nothing remote.
                        value={"webrtc_id": "", "textbox": ""},  # type: ignore[arg-type]
                        label="Voice",
                        modality="audio",
                        mode="send-receive",
                        elem_id="voice-webrtc",
                        button_labels={"start": "Start talking", "stop": "Hang up", "waiting": "Connecting"},
                        full_screen=False,
                        # No ICE servers: aiortc's default asks Google's public STUN server for this
                        # machine's address on every call. The page and the app meet on this machine
                        # or the LAN, where the host addresses are enough.
                        server_rtc_configuration={"iceServers": []},
                    )
                    status = gr.Markdown(elem_id="voice-status")
                    mode = gr.Radio(
                        [m.value for m in Mode],
                        value=Mode.hands_free.value,
                        label="Mode",
                        info="With speakers and no echo cancellation the avatar can hear itself: mute the mic "
                        "while it speaks, or use push-to-talk.",
                        elem_id="voice-mode",
                    )
                    talking = gr.State(False)
                    talk_button = gr.Button(TALK, visible=False, elem_id="voice-talk")
                    with gr.Accordion("Voice detection", open=False):
                        threshold = gr.Slider(
                            0.1,
                            0.95,
                            value=settings.vad_threshold,
                            step=0.05,
                            label="Speech threshold",
                            info="Higher in a noisy room; lower if quiet speech is missed.",
                            elem_id="voice-threshold",
                        )
                        silence = gr.Slider(
                            200,
                            2000,
                            value=settings.vad_min_silence_ms,
                            step=50,
                            label="Longest pause mid-sentence (ms)",
                            info="A finished sentence is answered at once; one that sounds unfinished is waited "
                            "for this long. Longer: more room to think.",
                            elem_id="voice-silence",
                        )
                with gr.Column(scale=3):
                    transcript = gr.Chatbot(
                        type="messages",
                        height=380,
                        label="Conversation",
                        elem_id="voice-chatbot",
                        group_consecutive_messages=False,  # a scene's replies: one bubble per speaker
                    )
                    hearing = gr.Markdown(elem_id="voice-hearing")  # what you are saying, as it is heard
                    latency = gr.Dataframe(
                        headers=HEADERS,
                        value=[],
                        label="Latency of the last turns (end of turn: ms after your last word; the rest: ms after that)",
                        interactive=False,
                        elem_id="voice-latency",
                    )

        before = set(_event_functions())
        webrtc.stream(
            self.handler,
            # The order of VoiceInputs. The greeting index: a new chat's call opens with the greeting shown.
            inputs=[webrtc, persona_picker, conversation_id, chat["greeting_index"], mode, threshold, silence, talking],
            outputs=[webrtc],
            concurrency_limit=MAX_CALLS,
            time_limit=None,
        )
        webrtc.on_additional_outputs(
            self.on_event,
            inputs=[persona_picker],
            outputs=[
                status,
                transcript,
                latency,
                conversation_id,
                chat_chatbot,
                conversation_list,
                hearing,
                *call_outputs,
            ],
            show_progress="hidden",
        )
        for fn_id, fn in _event_functions().items():
            if fn_id not in before:
                fn.show_api = False  # FastRTC's plumbing events are not part of the app's named API
        for shown in (conversation_id.change, persona_picker.change, tab.select):
            shown(
                self.show_conversation,
                [conversation_id, persona_picker],
                [transcript, *call_outputs],
                show_progress="hidden",
                api_name=False,
            )
        # Talking hands-free, the person looks at the newest turn: always show it. (Gradio's own autoscroll
        # gives up when one update adds more than ~100 px, as a barge-in's cut reply plus two new turns do.)
        transcript.change(None, None, None, js=SCROLL_TO_NEWEST, show_progress="hidden", api_name=False)
        mode.change(self.mode_changed, [mode], [talk_button, talking], show_progress="hidden", api_name=False)
        talk_button.click(self.toggle_talk, [talking], [talking, talk_button], show_progress="hidden", api_name=False)
        tab.select(self.prepare, None, [model_status], show_progress="hidden", api_name=False)
        self.components = {
            "webrtc": webrtc,
            "status": status,
            "transcript": transcript,
            "latency": latency,
            "mode": mode,
            "talk_button": talk_button,
        }
