"""A voice reply started before the user's turn is certain, and how that turn is kept or taken back."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


@dataclass
class Speculation:
    """A voice reply started before the user's turn is certain (they may go on talking).

    The user's words are saved first, as always, but the turn only stands once `commit()` says the reply is
    about to be heard; `discard()` before that withdraws it: the user's message is removed again and no
    reply is saved, so the turn leaves nothing behind.
    """

    user_message_id: str | None = None
    committed: bool = False
    discarded: bool = False
    written: bool = False  # the reply's outcome is being saved: too late to take the turn back
    # The voice handler's thread withdraws while the flow writes the reply: the two must not interleave.
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)

    def commit(self) -> bool:
        """The reply is about to be heard: the turn stands. False if it was discarded."""
        with self._lock:
            if not self.discarded:
                self.committed = True
            return self.committed

    def write(self) -> bool:
        """The reply is over and about to be saved: whether the turn stands. Either way it is final now."""
        with self._lock:
            self.written = True
            return self.commit()

    def discard(self) -> None:
        """The user went on talking: nothing of this turn is to be kept."""
        if not self.committed:
            self.discarded = True

    def withdraw(self) -> bool:
        """Committed, but the reply was stopped before a word of it was heard: the user was still talking after
        all. The turn is taken back as if discarded (the handler hears their words again with what followed).
        False once the reply is saved: the turn stands then (taken back, the user's words would be kept
        twice, their message not being the newest any more)."""
        with self._lock:
            if self.written:
                return False
            self.committed, self.discarded = False, True
            return True
