"""A conservative token estimate: it may overcount, it must not undercount, so prompts fit the context."""

from __future__ import annotations

import math

# Per-message overhead of chat templates (role markers, separators).
MESSAGE_OVERHEAD_TOKENS = 4


def estimate_tokens(text: str) -> int:
    """Tokens `text` may cost: ~3 ASCII characters per token, and every non-ASCII byte counted as one
    (byte-fallback tokenizers spend up to one token per byte on emoji and rare scripts)."""
    # (Counted in C, not per character in Python: every turn counts the whole history, on the voice reply's path.)
    ascii_chars = len(text.encode("ascii", "ignore"))
    non_ascii_bytes = len(text.encode("utf-8")) - ascii_chars
    return math.ceil(ascii_chars / 3) + non_ascii_bytes


def message_tokens(text: str) -> int:
    return estimate_tokens(text) + MESSAGE_OVERHEAD_TOKENS


def truncate_to_tokens(text: str, max_tokens: int) -> str:
    """Keep the start and the end of `text` within max_tokens, marking what was cut."""
    if estimate_tokens(text) <= max_tokens:
        return text
    marker_budget = 16
    keep = max(0, max_tokens - marker_budget)
    # Binary search on characters: estimate_tokens is monotonic in prefix length.
    low, high = 0, len(text)
    while low < high:
        mid = (low + high + 1) // 2
        head, tail = text[: mid // 2], text[len(text) - (mid - mid // 2) :]
        if estimate_tokens(head) + estimate_tokens(tail) <= keep:
            low = mid
        else:
            high = mid - 1
    head, tail = text[: low // 2], text[len(text) - (low - low // 2) :] if low else ""
    omitted = len(text) - len(head) - len(tail)
    return f"{head}\n[… {omitted} characters omitted …]\n{tail}"
