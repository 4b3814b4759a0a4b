"""What a real local model server charges, for the fake one: a KV cache of the last prompts, time per
prompt token it has to evaluate, time per generated token, and loading the model.

Ollama, llama.cpp server and vLLM keep each slot's last sequence (prompt + generated reply) in a KV
cache and evaluate again only what follows the longest prefix a new prompt shares with it. A server with
one slot (Ollama's default) holds one sequence: any other request in between (a memory-card call)
replaces it. Loading a model, or Ollama reloading it because `num_ctx` changed, empties the cache.

Tokens here are word-sized pieces of the prompt rendered through a Llama-3-style chat template: about
the granularity of a real tokenizer, and a change anywhere in a message changes the tokens from there on,
as it does for a real one.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

DEFAULT_NUM_CTX = 4096  # Ollama's context length when a request does not set num_ctx
SLOT_SIMILARITY = 0.5
TOKEN = re.compile(r"<\|[a-z_]+\|>| ?[A-Za-z]+| ?[0-9]{1,3}| ?[^\sA-Za-z0-9]|\s+")


def count_tokens(text: str) -> list[str]:
    return TOKEN.findall(text)


def render_chat(messages: list[dict[str, Any]]) -> str:
    """The prompt as a Llama 3 chat template lays it out, ending where the reply begins."""
    parts = [
        f"<|start_header_id|>{m.get('role', 'user')}<|end_header_id|>\n\n{m.get('content') or ''}<|eot_id|>"
        for m in messages
    ]
    return "<|begin_of_text|>" + "".join(parts) + "<|start_header_id|>assistant<|end_header_id|>\n\n"


def keep_alive_seconds(value: object, default_s: float = 300.0) -> float | None:
    """Ollama's keep_alive: a duration ("5m", "1h", "30s"), seconds as a number; negative: for ever (None)."""
    if value is None or value == "":
        return default_s
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        match = re.fullmatch(r"\s*(-?[0-9.]+)\s*(ms|s|m|h)?\s*", str(value))
        if match is None:
            return default_s
        number, unit = float(match.group(1)), match.group(2) or "s"
        seconds = number * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]
    return None if seconds < 0 else seconds


@dataclass
class Rates:
    """Seconds the fake server spends, as a real one would (zero: instant, the default for tests)."""

    prefill_s_per_token: float = 0.0
    decode_s_per_token: float = 0.0
    load_s: float = 0.0


@dataclass
class CacheUse:
    """One chat request as the server saw it: tokens in the prompt, how many came from the cache."""

    model: str
    prompt_tokens: int
    cached_tokens: int
    slot: int
    loaded: bool  # the model had to be loaded first
    structured: bool  # a structured-output request (memory cards)
    warm_up: bool = False  # the app putting a prompt into the cache (one token, nobody reads it)
    at: float = field(default_factory=time.perf_counter)
    charged_s: float = 0.0  # with virtual time: what loading and evaluating the prompt would have taken

    @property
    def evaluated_tokens(self) -> int:
        return self.prompt_tokens - self.cached_tokens


@dataclass
class Slot:
    tokens: list[str] = field(default_factory=list)
    used_at: float = 0.0


class ModelMemory:
    """The loaded model (one at a time), its options, when it unloads, and its slots' KV caches."""

    def __init__(self, slots: int = 1) -> None:
        self.slot_count = slots
        self.model: str | None = None
        self.num_ctx: object = None
        self.expires_at: float | None = None
        self.slots = [Slot() for _ in range(slots)]

    def loaded(self, model: str) -> bool:
        if self.model is not None and self.expires_at is not None and time.monotonic() >= self.expires_at:
            self.unload()
        return self.model == model

    def unload(self) -> None:
        self.model, self.num_ctx, self.expires_at = None, None, None
        self.slots = [Slot() for _ in range(self.slot_count)]

    def load(self, model: str, num_ctx: object) -> bool:
        """Make `model` the loaded one with these options; True when that meant (re)loading it. A request
        without num_ctx gets the server's default, and a different num_ctx reloads the model (Ollama does)."""
        num_ctx = num_ctx or DEFAULT_NUM_CTX
        if self.loaded(model) and num_ctx == self.num_ctx:
            return False
        self.unload()
        self.model, self.num_ctx = model, num_ctx
        return True

    def keep(self, keep_alive: object) -> None:
        seconds = keep_alive_seconds(keep_alive)
        self.expires_at = None if seconds is None else time.monotonic() + seconds

    def take_slot(self, tokens: list[str]) -> tuple[int, int]:
        """(slot, cached tokens): the slot sharing the longest prefix with `tokens` when that is at least half
        the prompt (llama.cpp server's --slot-prompt-similarity 0.5), else the least recently used one."""
        best, best_shared = 0, -1
        for index, slot in enumerate(self.slots):
            shared = shared_prefix(slot.tokens, tokens)
            if shared > best_shared:
                best, best_shared = index, shared
        if len(self.slots) > 1 and best_shared < SLOT_SIMILARITY * len(tokens):
            best = min(range(len(self.slots)), key=lambda i: self.slots[i].used_at)
            best_shared = shared_prefix(self.slots[best].tokens, tokens)
        # A prompt that is all cache still evaluates its last token (llama.cpp and Ollama do).
        return best, min(best_shared, max(0, len(tokens) - 1))

    def store(self, slot: int, tokens: list[str]) -> None:
        self.slots[slot] = Slot(list(tokens), time.perf_counter())


def shared_prefix(a: list[str], b: list[str]) -> int:
    count = 0
    for x, y in zip(a, b):
        if x != y:
            break
        count += 1
    return count
