"""Per-turn voice latency: last word -> end of turn -> transcript -> first LLM token -> first audio out, and
what the model server reported (prompt tokens evaluated, its own timings)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from avatar.llm.stats import GenerationStats

log = logging.getLogger(__name__)

HEADERS = [
    "turn",
    "speech s",
    "end of turn ms",
    "transcript ms",
    "first token ms",
    "first audio ms",
    "start",
    "outcome",
    "model server",
]


@dataclass
class TurnLatency:
    """Clock times (time.monotonic) of one turn's stages; the table shows each as ms after the endpoint."""

    number: int
    endpoint_at: float  # the pause that ended the user's turn was detected
    speech_s: float  # how long the utterance was
    pause_s: float = 0.0  # silence after the last word when the turn was ended
    ended_by: str = "silence"  # "meaning" (the end-of-turn model), "silence" (the long limit), "button", "length"
    transcript_at: float | None = None
    first_token_at: float | None = None
    first_audio_at: float | None = None  # the first 20 ms of the reply left for the speaker
    outcome: str = ""
    speculative: str = ""  # the reply started before the turn was certain: "used", or "cancelled" (they went on)
    generation: GenerationStats | None = None  # what the model server reported for the reply

    def ms(self, at: float | None) -> int | None:
        return None if at is None else round((at - self.endpoint_at) * 1000)

    def row(self) -> list[object]:
        return [
            self.number,
            round(self.speech_s, 1),
            f"{round(self.pause_s * 1000)} ({self.ended_by})",
            self.ms(self.transcript_at),
            self.ms(self.first_token_at),
            self.ms(self.first_audio_at),
            self.speculative,
            self.outcome,
            self.generation.summary() if self.generation is not None else "",
        ]

    def log(self) -> None:
        # Timings only: what was said stays out of the logs.
        log.info(
            "voice turn %d: %.1f s of speech, ended by %s %d ms after the last word; after that: transcript %s ms, "
            "first token %s ms, first audio %s ms; %s %s; model server: %s",
            self.number,
            self.speech_s,
            self.ended_by,
            round(self.pause_s * 1000),
            self.ms(self.transcript_at),
            self.ms(self.first_token_at),
            self.ms(self.first_audio_at),
            self.outcome,
            f"(speculative start {self.speculative})" if self.speculative else "",
            self.generation.summary() if self.generation is not None else "-",
        )
