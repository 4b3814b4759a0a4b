"""What one voice connection knows: the page's inputs, the events it sends back, the turn in progress."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import numpy as np

from avatar.chat.speculation import Speculation
from avatar.voice.latency import TurnLatency


class Mode(str, Enum):
    hands_free = "Hands-free"
    mute_while_speaking = "Mute mic while the avatar speaks"
    push_to_talk = "Push to talk"


@dataclass
class VoiceInputs:
    """What the page sends with the stream (FastRTC additional inputs), in this order."""

    persona_id: str | None = None
    conversation_id: str | None = None
    greeting_index: int = 0  # the greeting a new chat opens with (the Chat tab's "↻ Another greeting")
    mode: Mode = Mode.hands_free
    threshold: float | None = None
    silence_ms: int | None = None
    talking: bool = False  # push-to-talk: the Talk button is on

    COUNT = 7

    @classmethod
    def from_args(cls, args: list[Any]) -> VoiceInputs:
        # FastRTC prepends the WebRTC value (and a marker) to the inputs: ours are the last seven.
        values = list(args)[-cls.COUNT :] if len(args) >= cls.COUNT else []
        if not values:
            return cls()
        persona_id, conversation_id, greeting_index, mode, threshold, silence_ms, talking = values
        try:
            mode_value = Mode(mode)
        except ValueError:
            mode_value = Mode.hands_free
        return cls(
            persona_id=persona_id or None,
            conversation_id=conversation_id or None,
            greeting_index=greeting_index if isinstance(greeting_index, int) and greeting_index > 0 else 0,
            mode=mode_value,
            threshold=float(threshold) if threshold is not None else None,
            silence_ms=int(silence_ms) if silence_ms is not None else None,
            talking=bool(talking),
        )


@dataclass
class VoiceEvent:
    """What the handler tells the page (through FastRTC's additional outputs)."""

    status: str | None = None
    conversation_id: str | None = None  # set: the conversation changed, refresh the chat views
    persona_id: str | None = None
    latency_rows: list[list[object]] | None = None
    hearing: str | None = None  # the live transcript of what the user is saying ("" clears it)
    caption: str | None = None  # the sentence whose audio is now being sent to the page (the call screen's caption)
    emotion: str | None = None  # the reply's expression label, known once the model is done


@dataclass
class BargeIn:
    """When a barge-in happened and what it did (for the log, tests and the benchmark)."""

    at: float
    spoken_text: str
    stopped_generation: bool


@dataclass
class Turn:
    """One user utterance and the reply to it. Until `speculation` is committed it may still be withdrawn."""

    latency: TurnLatency
    audio: np.ndarray
    speech_s: float = 0.0
    carried: bool = False  # holds audio of an earlier utterance taken back (the user went on)
    persona_id: str | None = None
    conversation_id: str | None = None
    task: asyncio.Task | None = None
    generation: int = 0  # the Playback generation of this reply
    speculation: Speculation = field(default_factory=Speculation)
    interrupted: bool = False
    scene: bool = False  # in a scene: stopping it also stops the replies still to come
    heard: asyncio.Event = field(default_factory=asyncio.Event)  # all of the reply's audio was played

    @property
    def user_saved(self) -> bool:
        return self.speculation.committed
