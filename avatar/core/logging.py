"""Logging setup, and the one rule about message text: it stays out of the logs unless the user opts in."""

from __future__ import annotations

import logging

_log_prompts = False


def configure_logging(level: str = "INFO", log_prompts: bool = False) -> None:
    global _log_prompts
    _log_prompts = log_prompts
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # httpx logs every request line at INFO; that is noise for a chat app.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # At DEBUG the WebRTC stack logs every 20 ms packet both ways (thousands of lines a minute, and slower calls):
    # the app's own debug lines are what a debug log is for.
    for chatty in ("aiortc", "aioice", "fastrtc"):
        logging.getLogger(chatty).setLevel(max(logging.INFO, logging.getLevelName(level.upper())))
    # huggingface_hub prints through a handler of its own when it is imported; propagating as well
    # would print every one of its warnings twice.
    logging.getLogger("huggingface_hub").propagate = False


def private(text: str) -> str:
    """What a log line may say about user or model text: the text itself only with --log-prompts."""
    if _log_prompts:
        return repr(text)
    return f"<{len(text)} chars>"
