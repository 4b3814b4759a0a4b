"""A scene's reply stays one character's: a name in front of it is taken off, and the reply ends where the
model starts writing another character's (or the user's) line, as models in group chats tend to."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence

# "Vega:", "**Vega:**", "**Vega**:" at the start of a line
_LABEL = r"[ \t]*(?:\*\*)?(?:{names})(?:\*\*)?[ \t]*:(?:\*\*)?"


def _alternatives(names: Sequence[str]) -> str:
    return "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))


class SpeakerGuard:
    """`own_names`: what the speaker is called ("Professor Quill", "Quill"); `other_names`: everyone else's."""

    def __init__(self, own_names: Sequence[str], other_names: Sequence[str]) -> None:
        own = [n for n in own_names if n.strip()]
        others = [n for n in other_names if n.strip()]
        self._own = re.compile(r"^\s*" + _LABEL.format(names=_alternatives(own)) + r"\s*", re.IGNORECASE)
        self._other = re.compile(r"\n" + _LABEL.format(names=_alternatives(others)), re.IGNORECASE) if others else None
        self._longest = max(len(n) for n in [*own, *others]) + 8

    async def __call__(self, stream: AsyncIterator[str]) -> AsyncIterator[str]:
        text, sent = "", 0
        try:
            async for piece in stream:
                text += piece
                if sent == 0:
                    if self._undecided(text):
                        continue  # may still become "Own name:"
                    text = self._own.sub("", text, count=1).lstrip()
                cut = self._other.search(text) if self._other else None
                if cut is not None:
                    end = len(text[: cut.start()].rstrip())
                    if end > sent:
                        yield text[sent:end]
                    return  # closing the stream stops the model
                end = self._safe_end(text)
                if end > sent:
                    yield text[sent:end]
                    sent = end
            if sent == 0:
                text = self._own.sub("", text, count=1).lstrip()
            if len(text) > sent:
                yield text[sent:]
        finally:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()

    def _undecided(self, text: str) -> bool:
        """The start could still turn out to be the speaker's own name and a colon."""
        start = text.lstrip()
        return len(start) < self._longest and "\n" not in start and ":" not in start

    def _safe_end(self, text: str) -> int:
        """How much can be shown: all but a last line that might still become another's "Name:"."""
        line_start = text.rfind("\n")
        if line_start < 0:
            return len(text)
        tail = text[line_start + 1 :]
        if len(tail) < self._longest and ":" not in tail:
            return line_start
        return len(text)
