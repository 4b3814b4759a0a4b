"""Per-turn voice latency: endpoint -> transcript -> first LLM token -> first audio out, logged and tabled."""

from __future__ import annotations

import logging
from dataclasses import dataclass

log = logging.getLogger(__name__)

HEADERS = ["turn", "speech s", "transcript ms", "first token ms", "first audio ms", "outcome"]


@dataclass
class TurnLatency:
    """Clock times (time.monotonic) of one turn's stages; the table shows each as ms after the endpoint."""

    number: int
    endpoint_at: float  # the pause that ended the user's turn was detected
    speech_s: float  # how long the utterance was
    transcript_at: float | None = None
    first_token_at: float | None = None
    first_audio_at: float | None = None  # the first 20 ms of the reply left for the speaker
    outcome: str = ""

    def ms(self, at: float | None) -> int | None:
        return None if at is None else round((at - self.endpoint_at) * 1000)

    def row(self) -> list[object]:
        return [
            self.number,
            round(self.speech_s, 1),
            self.ms(self.transcript_at),
            self.ms(self.first_token_at),
            self.ms(self.first_audio_at),
            self.outcome,
        ]

    def log(self) -> None:
        # Timings only: what was said stays out of the logs.
        log.info(
            "voice turn %d: %.1f s of speech; after the endpoint: transcript %s ms, first token %s ms, "
            "first audio %s ms; %s",
            self.number,
            self.speech_s,
            self.ms(self.transcript_at),
            self.ms(self.first_token_at),
            self.ms(self.first_audio_at),
            self.outcome,
        )
