"""Long-term memory: what is stored (write policy), what comes back (recall), and the user's edits.

Write policy, per conversation, off the reply path (`schedule_write`):
1. the messages after the conversation's watermark are cut into raw chunks of 3-6 messages
   (chunking.py), each passed through the sensitive-information filter and stored as a persona
   memory, the watermark moving with it in the same transaction (never chunked twice);
2. each chunk is distilled into cards by the LLM (distill.py); a card that needed redaction is
   dropped (a card about a password is worthless once the password is gone); a card within cosine
   `dedupe_threshold` of an existing card of the same scope/persona updates that card instead.
Profile cards are seen by every persona, so under a 'permissive' persona a card holding contact
details is kept with that persona only.

A scene is remembered by each character that witnessed it, in its own scope (witnesses.py).

Recall is hybrid (sign-bit KNN re-scored exactly + FTS5 BM25, fused by RRF, gently boosted by importance
and recency; ranking.py), scoped to user-global memories and the asking persona's, capped by count and tokens.
Pinned memories are always recalled first (up to half of k): pinning means "always keep in mind".
"""

from avatar.memory.edits import MemoryEdits
from avatar.memory.lore import LoreSync
from avatar.memory.recall import MemoryRecall
from avatar.memory.witnesses import WitnessWriting


class MemoryService(MemoryEdits, LoreSync, MemoryRecall, WitnessWriting):
    """Every memory operation, one object: each job lives in its own module (edits, lore, recall, writing;
    the shared state in core.py)."""
