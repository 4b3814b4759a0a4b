"""The Voice tab's call screen: the character's face large, its state (listening, thinking, speaking), the
expression of its reply, and the sentence being spoken as a caption.

While the character speaks, the face moves with the sound the browser is actually playing: a Web Audio
AnalyserNode on the call's incoming stream measures the level every animation frame and sets `--level`
on the screen, which scales the face and its glow. The script and styles are part of the page (nothing
is fetched from elsewhere).
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from avatar.expressions.ui import Faces

STATES = ("listening", "thinking", "speaking")

CALL_CSS = """
#call-screen { align-items: center; text-align: center; --level: 0; }
#call-face { width: 280px; height: 280px; margin: 8px auto 0 auto; }
#call-face img {
  border-radius: 50%; object-fit: cover;
  transform: scale(calc(1 + var(--level) * 0.08));
  box-shadow: 0 0 calc(8px + var(--level) * 70px) calc(var(--level) * 24px) rgba(255, 170, 80, 0.85);
  transition: box-shadow 60ms linear;
}
#call-screen.call-thinking #call-face img { animation: call-think 1.2s ease-in-out infinite; }
#call-screen.call-listening #call-face img { box-shadow: 0 0 0 4px rgba(90, 160, 255, 0.6); }
@keyframes call-think { 50% { opacity: 0.75; transform: scale(0.97); } }
#call-state { font-weight: 600; opacity: 0.8; }
#call-caption { min-height: 3em; font-size: 1.1em; }
/* FastRTC's sound wave under the microphone button redraws its SVG every frame: without a GPU that took half a
   core for a whole call, beside whisper on the same machine. The face above moves with the voice instead. */
#voice-webrtc .wave-container { display: none; }
"""

# Runs once on page load (gr.Blocks(js=...)). Finds the call's <audio> element whenever a call starts and
# measures what it plays; the state comes from the server through setCallState().
CALL_JS = """
() => {
  const audioContext = () => {
    if (!window.__callAudio) window.__callAudio = new (window.AudioContext || window.webkitAudioContext)();
    return window.__callAudio;
  };
  // Browsers start audio only after a gesture: the clicks that start a call unlock it.
  document.addEventListener('click', () => { try { audioContext().resume(); } catch (e) {} }, true);
  window.__callLevelMax = 0;
  let analyser = null, stream = null, data = null, level = 0;
  const hook = () => {
    const audio = document.querySelector('#voice-webrtc audio');
    const source = audio && audio.srcObject;
    if (!source || source === stream || !source.getAudioTracks().length) return;
    stream = source;
    const context = audioContext();
    context.resume();
    analyser = context.createAnalyser();
    analyser.fftSize = 1024;
    data = new Float32Array(analyser.fftSize);
    context.createMediaStreamSource(source).connect(analyser);  // measured only: the <audio> plays it
  };
  const frame = () => {
    hook();
    let target = 0;
    if (analyser) {
      analyser.getFloatTimeDomainData(data);
      let sum = 0;
      for (let i = 0; i < data.length; i++) sum += data[i] * data[i];
      target = Math.min(1, Math.sqrt(sum / data.length) * 6);
    }
    level = target > level ? target : level * 0.85 + target * 0.15;  // quick to open, slower to close
    // Restyle only when the face would move visibly: each change repaints the face and its glow.
    const shown = level < 0.01 ? '0' : level.toFixed(2);
    const screen = document.querySelector('#call-screen');
    if (screen && screen.dataset.level !== shown) {
      screen.style.setProperty('--level', shown);
      screen.dataset.level = shown;
    }
    window.__callLevelMax = Math.max(window.__callLevelMax, level);
    requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
  window.setCallState = (state) => {
    const screen = document.querySelector('#call-screen');
    if (!screen) return;
    for (const name of ['listening', 'thinking', 'speaking']) screen.classList.toggle('call-' + name, name === state);
    screen.dataset.state = state;
  };
}
"""

STATE_LABELS = {"listening": "Listening", "thinking": "Thinking…", "speaking": "Speaking"}


def state_of(status: str) -> str | None:
    """The call's state from the handler's status line (None: the status says nothing about it)."""
    lowered = status.lower()
    if lowered.startswith("speaking"):
        return "speaking"
    if lowered.startswith(("thinking", "transcribing")):
        return "thinking"
    if lowered.startswith(("listening", "stopped", "i didn't")):
        return "listening"
    return None


class CallScreen:
    """Built inside the Voice tab; `update()` turns a voice event into updates of its parts."""

    def __init__(self, faces: Faces) -> None:
        self.faces = faces

    def build(self) -> list[gr.components.Component]:
        with gr.Column(elem_id="call-screen", elem_classes=["call-listening"]):
            self.face = gr.Image(
                show_label=False,
                interactive=False,
                container=False,
                show_download_button=False,
                show_share_button=False,
                show_fullscreen_button=False,
                elem_id="call-face",
            )
            self.state_text = gr.Markdown(STATE_LABELS["listening"], elem_id="call-state")
            self.expression = gr.Markdown(elem_id="call-expression")
            self.caption = gr.Markdown(elem_id="call-caption")
            # The state for the page's script (setCallState); not shown.
            self.state = gr.Textbox(value="listening", visible=False)
        self.state.change(None, [self.state], None, js="(s) => window.setCallState && window.setCallState(s)")
        return self.outputs

    @property
    def outputs(self) -> list[gr.components.Component]:
        return [self.face, self.state_text, self.expression, self.caption, self.state]

    def show(self, persona_id: str | None, conversation_id: str | None) -> tuple[Any, ...]:
        """The face for the conversation shown (its newest reply's expression), listening."""
        label = self.faces.newest_label(conversation_id)
        return self._face(persona_id, label), STATE_LABELS["listening"], _label_text(label), "", "listening"

    def update(
        self, persona_id: str | None, status: str | None, caption: str | None, emotion: str | None
    ) -> tuple[Any, ...]:
        state = state_of(status) if status is not None else None
        if caption:
            state = "speaking"
        skip = gr.update()
        return (
            self._face(persona_id, emotion) if emotion else skip,
            STATE_LABELS[state] if state else skip,
            _label_text(emotion) if emotion else skip,
            caption if caption is not None else ("" if state in ("listening", "thinking") else skip),
            state if state else skip,
        )

    def _face(self, persona_id: str | None, label: str | None) -> str | None:
        face = self.faces.face(persona_id, label)
        return str(face) if face else None


def _label_text(label: str | None) -> str:
    return f"*{label}*" if label else ""
