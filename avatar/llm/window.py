"""Where the conversation window starts: the oldest messages are dropped in big steps, not one per turn.

A model server keeps the previous prompt in its KV cache and reuses the longest shared prefix. Dropping
one old message per turn shifts the start of the history on every turn, so the whole history is
evaluated again each time. Here the cut only ever lands on a few fixed points: the first message at
which the running token count of the conversation reaches a multiple of `step` (a fraction of the
budget). The cut moves to the next point only when the history no longer fits, which leaves the
window at 60-100 % of the budget after each move, and the prompt's prefix the same for the many
turns in between. The points depend only on the messages before them, so the same history always
gives the same cut: across turns, restarts and processes.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from itertools import accumulate

# Each cut drops at least this fraction of the budget: afterwards the window is 60-100 % of it.
STEP_FRACTION = 0.4


def window_start(costs: Sequence[int], budget: int, step_fraction: float = STEP_FRACTION) -> int:
    """Index of the first message to keep, given each message's token cost (oldest first, the newest
    last) and what the history may use. The newest message is always kept, whatever it costs."""
    if len(costs) <= 1 or sum(costs) <= budget:
        return 0
    step = max(1, int(budget * step_fraction))
    before = [0, *accumulate(costs)]  # before[i]: tokens of the messages older than message i
    total = before[-1]
    newest = len(costs) - 1
    # The smallest multiple of `step` to drop that makes the rest fit.
    steps = max(1, -(-(total - budget) // step))
    while True:
        start = bisect_left(before, steps * step, hi=newest)
        if start >= newest or total - before[start] <= budget:
            return min(start, newest)
        steps += 1
